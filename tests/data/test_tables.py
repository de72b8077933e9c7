from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.config import CohortParams
from oncofusion.data.decisions import Decisions
from oncofusion.data.tables.build import tables_cohort
from oncofusion.errors import CohortError


def _write(directory: Path, labels: str, **modalities: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "labels.csv").write_text(labels)
    for name, text in modalities.items():
        (directory / name).write_text(text)


LABELS = "sample_id,label,age\nS1,A,50\nS2,A,61\nS3,B,70\nS4,B,44\n"
RNA = "gene\tS1\tS2\tS3\tS4\nG1\t10\t0\t5\t7\nG2\t1\t2\t3\t4\n"  # features × samples
PROTEIN = "sample_id,P1,P2\nS1,0.5,1.5\nS3,2.5,3.5\n"  # only two samples measured


def _params(**changes: object) -> CohortParams:
    raw: dict = {
        "source": "tables",
        "name": "mine",
        "path": "in",
        "tables": {
            "modalities": {
                "rna": {"file": "rna.tsv", "orientation": "features_by_samples", "transform": "log1p"},
                "protein": {"kind": "tabular"},
            }
        },
    }
    raw.update(changes)
    return CohortParams.model_validate(raw)


def test_tables_become_an_aligned_cohort(tmp_path: Path):
    _write(tmp_path / "in", LABELS, **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    cohort = tables_cohort(_params(), tmp_path, Decisions())
    assert cohort.classes == ["A", "B"]
    assert cohort.labels.columns.tolist() == ["sample_id", "label", "age"]
    rna, protein = cohort.modalities["rna"], cohort.modalities["protein"]
    assert rna.index.tolist() == ["S1", "S2", "S3", "S4"] and rna.columns.tolist() == ["G1", "G2"]
    assert rna.loc["S2", "G1"] == 0.0 and rna.dtypes.eq(np.float32).all()
    assert protein.index.tolist() == ["S1", "S3"]  # a partial modality: the model masks it for S2, S4
    spec = cohort.meta.modalities["rna"]
    assert spec.transform == "log1p" and spec.domain.min == 0.0  # log1p needs non-negative values
    assert cohort.meta.provenance["source"] == "tables"
    assert set(cohort.meta.provenance["files"]) == {"labels.csv", "rna.tsv", "protein.csv"}


def test_cohort_from_tables_saves_and_loads(tmp_path: Path):
    from oncofusion.cohort import Cohort

    _write(tmp_path / "in", LABELS, **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    tables_cohort(_params(), tmp_path, Decisions()).save(tmp_path / "cohort")
    loaded = Cohort.load(tmp_path / "cohort")
    assert loaded.meta.modalities["rna"].transform == "log1p"
    assert len(loaded.modalities["protein"]) == 2


def test_unknown_sample_ids_stop_the_ingest_with_a_case_hint(tmp_path: Path):
    protein = "sample_id,P1\nS1,1\ns3,2\nS9,3\n"
    _write(tmp_path / "in", LABELS, **{"rna.tsv": RNA, "protein.csv": protein})
    with pytest.raises(CohortError) as caught:
        tables_cohort(_params(), tmp_path, Decisions())
    message = str(caught.value)
    assert "2 sample ID(s) not in labels.csv" in message and "'S9'" in message
    assert "differ only in case" in message and "'s3'→'S3'" in message


def test_unknown_samples_can_be_dropped_and_are_counted(tmp_path: Path):
    protein = "sample_id,P1\nS1,1\nS9,3\n"
    _write(tmp_path / "in", LABELS, **{"rna.tsv": RNA, "protein.csv": protein})
    decisions = Decisions()
    cohort = tables_cohort(_params(unknown_samples="drop"), tmp_path, decisions)
    assert cohort.modalities["protein"].index.tolist() == ["S1"]
    assert decisions.items[0]["count"] == 1 and decisions.items[0]["examples"] == ["S9"]
    assert cohort.meta.provenance["decisions"] == decisions.items


def test_labelled_sample_without_any_data_is_an_error_or_a_counted_drop(tmp_path: Path):
    labels = LABELS + "S5,B,33\n"
    _write(tmp_path / "in", labels, **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    with pytest.raises(CohortError, match=r"1 labelled sample\(s\) have no values in any modality.*S5"):
        tables_cohort(_params(), tmp_path, Decisions())
    decisions = Decisions()
    cohort = tables_cohort(_params(empty_samples="drop"), tmp_path, decisions)
    assert "S5" not in cohort.sample_ids and decisions.items[0]["count"] == 1


def test_small_classes_are_dropped_only_when_asked_and_counted(tmp_path: Path):
    labels = LABELS + "S5,C,33\n"
    rna = "gene\tS1\tS2\tS3\tS4\tS5\nG1\t1\t2\t3\t4\t5\n"
    _write(tmp_path / "in", labels, **{"rna.tsv": rna, "protein.csv": PROTEIN})
    decisions = Decisions()
    cohort = tables_cohort(_params(min_class_size=2), tmp_path, decisions)
    assert cohort.classes == ["A", "B"] and "S5" not in cohort.modalities["rna"].index
    assert decisions.items[0]["count"] == 1 and decisions.items[0]["examples"] == ["C"]


def test_split_column_is_normalised_and_checked(tmp_path: Path):
    labels = "sample_id,label,split\nS1,A,Train\nS2,A,test\nS3,B,train\nS4,B,holdout\n"
    _write(tmp_path / "in", labels, **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    with pytest.raises(CohortError, match=r"must be train, val or test.*S4: 'holdout'"):
        tables_cohort(_params(), tmp_path, Decisions())
    (tmp_path / "in" / "labels.csv").write_text(labels.replace("holdout", "test"))
    cohort = tables_cohort(_params(), tmp_path, Decisions())
    assert cohort.labels["split"].tolist() == ["train", "test", "train", "test"]


def test_missing_label_is_an_error_naming_the_sample(tmp_path: Path):
    _write(tmp_path / "in", "sample_id,label\nS1,A\nS2,\n", **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    with pytest.raises(CohortError, match=r"without a 'label'.*S2"):
        tables_cohort(_params(), tmp_path, Decisions())


def test_top_k_must_leave_something_to_select(tmp_path: Path):
    _write(tmp_path / "in", LABELS, **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    params = _params()
    tables = params.tables.model_copy(
        update={"modalities": {"rna": params.tables.modalities["rna"].model_copy(update={"top_k": 5})}}
    )
    with pytest.raises(CohortError, match=r"top_k is 5 but rna\.tsv has only 2 features"):
        tables_cohort(params.model_copy(update={"tables": tables}), tmp_path, Decisions())


def test_parquet_labels_and_a_named_labels_file(tmp_path: Path):
    directory = tmp_path / "in"
    _write(directory, LABELS, **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    (directory / "labels.csv").unlink()
    pd.DataFrame({"id": ["S1", "S2", "S3", "S4"], "type": ["A", "A", "B", "B"]}).to_parquet(
        directory / "clinical.parquet", index=False
    )
    params = _params(
        tables={**_params().tables.model_dump(), "labels": "clinical.parquet", "label_column": "type"}
    )
    cohort = tables_cohort(params, tmp_path, Decisions())
    assert cohort.sample_ids == ["S1", "S2", "S3", "S4"] and cohort.classes == ["A", "B"]


def test_labels_with_a_repeated_column_or_case_variant_classes_are_errors(tmp_path: Path):
    _write(tmp_path / "in", "sample_id,label,label\nS1,A,A\n", **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    with pytest.raises(CohortError, match=r"duplicate column name.*'label'"):
        tables_cohort(_params(), tmp_path, Decisions())
    _write(tmp_path / "in", "sample_id,label\nS1,BRCA\nS2,brca\nS3,B\nS4,B\n")
    with pytest.raises(CohortError, match=r"differ only in case.*\['BRCA', 'brca'\]"):
        tables_cohort(_params(), tmp_path, Decisions())


def test_na_markers_in_labels_are_missing_and_clinical_numbers_stay_numbers(tmp_path: Path):
    _write(
        tmp_path / "in",
        "sample_id,label,age\nS1,A,50\nS2,NA,61\n",
        **{"rna.tsv": RNA, "protein.csv": PROTEIN},
    )
    with pytest.raises(CohortError, match=r"without a 'label'.*S2"):
        tables_cohort(_params(), tmp_path, Decisions())
    _write(tmp_path / "in", LABELS)
    cohort = tables_cohort(_params(), tmp_path, Decisions())
    assert cohort.labels["age"].tolist() == [50, 61, 70, 44]


def test_a_named_label_column_may_not_hide_a_label_column(tmp_path: Path):
    _write(tmp_path / "in", "sample_id,label,type\nS1,A,B\n", **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    params = _params(tables={**_params().tables.model_dump(), "label_column": "type"})
    with pytest.raises(CohortError, match="has a 'label' column but 'type' is named"):
        tables_cohort(params, tmp_path, Decisions())
    params = _params(tables={**_params().tables.model_dump(), "split_column": "fold"})
    _write(tmp_path / "in", LABELS)
    with pytest.raises(CohortError, match="no 'fold' column"):
        tables_cohort(params, tmp_path, Decisions())


def test_files_outside_cohort_path_are_refused(tmp_path: Path):
    _write(tmp_path / "in", LABELS, **{"rna.tsv": RNA, "protein.csv": PROTEIN})
    (tmp_path / "elsewhere.csv").write_text(PROTEIN)
    params = _params()
    modalities = {**params.tables.model_dump()["modalities"], "protein": {"file": "../elsewhere.csv"}}
    with pytest.raises(CohortError, match=r"outside cohort\.path"):
        tables_cohort(_params(tables={"modalities": modalities}), tmp_path, Decisions())


def test_every_normalisation_of_an_input_is_a_counted_decision(tmp_path: Path):
    """A trailing space on an ID in one modality file, a padded label and a capitalised split name are
    read as their clean spellings, and each rewrite is counted with examples in cohort.json."""
    from oncofusion.cohort import Cohort, read_meta

    labels = "sample_id,label,split\nS1, A ,Train\nS2,A,test\nS3,B,train\nS4,B,test\n"
    protein = "sample_id,P1,P2\nS1 ,0.5,1.5\nS3,2.5,3.5\n"  # "S1 " must still match S1's label
    _write(tmp_path / "in", labels, **{"rna.tsv": RNA, "protein.csv": protein})
    decisions = Decisions()
    cohort = tables_cohort(_params(), tmp_path, decisions)
    assert cohort.modalities["protein"].index.tolist() == ["S1", "S3"]
    assert cohort.labels["label"].tolist() == ["A", "A", "B", "B"]
    counted = {d["decision"]: d for d in decisions.items}
    assert counted["protein.csv (column 'sample_id'): sample IDs trimmed of surrounding whitespace"] == {
        "decision": "protein.csv (column 'sample_id'): sample IDs trimmed of surrounding whitespace",
        "count": 1,
        "examples": ["'S1 '"],
    }
    assert counted["labels.csv (column 'label'): labels trimmed"]["count"] == 1
    assert counted["labels.csv (column 'split'): split names trimmed or lower-cased"]["examples"] == [
        "'Train'→'train'"
    ]
    assert len(decisions.items) == 3  # nothing else was rewritten
    cohort.save(tmp_path / "cohort")
    saved = read_meta(tmp_path / "cohort").provenance["decisions"]
    assert saved == decisions.items and Cohort.load(tmp_path / "cohort").classes == ["A", "B"]


def test_ids_stored_as_numbers_are_counted_when_their_text_changes(tmp_path: Path):
    from oncofusion.data.ids import normalise_ids

    decisions = Decisions()
    assert normalise_ids([1.0, 2, "3"], f"{tmp_path}/m.parquet (index)", decisions=decisions) == [
        "1",
        "2",
        "3",
    ]
    assert decisions.items == [
        {
            "decision": "m.parquet (index): sample IDs stored as numbers read as text",
            "count": 1,
            "examples": ["1.0→'1'"],
        }
    ]
