"""What the gate found, in a form for people (HTML, console) and for machines (JSON, DVC metrics)."""

from __future__ import annotations

import html
from pathlib import Path

from pydantic import BaseModel

from oncofusion import atomic

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
SUMMARY_JSON = "summary.json"


class Failure(BaseModel):
    file: str
    column: str | None = None
    check: str
    detail: str
    table: str | None = None  # modality or annotation name; None for labels and cohort.json

    def message(self) -> str:
        where = self.file if self.column is None else f"{self.file}, column {self.column}"
        if self.table:
            where = f"{self.table}: {where}"
        return f"{where}: {self.check}: {self.detail}"


class TableSummary(BaseModel):
    file: str
    rows: int | None = None
    columns: int | None = None
    expectations: int = 0
    failed: int = 0


class ValidationReport(BaseModel):
    cohort_dir: str
    fingerprint: str | None = None
    passed: bool
    n_expectations: int
    failures: list[Failure]
    tables: dict[str, TableSummary]
    great_expectations_version: str

    @property
    def n_failed(self) -> int:
        return len(self.failures)

    def console_text(self, limit: int = 25) -> str:
        head = (
            f"Validation of {self.cohort_dir}: {'PASSED' if self.passed else 'FAILED'} "
            f"({self.n_expectations} expectations, {self.n_failed} failed)"
        )
        lines = [head, *(f"  - {f.message()}" for f in self.failures[:limit])]
        if self.n_failed > limit:
            lines.append(f"  ... and {self.n_failed - limit} more (see the full report)")
        return "\n".join(lines)

    def write(self, directory: str | Path) -> None:
        directory = Path(directory)
        atomic.write_text(directory / REPORT_JSON, self.model_dump_json(indent=2) + "\n")
        atomic.write_json(
            directory / SUMMARY_JSON,
            {"passed": int(self.passed), "expectations": self.n_expectations, "failed": self.n_failed},
        )
        atomic.write_text(directory / REPORT_HTML, render_html(self))


def render_html(report: ValidationReport) -> str:
    status = "PASSED" if report.passed else "FAILED"
    colour = "#1a7f37" if report.passed else "#cf222e"
    table_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(t.file)}</td><td>{t.rows}</td>"
        f"<td>{t.columns}</td><td>{t.expectations}</td><td>{t.failed}</td></tr>"
        for name, t in report.tables.items()
    )
    failure_rows = (
        "".join(
            f"<tr><td>{html.escape(f.table or '')}</td><td>{html.escape(f.file)}</td>"
            f"<td>{html.escape(f.column or '')}</td>"
            f"<td>{html.escape(f.check)}</td><td>{html.escape(f.detail)}</td></tr>"
            for f in report.failures
        )
        or '<tr><td colspan="4">none</td></tr>'
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>oncofusion validation: {status}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head>
<body>
<h1 style="color:{colour}">Validation {status}</h1>
<p>Cohort <code>{html.escape(report.cohort_dir)}</code>, fingerprint <code>{report.fingerprint}</code>.
{report.n_expectations} expectations (Great Expectations {report.great_expectations_version}),
{report.n_failed} failed.</p>
<h2>Tables</h2>
<table><tr><th>table</th><th>file</th><th>rows</th><th>columns</th><th>expectations</th><th>failed</th></tr>
{table_rows}</table>
<h2>Failures</h2>
<table><tr><th>table</th><th>file</th><th>column</th><th>check</th><th>detail</th></tr>{failure_rows}</table>
</body></html>
"""
