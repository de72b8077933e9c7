from pathlib import Path

import numpy as np
import pytest

from oncofusion.config import CohortParams
from oncofusion.data.assembly import fixed_bins
from oncofusion.data.decisions import Decisions
from oncofusion.data.segments.build import segments_cohort
from oncofusion.errors import CohortError

from ..conftest import SHARED_DIR

MB = 1_000_000
HEADER = "biosample_id\treference_name\tstart\tend\tlog2\tvariant_type\n"
META = (
    "#meta=>assemblyId=GRCh38\n"
    "#biosample_id=>biosample_id=s1;group_id=NCIT:C3512;group_label=Lung adenocarcinoma\n"
    "#biosample_id=>biosample_id=s2;group_id=NCIT:C4004;group_label=Gastric Adenocarcinoma\n"
)


def _pgxseg(tmp_path: Path, rows: list[str], meta: str = META) -> Path:
    path = tmp_path / "cohort.pgxseg"
    path.write_text(meta + HEADER + "".join(r + "\n" for r in rows))
    return path


def _params(path: Path, **segments: object) -> CohortParams:
    return CohortParams.model_validate(
        {"source": "segments", "name": "cnv", "path": path.name, "segments": {"include_x": False, **segments}}
    )


def _build(tmp_path: Path, rows: list[str], meta: str = META, **segments: object):
    path = _pgxseg(tmp_path, rows, meta)
    decisions = Decisions()
    cohort, stats = segments_cohort(_params(path, **segments), tmp_path, decisions)
    return cohort, stats, decisions


def _bin(cohort, sample: str, channel: str, chrom: str, index: int) -> float:
    frame = cohort.modalities["cna"]
    start = index * MB
    column = next(c for c in frame.columns if c.startswith(f"{channel}:chr{chrom}:{start}-"))
    return float(frame.loc[sample, column])


def test_bins_are_length_weighted_means_computed_by_hand(tmp_path: Path):
    rows = [
        "s1\t1\t0\t1500000\t1.0\tDUP",  # bin 0 fully, bin 1 half
        "s1\tchr1\t1500000\t2000000\t-1.0\tDEL",  # the other half of bin 1
        "s1\t1\t2250000\t2500000\t0.4\tDUP",  # a quarter of bin 2; the rest uncovered
        "s2\t2\t0\t3000000\t-0.5\tDEL",
    ]
    cohort, stats, _ = _build(tmp_path, rows)
    assert _bin(cohort, "s1", "log2", "1", 0) == pytest.approx(1.0)
    assert _bin(cohort, "s1", "log2", "1", 1) == pytest.approx(0.0)  # (0.5·1 + 0.5·-1) / 1
    assert _bin(cohort, "s1", "log2", "1", 2) == pytest.approx(0.4)  # mean over covered bases only
    assert np.isnan(_bin(cohort, "s1", "log2", "1", 3))  # no segment: NaN, not 0
    assert np.isnan(_bin(cohort, "s1", "log2", "2", 0))
    assert _bin(cohort, "s2", "log2", "2", 2) == pytest.approx(-0.5)
    assert [_bin(cohort, "s1", "call", "1", i) for i in range(3)] == [1.0, 0.0, 1.0]
    assert _bin(cohort, "s2", "call", "2", 0) == -1.0
    assert np.isnan(_bin(cohort, "s1", "call", "1", 3))
    n_bins = len(fixed_bins(MB, "grch38", include_x=False))
    assert cohort.modalities["cna"].shape == (2, 2 * n_bins)
    spec = cohort.meta.modalities["cna"]
    assert spec.kind == "genomic" and spec.channels == 2 and spec.domain.max_nan_fraction == 1.0
    assert stats["uncovered_bin_fraction"] == pytest.approx(1 - 6 / (2 * n_bins))
    assert cohort.classes == ["NCIT:C3512", "NCIT:C4004"]
    assert cohort.labels.set_index("sample_id").loc["s1", "group_label"] == "Lung adenocarcinoma"


