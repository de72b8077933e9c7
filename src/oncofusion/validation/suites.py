"""Expectation suites derived from each table's kind and value domain in cohort.json.

Suites are generated, not hand-written, so any cohort (synthetic or bring-your-own, any number of
modalities) gets the checks its contract implies. Each expectation carries ``meta`` naming the file and
the check in words, which is what a failure message shows.
"""

from __future__ import annotations

from collections.abc import Iterable

import great_expectations as gx
import pandas as pd

from oncofusion.cohort import SPLITS, Domain, TableSpec
from oncofusion.config import ValidateParams

E = gx.expectations
ROW_SUM_COLUMN = "<row sum>"
# Columns of the per-feature profile and the long value table; bracketed so no feature name can clash.
FEATURE, VALUE = "<feature>", "<value>"
FLOAT_TYPES = ["float16", "float32", "float64", "Float32", "Float64"]
INT_TYPES = ["int8", "int16", "int32", "int64", "Int8", "Int16", "Int32", "Int64", "uint8", "uint16"]


def _meta(file: str, check: str, unexpected: str | None = None) -> dict[str, str]:
    """``unexpected`` says, in words, what a failing value is (defaults by expectation type)."""
    return {"file": file, "check": check} | ({"unexpected": unexpected} if unexpected else {})


def labels_expectations(
    file: str,
    frame: pd.DataFrame,
    classes: list[str],
    modality_samples: dict[str, tuple[str, Iterable[str]]],
    params: ValidateParams,
) -> list[gx.expectations.Expectation]:
    """Checks on labels.parquet, including that every labelled sample is present in each modality."""
    out: list[gx.expectations.Expectation] = [
        E.ExpectTableColumnsToMatchSet(
            column_set=["sample_id", "label"], exact_match=False, meta=_meta(file, "required columns")
        ),
        E.ExpectTableRowCountToBeBetween(min_value=1, meta=_meta(file, "at least one sample")),
    ]
    if "sample_id" in frame.columns:
        out += [
            E.ExpectColumnValuesToNotBeNull(column="sample_id", meta=_meta(file, "sample IDs present")),
            E.ExpectColumnValuesToBeUnique(column="sample_id", meta=_meta(file, "sample IDs unique")),
        ]
        if params.require_complete_modalities:
            for modality, (modality_file, ids) in modality_samples.items():
                out.append(
                    E.ExpectColumnValuesToBeInSet(
                        column="sample_id",
                        value_set=sorted(set(ids)),
                        meta=_meta(
                            file,
                            f"labelled samples present in modality '{modality}' ({modality_file})",
                            unexpected=f"missing from {modality_file}",
                        ),
                    )
                )
    if "label" in frame.columns:
        out += [
            E.ExpectColumnValuesToNotBeNull(column="label", meta=_meta(file, "every sample labelled")),
            E.ExpectColumnValuesToBeInSet(
                column="label",
                value_set=list(classes),
                meta=_meta(file, f"labels in the class set {classes}"),
            ),
        ]
    if "split" in frame.columns:
        out.append(
            E.ExpectColumnValuesToBeInSet(
                column="split", value_set=list(SPLITS), meta=_meta(file, "split names")
            )
        )
    return out


def _domain_expectations(file: str, column: str, domain: Domain) -> list[gx.expectations.Expectation]:
    out: list[gx.expectations.Expectation] = []
    if domain.integer and domain.min is not None and domain.max is not None:
        allowed = list(range(int(domain.min), int(domain.max) + 1))
        out.append(
            E.ExpectColumnValuesToBeInSet(
                column=column,
                value_set=allowed,
                meta=_meta(file, f"integer states in {allowed[0]}..{allowed[-1]}"),
            )
        )
    elif domain.min is not None or domain.max is not None:
        out.append(
            E.ExpectColumnValuesToBeBetween(
                column=column, min_value=domain.min, max_value=domain.max, meta=_meta(file, domain.describe())
            )
        )
    return out


