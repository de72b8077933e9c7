"""Decisions an ingest takes on the user's behalf (dropped samples, excluded segments), logged and counted.

Nothing is dropped silently: each decision is logged when taken, printed by the CLI and written into
cohort.json's provenance, so a reviewer of a cohort sees what was left out and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("oncofusion.ingest")


@dataclass
class Decisions:
    items: list[dict[str, Any]] = field(default_factory=list)
    quiet: bool = False  # a per-batch scratch record whose totals are logged once, by its owner

    def record(self, what: str, count: int, examples: list[str] | None = None) -> None:
        if count <= 0:
            return
        entry: dict[str, Any] = {"decision": what, "count": int(count)}
        if examples:
            entry["examples"] = [str(e) for e in examples[:5]]
        self.items.append(entry)
        if self.quiet:
            return
        shown = f" (e.g. {', '.join(entry['examples'])})" if examples else ""
        log.warning("%s: %d%s", what, count, shown)

    def lines(self) -> list[str]:
        return [
            f"{d['decision']}: {d['count']}"
            + (f" (e.g. {', '.join(d['examples'])})" if "examples" in d else "")
            for d in self.items
        ]