def test_label_from_group_label_and_fill_uncovered(tmp_path: Path):
    cohort, _, _ = _build(
        tmp_path,
        ["s1\t1\t0\t10\t1\tDUP", "s2\t1\t0\t10\t1\tDUP"],
        label_from="group_label",
        fill_uncovered=0.0,
    )
    assert cohort.classes == ["Gastric Adenocarcinoma", "Lung adenocarcinoma"]
    assert _bin(cohort, "s1", "log2", "5", 0) == 0.0 and _bin(cohort, "s1", "call", "5", 0) == 0.0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("s1\t1\t500\t100\t1\tDUP", r"cohort\.pgxseg:5: segment start 500 is after its end 100"),
        (
            "s1\t1\t0\t248956423\t1\tDUP",
            r":5: segment end 248956423 is beyond chromosome 1's length 248956422",
        ),
        ("s1\tchrUn_gl000220\t0\t10\t1\tDUP", r":5: unknown chromosome name 'chrUn_gl000220'"),
        ("s1\t1\tten\t100\t1\tDUP", r":5: column 'start' is not a number: 'ten'"),
    ],
)
def test_bad_segments_name_their_line(tmp_path: Path, row: str, message: str):
    with pytest.raises(CohortError, match=message):
        _build(tmp_path, [row, "s2\t1\t0\t10\t1\tDUP"])


def test_assembly_decides_the_chromosome_lengths(tmp_path: Path):
    rows = ["s1\t1\t0\t249000000\t1\tDUP", "s2\t1\t0\t10\t1\tDUP"]  # fits GRCh37's chr1, not GRCh38's
    with pytest.raises(CohortError, match="GRCh38"):
        _build(tmp_path, rows)
    cohort, _, _ = _build(tmp_path, rows, assembly="GRCh37")
    assert cohort.meta.provenance["assembly"] == "GRCh37"
    assert _bin(cohort, "s1", "log2", "1", 248) == 1.0


def test_overlapping_segments_are_an_error_or_the_later_line_wins(tmp_path: Path):
    rows = ["s1\t1\t0\t2000000\t1.0\tDUP", "s1\t1\t1000000\t3000000\t-1.0\tDEL", "s2\t1\t0\t10\t1\tDUP"]
    with pytest.raises(CohortError, match=r":6: segment 1:1000000-3000000 of sample 's1' overlaps"):
        _build(tmp_path, rows)
    cohort, _, decisions = _build(tmp_path, rows, overlaps="later")
    assert _bin(cohort, "s1", "log2", "1", 0) == 1.0
    assert _bin(cohort, "s1", "log2", "1", 1) == -1.0  # the later line wins where they overlap
    assert any("overlapping" in d["decision"] and d["count"] == 1 for d in decisions.items)


def test_sex_chromosomes_and_valueless_segments_are_counted_not_silently_dropped(tmp_path: Path):
    rows = [
        "s1\tchrX\t0\t10\t1\tDUP",
        "s1\tY\t0\t10\t1\tDUP",
        "s1\t1\t0\t10\t\tLOH",
        "s1\t1\t0\t10\t1\tDUP",
        "s2\t23\t0\t10\t1\tDUP",
        "s2\t1\t0\t10\t1\tDUP",
    ]
    _, _, decisions = _build(tmp_path, rows)
    counts = {d["decision"].split(" (")[0]: d["count"] for d in decisions.items}
    assert counts["segments on chromosome X excluded"] == 2  # chrX and 23
    assert counts["segments on chromosome Y excluded"] == 1
    assert counts["segments without a log2 value excluded"] == 1
    cohort, _, _ = _build(tmp_path, rows, include_x=True)
    assert _bin(cohort, "s2", "log2", "X", 0) == 1.0