def table_expectations(
    name: str,
    spec: TableSpec,
    frame: pd.DataFrame,
    labelled_ids: Iterable[str] | None,
    params: ValidateParams,
) -> list[gx.expectations.Expectation]:
    """Table-level checks on one modality or annotation (``frame`` has ``sample_id`` as a column); the
    per-column checks run on :func:`column_profile` and :func:`long_values`."""
    file = spec.file
    out: list[gx.expectations.Expectation] = [
        E.ExpectTableColumnsToMatchOrderedList(
            column_list=["sample_id", *spec.features],
            meta=_meta(file, f"{spec.n_features} feature columns as declared in cohort.json"),
        ),
        E.ExpectTableRowCountToBeBetween(min_value=1, meta=_meta(file, "at least one sample")),
        E.ExpectColumnValuesToNotBeNull(column="sample_id", meta=_meta(file, "sample IDs present")),
        E.ExpectColumnValuesToBeUnique(column="sample_id", meta=_meta(file, "sample IDs unique")),
    ]
    if labelled_ids is not None:
        out.append(
            E.ExpectColumnValuesToBeInSet(
                column="sample_id",
                value_set=sorted(set(labelled_ids)),
                meta=_meta(
                    file, "sample IDs known in labels.parquet", unexpected="absent from labels.parquet"
                ),
            )
        )
    return out


def column_profile(spec: TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per declared feature column: its dtype and NaN share.

    Checked as one table instead of one expectation set per column: a 20,000-gene table would
    otherwise be 60,000 expectations (minutes); this is two, whatever the width."""
    present = [c for c in spec.features if c in frame.columns]
    rows = len(frame)
    nan_count = frame[present].isna().sum().to_numpy() if present else []
    return pd.DataFrame(
        {
            FEATURE: present,
            "dtype": [str(frame[c].dtype) for c in present],
            "nan_count": nan_count,
            "rows": rows,
            "nan_fraction": (pd.Series(nan_count, dtype=float) / max(rows, 1)).to_numpy(),
        }
    )


def profile_expectations(spec: TableSpec, params: ValidateParams) -> list[gx.expectations.Expectation]:
    file = spec.file
    types = INT_TYPES if spec.domain.integer else FLOAT_TYPES
    out: list[gx.expectations.Expectation] = [
        E.ExpectColumnValuesToBeInSet(column="dtype", value_set=types, meta=_meta(file, "numeric type"))
    ]
    limit = params.max_nan_fraction if spec.domain.max_nan_fraction is None else spec.domain.max_nan_fraction
    if limit < 1.0:
        out.append(
            E.ExpectColumnValuesToBeBetween(
                column="nan_fraction", max_value=limit, meta=_meta(file, f"NaN fraction at most {limit:g}")
            )
        )
    return out


def long_values(spec: TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """(sample_id, feature, value) for the numeric declared features: one column to check domains on.

    Non-numeric columns are left out here; the profile's type check reports them."""
    numeric = [
        c
        for c in spec.features
        if c in frame.columns
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    long = frame[["sample_id", *numeric]].melt(id_vars="sample_id", value_name=VALUE)
    return long.rename(columns={"variable": FEATURE})


def value_expectations(spec: TableSpec) -> list[gx.expectations.Expectation]:
    return _domain_expectations(spec.file, VALUE, spec.domain)


def row_sum_expectations(spec: TableSpec, params: ValidateParams) -> list[gx.expectations.Expectation]:
    """Profiles must sum to their declared total; checked on a derived one-column frame (see row_sums)."""
    if spec.domain.row_sum is None:
        return []
    tol = params.profile_sum_tolerance
    return [
        E.ExpectColumnValuesToBeBetween(
            column=ROW_SUM_COLUMN,
            min_value=spec.domain.row_sum - tol,
            max_value=spec.domain.row_sum + tol,
            meta=_meta(spec.file, f"each row sums to {spec.domain.row_sum:g} ± {tol:g}"),
        )
    ]


def row_sums(spec: TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Row totals over the declared features, NaN counted as 0: a profile with a hole cannot sum to 1.

    Only a row that is NaN throughout (the sample lacks this modality) has no total and is not checked.
    """
    present = [c for c in spec.features if c in frame.columns]
    numeric = frame[present].apply(pd.to_numeric, errors="coerce")
    return pd.DataFrame({ROW_SUM_COLUMN: numeric.sum(axis=1, min_count=1)})
