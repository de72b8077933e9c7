"""Run the generated suites on a cohort directory with Great Expectations and decide pass/fail.

Unreadable files (missing, empty, truncated Parquet, a broken cohort.json) are failures too, reported
beside the expectation failures, so one run lists everything wrong with a cohort.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no network calls from a gate

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

from oncofusion.cohort import LABELS_FILE, META_FILE, CohortMeta, fingerprint, read_meta, read_table
from oncofusion.config import ValidateParams
from oncofusion.errors import CohortError, OncofusionError
from oncofusion.validation import suites, variant_suite
from oncofusion.validation.report import REPORT_JSON, Failure, TableSummary, ValidationReport

EXAMPLES = 5


class ValidationFailed(OncofusionError):
    def __init__(self, report: ValidationReport, report_dir: Path | None = None) -> None:
        self.report = report
        text = report.console_text()
        if report_dir is not None:
            text += f"\nFull report: {report_dir / 'report.html'}"
        super().__init__(text)


class _Runner:
    """One ephemeral GX context per gate run: no project files, no analytics, no progress bars."""

    def __init__(self) -> None:
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.source = self.context.data_sources.add_pandas("oncofusion")
        self.count = 0

    def run(
        self, name: str, frame: pd.DataFrame, expectations: list[Any], index_columns: list[str] | None = None
    ) -> list[Any]:
        """``index_columns``: return every unexpected row with these columns (which feature, which
        sample), so one check over a long table can still name each offending column."""
        self.count += 1
        asset = self.source.add_dataframe_asset(name=f"{name}-{self.count}")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
        suite = gx.ExpectationSuite(name=f"{name}-{self.count}", expectations=expectations)
        result_format: Any = "SUMMARY"
        if index_columns:
            result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": index_columns}
        return batch.validate(suite, result_format=result_format).results


_UNEXPECTED = {
    "expect_column_values_to_be_between": "out of range",
    "expect_column_values_to_be_in_set": "not in the allowed set",
    "expect_column_values_to_be_unique": "duplicated",
}


def _show(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _describe(result: Any, expected_columns: list[str] | None) -> tuple[str | None, str]:
    """Turn a failed GX result into (column, detail) a person can act on."""
    config = result.expectation_config
    kwargs = config.kwargs
    info = result.exception_info or {}
    if info.get("raised_exception"):
        message = (info.get("exception_message") or "").strip().splitlines()
        return kwargs.get("column"), f"could not be evaluated ({message[0] if message else 'error'})"
    outcome = result.result or {}
    if config.type == "expect_table_columns_to_match_ordered_list" and expected_columns is not None:
        found = list(outcome.get("observed_value") or [])
        missing = [c for c in expected_columns if c not in found]
        extra = [c for c in found if c not in expected_columns]
        n_found = sum(c != "sample_id" for c in found)
        n_expected = len(expected_columns) - 1
        if missing:
            return (
                missing[0],
                f"missing; expected {n_expected} feature columns, found {n_found} "
                f"(missing: {', '.join(missing[:EXAMPLES])})",
            )
        if extra:
            return (
                extra[0],
                f"unexpected column; expected {n_expected} feature columns, found {n_found} "
                f"(extra: {', '.join(extra[:EXAMPLES])})",
            )
        return None, "columns are not in the declared order"
    if config.type == "expect_table_columns_to_match_set":
        missing = sorted(set(kwargs["column_set"]) - set(outcome.get("observed_value") or []))
        return (missing[0] if missing else None), f"required column(s) missing: {', '.join(missing)}"
    count = outcome.get("unexpected_count")
    total = outcome.get("element_count")
    examples = ", ".join(_show(v) for v in (outcome.get("partial_unexpected_list") or [])[:EXAMPLES])
    if config.type == "expect_column_values_to_not_be_null":
        share = outcome.get("unexpected_percent") or 0.0
        if total and count == total:
            return kwargs.get("column"), f"all {total} values are NaN"
        return kwargs.get("column"), f"{count} of {total} values are NaN ({share:.1f}%)"
    if config.type == "expect_column_values_to_be_in_type_list":
        return kwargs.get(
            "column"
        ), f"has type {outcome.get('observed_value')}, expected one of {kwargs['type_list'][:3]}..."
    if count is not None:
        what = config.meta.get("unexpected") or _UNEXPECTED.get(config.type, "fail the check")
        return kwargs.get("column"), f"{count} of {total} values {what} (e.g. {examples})"
    return kwargs.get("column"), f"observed {outcome.get('observed_value')!r}"


def _per_feature(result: Any, rows: int) -> list[tuple[str | None, str]]:
    """Expand a failed check over the column profile or the long value table into one (column, detail)
    per offending feature column, with exact counts and examples."""
    config = result.expectation_config
    outcome = result.result or {}
    hits = outcome.get("unexpected_index_list") or []
    if not hits or not isinstance(hits[0], dict):
        return [_describe(result, None)]
    column = config.kwargs.get("column")
    if column == "dtype":
        types = config.kwargs["value_set"]
        return [(h[suites.FEATURE], f"has type {h['dtype']}, expected one of {types[:3]}...") for h in hits]
    if column == "nan_fraction":
        out = []
        for h in hits:
            count, total = int(h["nan_count"]), int(h["rows"])
            detail = (
                f"all {total} values are NaN"
                if count == total
                else f"{count} of {total} values are NaN ({100 * count / max(total, 1):.1f}%)"
            )
            out.append((h[suites.FEATURE], detail))
        return out
    what = config.meta.get("unexpected") or _UNEXPECTED.get(config.type, "fail the check")
    grouped: dict[str, list[dict[str, Any]]] = {}
    for h in hits:
        grouped.setdefault(h[suites.FEATURE], []).append(h)
    return [
        (
            feature,
            f"{len(items)} of {rows} values {what} (e.g. "
            + ", ".join(f"{_show(i[suites.VALUE])} in {i['sample_id']}" for i in items[:EXAMPLES])
            + ")",
        )
        for feature, items in grouped.items()
    ]


def _read(
    directory: Path, file: str, failures: list[Failure], table: str | None = None
) -> pd.DataFrame | None:
    try:
        return read_table(directory / file)
    except CohortError as error:
        failures.append(
            Failure(
                file=file, table=table, check="readable Parquet file", detail=str(error).split(": ", 1)[-1]
            )
        )
        return None


def _as_columns(file: str, frame: pd.DataFrame, failures: list[Failure], table: str) -> pd.DataFrame | None:
    """Modality tables are indexed by sample_id (the contract); the suites see it as a column."""
    if frame.index.name == "sample_id" and "sample_id" not in frame.columns:
        return frame.reset_index()
    if "sample_id" in frame.columns:
        failures.append(
            Failure(
                file=file,
                table=table,
                column="sample_id",
                check="sample_id index",
                detail="sample_id is a column, but the cohort contract needs it as the table's index",
            )
        )
        return None
    failures.append(
        Failure(
            file=file, table=table, column="sample_id", check="sample_id index", detail="no sample_id index"
        )
    )
    return None


def run_gate(cohort_dir: str | Path, params: ValidateParams) -> ValidationReport:
    """Validate every file of a cohort; never raises for bad data, only reports it."""
    directory = Path(cohort_dir)
    failures: list[Failure] = []
    tables: dict[str, TableSummary] = {}
    runner = _Runner()

    def report() -> ValidationReport:
        return ValidationReport(
            cohort_dir=str(directory),
            fingerprint=fingerprint(directory) if directory.is_dir() else None,
            passed=not failures,
            n_expectations=sum(t.expectations for t in tables.values()),
            failures=failures,
            tables=tables,
            great_expectations_version=gx.__version__,
        )

    try:
        meta: CohortMeta = read_meta(directory)
    except CohortError as error:
        failures.append(
            Failure(file=META_FILE, check="cohort metadata", detail=str(error).split(": ", 1)[-1])
        )
        return report()

    labels = _read(directory, LABELS_FILE, failures)
    frames: dict[str, pd.DataFrame] = {}
    for name, spec in meta.table_specs().items():
        raw = _read(directory, spec.file, failures, name)
        frame = None if raw is None else _as_columns(spec.file, raw, failures, name)
        if frame is not None:
            frames[name] = frame
        tables[name] = TableSummary(
            file=spec.file,
            rows=None if frame is None else len(frame),
            columns=None if raw is None else raw.shape[1],
        )

    def record(
        name: str,
        file: str,
        frame: pd.DataFrame,
        expectations: list[Any],
        columns: list[str] | None,
        index_columns: list[str] | None = None,
        rows: int = 0,
    ) -> None:
        results = runner.run(name, frame, expectations, index_columns)
        failed = [r for r in results if not r.success]
        summary = tables.setdefault(name, TableSummary(file=file, rows=len(frame), columns=frame.shape[1]))
        summary.expectations += len(results)
        summary.failed += len(failed)
        for result in failed:
            found = _per_feature(result, rows) if index_columns else [_describe(result, columns)]
            for column, detail in found:
                failures.append(
                    Failure(
                        file=file,
                        table=None if name == "labels" else name,
                        column=column,
                        check=result.expectation_config.meta["check"],
                        detail=detail,
                    )
                )

    labelled_ids = None
    if labels is not None:
        # A null ID is reported by the labels suite; it must not break the other tables' ID checks.
        labelled_ids = labels["sample_id"].dropna().tolist() if "sample_id" in labels.columns else None
        present = {
            n: (meta.modalities[n].file, f["sample_id"].dropna().tolist())
            for n, f in frames.items()
            if n in meta.modalities
        }
        expectations = suites.labels_expectations(LABELS_FILE, labels, meta.classes, present, params)
        record("labels", LABELS_FILE, labels, expectations, None)

    for name, frame in frames.items():
        spec = meta.table_specs()[name]
        record(
            name,
            spec.file,
            frame,
            suites.table_expectations(name, spec, frame, labelled_ids, params),
            ["sample_id", *spec.features],
        )
        profile_index = [suites.FEATURE, "dtype", "nan_count", "rows"]
        record(
            name,
            spec.file,
            suites.column_profile(spec, frame),
            suites.profile_expectations(spec, params),
            None,
            profile_index,
        )
        value_checks = suites.value_expectations(spec)
        if value_checks:
            record(
                name,
                spec.file,
                suites.long_values(spec, frame),
                value_checks,
                None,
                [suites.FEATURE, "sample_id"],
                rows=len(frame),
            )
        row_sum_checks = suites.row_sum_expectations(spec, params)
        if row_sum_checks:
            record(name, spec.file, suites.row_sums(spec, frame), row_sum_checks, None)
    if VARIANTS_FILE in meta.files:
        _check_variants(directory, meta, labelled_ids or [], params, runner, failures, tables)
    return report()


VARIANTS_FILE = "variants.parquet"


def _check_variants(
    directory: Path,
    meta: CohortMeta,
    sample_ids: list[str],
    params: ValidateParams,
    runner: _Runner,
    failures: list[Failure],
    tables: dict[str, TableSummary],
) -> None:
    """The variant inputs: failures name the user's file, line and column, not variants.parquet."""
    frame = _read(directory, VARIANTS_FILE, failures, "variants")
    if frame is None:
        return
    columns = meta.provenance.get("variant_columns") or {}
    columns = {k: columns.get(k, k) for k in ("sample", "chrom", "start", "ref", "alt")}
    results = runner.run(
        "variants",
        variant_suite.checkable(frame),
        variant_suite.expectations(columns, sample_ids, params),
        variant_suite.ROW_COLUMNS,
    )
    failed = [r for r in results if not r.success]
    tables["variants"] = TableSummary(
        file=VARIANTS_FILE,
        rows=len(frame),
        columns=frame.shape[1],
        expectations=len(results),
        failed=len(failed),
    )
    for result in failed:
        for file, column, detail in variant_suite.describe(result, len(frame)):
            failures.append(
                Failure(
                    file=file,
                    table="variants",
                    column=column,
                    check=result.expectation_config.meta["check"],
                    detail=detail,
                )
            )


def gate(cohort_dir: str | Path, params: ValidateParams, report_dir: str | Path) -> ValidationReport:
    """Validate, write the report, and raise ValidationFailed unless everything passed."""
    report = run_gate(cohort_dir, params)
    report.write(report_dir)
    if not report.passed:
        raise ValidationFailed(report, Path(report_dir))
    return report


def require_passed(cohort_dir: str | Path, report_dir: str | Path) -> ValidationReport:
    """Refuse to go on unless the gate passed on exactly these cohort files."""
    path = Path(report_dir) / REPORT_JSON
    try:
        report = ValidationReport.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise CohortError(f"{path}: no validation report; run `oncofusion validate` first") from None
    except ValueError as error:
        raise CohortError(f"{path}: unreadable validation report ({error})") from None
    if not report.passed:
        raise CohortError(
            f"{cohort_dir}: failed validation ({report.n_failed} failures, see {path.parent / 'report.html'})"
        )
    current = fingerprint(cohort_dir)
    if report.fingerprint != current:
        raise CohortError(f"{cohort_dir}: changed since it was validated (report {path}); validate it again")
    return report