def test_sample_empty_after_filtering_is_an_error_or_a_counted_drop(tmp_path: Path):
    rows = ["s1\tY\t0\t10\t1\tDUP", "s2\t1\t0\t10\t1\tDUP"]
    with pytest.raises(CohortError, match=r"no values in any modality.*s1"):
        _build(tmp_path, rows)
    path = _pgxseg(tmp_path, rows)
    decisions = Decisions()
    params = _params(path).model_copy(update={"empty_samples": "drop"})
    cohort, _ = segments_cohort(params, tmp_path, decisions)
    assert cohort.sample_ids == ["s2"]
    assert any("no data" in d["decision"] and d["count"] == 1 for d in decisions.items)


def test_igv_seg_with_a_labels_file(tmp_path: Path):
    (tmp_path / "cnv.seg").write_text(
        "ID\tchrom\tloc.start\tloc.end\tnum.mark\tseg.mean\n"
        "TCGA-1\tchr1\t1\t2000000\t120\t0.8\n"
        "TCGA-2\tchr1\t1\t2000000\t120\t-0.8\n"
    )
    (tmp_path / "labels.tsv").write_text("sample_id\tlabel\nTCGA-1\tBRCA\nTCGA-2\tLUAD\n")
    params = CohortParams.model_validate(
        {"source": "segments", "path": ".", "segments": {"labels": "labels.tsv", "assembly": "GRCh37"}}
    )
    cohort, _ = segments_cohort(params, tmp_path, Decisions())
    assert cohort.classes == ["BRCA", "LUAD"]
    assert _bin(cohort, "TCGA-2", "log2", "1", 1) == pytest.approx(-0.8)
    assert _bin(cohort, "TCGA-2", "call", "1", 1) == -1.0


def test_seg_without_assembly_must_be_told(tmp_path: Path):
    (tmp_path / "cnv.seg").write_text(
        "ID\tchrom\tloc.start\tloc.end\tnum.mark\tseg.mean\nA\t1\t1\t9\t1\t0.1\n"
    )
    (tmp_path / "labels.csv").write_text("sample_id,label\nA,x\n")
    params = CohortParams.model_validate(
        {"source": "segments", "path": "cnv.seg", "segments": {"labels": "labels.csv"}}
    )
    with pytest.raises(CohortError, match=r"set cohort\.segments\.assembly"):
        segments_cohort(params, tmp_path, Decisions())


PGXSEG = SHARED_DIR / "data" / "progenetix" / "tp53-cellline-example.pgxseg"


@pytest.mark.skipif(not PGXSEG.exists(), reason="../shared/data is not present")
def test_real_progenetix_export_bins_44_samples_with_their_diagnoses():
    params = CohortParams.model_validate(
        {"source": "segments", "path": str(PGXSEG), "segments": {"overlaps": "later"}}
    )
    decisions = Decisions()
    cohort, stats = segments_cohort(params, Path("/"), decisions)
    assert len(cohort.labels) == 44 and cohort.modalities["cna"].shape[0] == 44
    labels = cohort.labels.set_index("sample_id")
    assert labels.loc["pgxbs-kftvieb9", "label"] == "NCIT:C7270"
    assert labels.loc["pgxbs-kftvjszz", "group_label"] == "Acute Myeloid Leukemia Not Otherwise Specified"
    assert labels["label"].str.startswith("NCIT:C").all() and labels["label"].nunique() == 27
    assert cohort.meta.provenance["assembly"] == "GRCh38"
    assert stats["bins"] == len(fixed_bins(MB, "grch38", include_x=True))
    assert 0.0 < stats["uncovered_bin_fraction"] < 1.0
    counts = {d["decision"].split(" (")[0]: d["count"] for d in decisions.items}
    assert counts["segments on chromosome Y excluded"] == 411
    assert counts["segments without a log2 value excluded"] == 427  # the LOH calls


