"""`POST /classify_variants` on a real `bentoml serve`: VCF and MAF uploads and JSON rows answered per
tumour, the same answers as the classifier in this process, with authentication on."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from oncofusion.models.bundle import load_bundle
from oncofusion.prediction.uploads import read_upload
from oncofusion.prediction.variants import VariantClassifier

from .conftest import VariantServed

pytestmark = pytest.mark.slow


def _vcfs(served: VariantServed, n: int) -> list[Path]:
    return sorted((served.store.raw / "somatic_vcf").glob("*.vcf.gz"))[:n]


def _post_files(served: VariantServed, files: list[tuple[str, bytes]], **kw) -> httpx.Response:
    parts = [("file", (name, data, "application/octet-stream")) for name, data in files]
    return httpx.post(
        f"{served.url}/classify_variants", files=parts, headers=served.headers, timeout=60, **kw
    )


def _local(served: VariantServed) -> VariantClassifier:
    return VariantClassifier.open(load_bundle(served.store.model_dir / "model.pt"), served.store.reference)


def test_vcf_uploads_get_one_answer_per_tumour_equal_to_the_local_classifier(variant_served: VariantServed):
    vcfs = _vcfs(variant_served, 3)
    response = _post_files(variant_served, [(p.name, p.read_bytes()) for p in vcfs])
    assert response.status_code == 200, response.text
    answers = response.json()
    assert [a["sample_id"] for a in answers] == [p.name.split(".")[0] for p in vcfs]
    local = _local(variant_served)
    for path, answer in zip(vcfs, answers, strict=True):
        expected = local.classify(read_upload(path.read_bytes(), path.name))[0]
        assert answer["predicted"] == expected["predicted"] != "no call"
        assert answer["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-6)
        assert answer["prediction_set"] == expected["prediction_set"]
        assert answer["variants_used"] == expected["variants_used"] > 0
        assert answer["signatures"] and answer["signatures"][0]["signature"].startswith(("SBS", "DBS", "ID"))
        assert answer["model"]["name"] == "oncofusion-variants"


def _vcf_text(served: VariantServed) -> str:
    return gzip.decompress(_vcfs(served, 1)[0].read_bytes()).decode()


def _rows_of(text: str, sample: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        chrom, pos, _, ref, alt, *_ = line.split("\t")
        rows.append({"sample": sample, "chrom": chrom, "pos": int(pos), "ref": ref, "alt": alt})
    return rows


def test_json_rows_and_a_maf_give_the_same_answers_as_the_vcf(variant_served: VariantServed):
    path = _vcfs(variant_served, 1)[0]
    sample = path.name.split(".")[0]
    by_vcf = _post_files(variant_served, [(path.name, path.read_bytes())]).json()[0]
    rows = _rows_of(_vcf_text(variant_served), sample)
    response = httpx.post(
        f"{variant_served.url}/classify_variants",
        json={"rows": rows},
        headers=variant_served.headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    by_rows = response.json()[0]
    assert by_rows["probabilities"] == pytest.approx(by_vcf["probabilities"], abs=1e-6)
    assert by_rows["variants_used"] == by_vcf["variants_used"]
    # The cohort's MAF holds every tumour: one answer each, this tumour's equal to its VCF's.
    maf = variant_served.store.raw / "somatic.maf.gz"
    answers = _post_files(variant_served, [("somatic.maf.gz", maf.read_bytes())]).json()
    assert len(answers) >= 30
    mine = next(a for a in answers if a["sample_id"] == sample)
    assert mine["probabilities"] == pytest.approx(by_vcf["probabilities"], abs=1e-6)


def _refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    for word in words:
        assert word in message, message


def test_bad_inputs_are_4xx_naming_what_is_wrong_and_the_server_keeps_serving(variant_served: VariantServed):
    text = _vcf_text(variant_served)
    # Another build: a ##contig length differs from the model's reference.
    other_build = text.replace("##contig=<ID=chr1,length=", "##contig=<ID=chr1,length=9", 1)
    _refused(
        _post_files(variant_served, [("hg19.vcf", other_build.encode())]),
        400,
        "hg19.vcf",
        "chr1",
        "another build",
    )
    # REF disagreeing with the FASTA on most records: file and line named.
    lines = text.splitlines()
    swapped = []
    for line in lines:
        if line.startswith("#"):
            swapped.append(line)
            continue
        fields = line.split("\t")
        if len(fields[3]) == 1 and len(fields[4]) == 1:
            fields[3] = {"A": "C", "C": "G", "G": "T", "T": "A"}.get(fields[3], fields[3])
        swapped.append("\t".join(fields))
    _refused(
        _post_files(variant_served, [("wrong_ref.vcf", ("\n".join(swapped) + "\n").encode())]),
        400,
        "wrong_ref.vcf",
        "REF alleles differ",
        "line ",
    )
    # A truncated gzip.
    data = _vcfs(variant_served, 1)[0].read_bytes()
    _refused(
        _post_files(variant_served, [("cut.vcf.gz", data[: len(data) // 2])]),
        400,
        "cut.vcf.gz",
        "truncated gzip",
    )
    # No PASS record.
    no_pass = "\n".join(
        line if line.startswith("#") else "\t".join([*line.split("\t")[:6], "LowQual", *line.split("\t")[7:]])
        for line in lines
    )
    _refused(
        _post_files(variant_served, [("lowqual.vcf", (no_pass + "\n").encode())]),
        400,
        "no usable variant record",
        "not PASS",
    )
    # A MAF without a required column.
    maf = "Tumor_Sample_Barcode\tChromosome\tStart_Position\tReference_Allele\nT1\tchr1\t100\tA\n"
    _refused(
        _post_files(variant_served, [("short.maf", maf.encode())]), 400, "short.maf", "Tumor_Seq_Allele2"
    )
    # Over the size limit: refused from its Content-Length, before it is read.
    from oncofusion.serving.variant_schema import MAX_VARIANT_BYTES

    assert _declared_too_big(variant_served, MAX_VARIANT_BYTES + 1).startswith(b"HTTP/1.1 413")
    # JSON rows that break the schema: 422 naming the field.
    bad_rows = {"rows": [{"sample": "T", "chrom": "chr1", "pos": 0, "ref": "A", "alt": "C"}]}
    response = httpx.post(
        f"{variant_served.url}/classify_variants", json=bad_rows, headers=variant_served.headers
    )
    _refused(response, 422, "rows[0].pos")
    # A tumour with no usable variant: "no call" and why, beside a tumour that gets a call.
    rows = [{"sample": "EMPTY", "chrom": "chrUn_nowhere", "pos": 10, "ref": "A", "alt": "C"}]
    rows += _rows_of(text, "REAL")
    response = httpx.post(
        f"{variant_served.url}/classify_variants", json={"rows": rows}, headers=variant_served.headers
    )
    assert response.status_code == 200, response.text
    empty, real = response.json()
    assert empty["predicted"] == "no call" and empty["probabilities"] is None
    assert "contig not in the reference: 1" in empty["no_call_reason"]
    assert real["predicted"] != "no call" and real["variants_used"] > 0
    # Still serving.
    path = _vcfs(variant_served, 1)[0]
    assert _post_files(variant_served, [(path.name, path.read_bytes())]).status_code == 200


def _declared_too_big(served: VariantServed, length: int) -> bytes:
    """A multipart POST declaring `length` bytes and sending none: the answer comes from the headers."""
    import socket

    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(
            b"POST /classify_variants HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: {served.headers['Authorization']}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=x\r\n"
            + f"Content-Length: {length}\r\n\r\n".encode()
        )
        return raw.recv(4096)


def test_without_the_token_nothing_is_processed_and_sample_ids_stay_out_of_logs_and_metrics(
    variant_served: VariantServed,
):
    secret = "PATIENT-SECRET-4242"
    rows = _rows_of(_vcf_text(variant_served), secret)
    url = f"{variant_served.url}/classify_variants"
    before = httpx.get(f"{variant_served.url}/metrics", headers=variant_served.headers).text
    assert httpx.post(url, json={"rows": rows}).status_code == 401
    assert (
        httpx.post(
            url, json={"rows": rows}, headers={"Authorization": "Bearer wrong-token-wrong-token"}
        ).status_code
        == 401
    )
    assert httpx.get(f"{variant_served.url}/metadata").status_code == 401
    assert httpx.get(f"{variant_served.url}/readyz").status_code == 200  # probes stay open
    after = httpx.get(f"{variant_served.url}/metrics", headers=variant_served.headers).text
    assert _samples_seen(after) == _samples_seen(before)  # the refused requests were not classified
    answered = httpx.post(url, json={"rows": rows}, headers=variant_served.headers)
    assert answered.status_code == 200 and answered.json()[0]["sample_id"] == secret
    metrics = httpx.get(f"{variant_served.url}/metrics", headers=variant_served.headers).text
    assert _samples_seen(metrics) > _samples_seen(after)
    assert secret not in metrics
    assert secret not in variant_served.log.read_text()


def _samples_seen(metrics: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith('oncofusion_input_samples_total{modality="sbs96"'):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metadata_names_the_reference_the_model_needs(variant_served: VariantServed):
    from oncofusion.cohort import file_digest

    document = httpx.get(f"{variant_served.url}/metadata", headers=variant_served.headers).json()
    assert document["reference"]["sha256"] == file_digest(variant_served.store.reference)
    assert document["catalogues"] == ["sbs96", "dbs78", "id83", "density"]
    docs = httpx.get(f"{variant_served.url}/docs.json", headers=variant_served.headers).json()
    body = docs["paths"]["/classify_variants"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(body)
