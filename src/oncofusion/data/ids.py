"""Sample identifiers as users' files spell them: trimmed, and checked for near-duplicates.

IDs are matched across files after trimming whitespace. Two IDs of one file that become equal after
trimming and case-folding (`S1` and `s1 `) are an error, not a guess: they are either one sample typed
twice or two samples a spreadsheet will confuse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import pandas as pd

from oncofusion.errors import CohortError


def normalise_ids(
    raw: Iterable[object], where: str, what: str = "sample ID", fold_case: bool = True
) -> list[str]:
    """Trimmed string IDs; raises naming the file and the colliding spellings (feature names, where
    case can be meaningful, pass ``fold_case=False`` and only exact duplicates clash)."""
    raw = list(raw)
    ids: list[str] = []
    for position, value in enumerate(raw):
        if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) or not str(value).strip():
            raise CohortError(f"{where}: empty {what} at position {position + 1}")
        ids.append(_text(value))
    groups: dict[str, list[str]] = defaultdict(list)
    for original, trimmed in zip(raw, ids, strict=True):
        groups[trimmed.casefold() if fold_case else trimmed].append(repr(str(original)))
    clashes = [spellings for spellings in groups.values() if len(spellings) > 1]
    if clashes:
        shown = "; ".join(" vs ".join(s) for s in clashes[:5])
        how = "trimming whitespace and ignoring case" if fold_case else "trimming whitespace"
        raise CohortError(f"{where}: {len(clashes)} duplicate {what}(s) after {how}: {shown}")
    return ids


def _text(value: object) -> str:
    """IDs stored as numbers (Parquet, Excel exports) match their text form: 1.0 → "1", not "1.0"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def case_hint(unknown: Iterable[str], known: Iterable[str]) -> str:
    """A hint when unknown IDs differ from known ones only by case."""
    folded = {k.casefold(): k for k in known}
    pairs = [f"{u!r}→{folded[u.casefold()]!r}" for u in unknown if u.casefold() in folded]
    return f"; some differ only in case from labelled IDs ({', '.join(pairs[:3])})" if pairs else ""