def test_bycon_sample_lines_with_quotes_and_a_byte_order_mark(tmp_path: Path):
    meta = (
        "#meta=>assemblyId=GRCh38\n"
        '#sample=>id=s1;group_id=NCIT:C3512;group_label="Lung Adenocarcinoma"\n'
        '#sample=>id=s2;group_id=NCIT:C4004;group_label="Gastric Adenocarcinoma"\n'
    )
    path = tmp_path / "c.pgxseg"
    path.write_bytes((meta + HEADER + "s1\t1\t0\t10\t1\tDUP\ns2\t1\t0\t10\t1\tDUP\n").encode("utf-8-sig"))
    params = CohortParams.model_validate(
        {"source": "segments", "path": "c.pgxseg", "segments": {"label_from": "group_label"}}
    )
    cohort, _ = segments_cohort(params, tmp_path, Decisions())
    assert cohort.classes == ["Gastric Adenocarcinoma", "Lung Adenocarcinoma"]


def test_a_sample_with_na_diagnosis_is_reported(tmp_path: Path):
    meta = "#meta=>assemblyId=GRCh38\n#sample=>id=s1;group_id=NA\n"
    with pytest.raises(CohortError, match=r"without group_id for \['s1'\]"):
        _build(tmp_path, ["s1\t1\t0\t10\t1\tDUP"], meta=meta)


def test_infinite_log2_is_an_error_naming_the_line(tmp_path: Path):
    with pytest.raises(CohortError, match=r":5: column 'log2' is '-Inf'"):
        _build(tmp_path, ["s1\t1\t0\t10\t-Inf\tDEL", "s2\t1\t0\t10\t1\tDUP"])


def test_seg_is_one_based_inclusive_and_accepts_r_style_numbers(tmp_path: Path):
    (tmp_path / "cnv.seg").write_text(
        "ID\tchrom\tloc.start\tloc.end\tnum.mark\tseg.mean\nA\t1\t1e+06\t1000000\t1\t0.9\nB\t1\t1\t10\t1\t0.1\n"
    )
    (tmp_path / "labels.csv").write_text("sample_id,label\nA,x\nB,y\n")
    params = CohortParams.model_validate(
        {"source": "segments", "path": ".", "segments": {"labels": "labels.csv", "assembly": "GRCh38"}}
    )
    cohort, _ = segments_cohort(params, tmp_path, Decisions())
    # 1-based [1e6, 1e6] is the single base 999,999 (0-based): the last base of bin 0, not bin 1.
    assert _bin(cohort, "A", "log2", "1", 0) == pytest.approx(0.9)
    assert np.isnan(_bin(cohort, "A", "log2", "1", 1))


def test_seg_without_a_log2_column_is_refused(tmp_path: Path):
    (tmp_path / "cnv.seg").write_text(
        "GDC_Aliquot\tChromosome\tStart\tEnd\tCopy_Number\tMajor_Copy_Number\tMinor_Copy_Number\n"
        "A\t1\t1\t10\t2\t1\t1\n"
    )
    params = CohortParams.model_validate(
        {"source": "segments", "path": "cnv.seg", "segments": {"labels": "l.csv", "assembly": "GRCh38"}}
    )
    with pytest.raises(CohortError, match="no log2 column"):
        segments_cohort(params, tmp_path, Decisions())


def test_fill_uncovered_makes_a_sample_without_segments_copy_neutral_and_counts_it(tmp_path: Path):
    cohort, _, decisions = _build(tmp_path, ["s2\t1\t0\t10\t1\tDUP"], fill_uncovered=0.0)
    assert "s1" in cohort.sample_ids and _bin(cohort, "s1", "log2", "1", 0) == 0.0
    assert any("filled with 0" in d["decision"] and d["examples"] == ["s1"] for d in decisions.items)


def test_cohort_path_may_be_the_directory_holding_the_file_and_its_labels(tmp_path: Path):
    directory = tmp_path / "cnv"
    directory.mkdir()
    _pgxseg(directory, ["s1\t1\t0\t10\t1\tDUP", "s2\t1\t0\t10\t1\tDUP"])
    (directory / "labels.csv").write_text("sample_id,label\ns1,LUAD\ns2,STAD\n")
    cohort, _ = segments_cohort(
        CohortParams.model_validate({"source": "segments", "path": "cnv"}), tmp_path, Decisions()
    )
    assert cohort.sample_ids == ["s1", "s2"] and cohort.classes == ["NCIT:C3512", "NCIT:C4004"]
    with_labels = {"source": "segments", "path": "cnv", "segments": {"labels": "labels.csv"}}
    cohort, _ = segments_cohort(CohortParams.model_validate(with_labels), tmp_path, Decisions())
    assert cohort.classes == ["LUAD", "STAD"]
    # A labels file beside a cohort.path that names the segment file would escape DVC's tracking.
    with_labels["path"] = "cnv/cohort.pgxseg"
    with pytest.raises(CohortError, match=r"point cohort\.path at the directory"):
        segments_cohort(CohortParams.model_validate(with_labels), tmp_path, Decisions())
    with_labels.update(path="cnv", segments={"labels": "../elsewhere.csv"})
    with pytest.raises(CohortError, match=r"outside cohort\.path"):
        segments_cohort(CohortParams.model_validate(with_labels), tmp_path, Decisions())


def test_header_diagnoses_differing_only_in_case_are_an_error(tmp_path: Path):
    meta = (
        "#meta=>assemblyId=GRCh38\n"
        "#biosample_id=>biosample_id=s1;group_id=X;group_label=Lung adenocarcinoma\n"
        "#biosample_id=>biosample_id=s2;group_id=Y;group_label=Lung Adenocarcinoma\n"
    )
    with pytest.raises(CohortError, match="differ only in case"):
        _build(
            tmp_path, ["s1\t1\t0\t10\t1\tDUP", "s2\t1\t0\t10\t1\tDUP"], meta=meta, label_from="group_label"
        )


def test_seg_errors_quote_the_files_own_coordinates(tmp_path: Path):
    (tmp_path / "cnv.seg").write_text(
        "ID\tchrom\tloc.start\tloc.end\tnum.mark\tseg.mean\nA\t1\t100\t50\t1\t0.1\n"
    )
    (tmp_path / "labels.csv").write_text("sample_id,label\nA,x\n")
    params = CohortParams.model_validate(
        {"source": "segments", "path": ".", "segments": {"assembly": "GRCh38", "labels": "labels.csv"}}
    )
    with pytest.raises(CohortError, match="start 100 is after its end 50"):
        segments_cohort(params, tmp_path, Decisions())


def test_a_segments_cohort_passes_the_gate_with_its_uncovered_bins(tmp_path: Path):
    from oncofusion.config import ValidateParams
    from oncofusion.validation.gate import run_gate

    cohort, _, _ = _build(tmp_path, ["s1\t1\t0\t10\t1\tDUP", "s2\t2\t0\t10\t-1\tDEL"])
    cohort.save(tmp_path / "cohort")
    report = run_gate(tmp_path / "cohort", ValidateParams(require_complete_modalities=False))
    assert report.passed, report.console_text()


def test_a_padded_sample_id_on_a_segment_line_is_a_counted_decision(tmp_path: Path):
    """Header values (`#biosample_id=>k=v; k=v`) are parsed with the spaces around separators; a space
    inside a tab-separated data line is not format, so reading it as `s1` is counted."""
    rows = ["s1 \t1\t0\t1000000\t0.5\tDUP", "s1\t2\t0\t1000000\t0.5\tDUP", "s2\t1\t0\t1000000\t-0.5\tDEL"]
    cohort, _, decisions = _build(tmp_path, rows)
    assert _bin(cohort, "s1", "log2", "1", 0) == pytest.approx(0.5)  # "s1 " is s1
    counted = {d["decision"]: d for d in decisions.items}
    ids = counted["cohort.pgxseg: sample IDs trimmed of surrounding whitespace (distinct IDs)"]
    assert ids["count"] == 1 and ids["examples"] == ["'s1 '"]
