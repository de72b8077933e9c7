"""A reference FASTA (plain or bgzipped, soft-masked or not), indexed with pysam, read as uppercase.

Two ways to read it: :class:`IndexedReference` fetches each window from disk through the ``.fai``
index (little memory, for huge references), :class:`Reference` holds every contig as a uint8 array
(fast vectorised context look-ups for catalogues). Both answer ``fetch`` identically, N-padded past
the contig ends, so windows at contig edges keep their exact length.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pysam

from oncofusion.errors import CohortError

PAD = ord("N")
# Lowercase (soft-masked repeats) read as uppercase; any other IUPAC code reads as N.
_UPPER = np.full(256, PAD, dtype=np.uint8)
for _base in b"ACGTN":
    _UPPER[_base] = _base
    _UPPER[_base + 32] = _base


def _index_files(path: Path) -> list[Path]:
    suffixes = [".fai", ".gzi"] if _is_gzip(path) else [".fai"]
    return [path.with_name(path.name + s) for s in suffixes]


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _is_bgzf(path: Path) -> bool:
    """BGZF blocks are gzip members with a 'BC' extra subfield (SAM spec §4.1)."""
    with path.open("rb") as handle:
        head = handle.read(18)
    return len(head) >= 16 and head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC"


def open_fasta(path: str | Path) -> pysam.FastaFile:
    """Open (and index, when the index is missing) a FASTA, with errors that say what to do."""
    path = Path(path)
    if not path.is_file():
        raise CohortError(f"{path}: reference FASTA is missing")
    if _is_gzip(path) and not _is_bgzf(path):
        raise CohortError(
            f"{path}: gzip-compressed but not bgzip; random access needs BGZF. Recompress it: "
            f"`zcat {path.name} | bgzip -c > bgzf.{path.name}` (bgzip comes with htslib/samtools)"
        )
    missing = [p for p in _index_files(path) if not p.exists()]
    if missing and not os.access(path.parent, os.W_OK):
        raise CohortError(
            f"{path}: no index ({', '.join(p.name for p in missing)}) and {path.parent} is not writable; "
            f"index it where it can be written: `samtools faidx {path}` (or copy the FASTA)"
        )
    try:
        if missing:
            pysam.faidx(str(path))
        return pysam.FastaFile(str(path))
    except (OSError, ValueError, pysam.utils.SamtoolsError) as error:
        raise CohortError(f"{path}: not a readable FASTA ({error})") from None


def contig_aliases(names: list[str]) -> dict[str, str]:
    """Map each spelling a variant file may use (``chr1`` / ``1``, ``chrM`` / ``MT``) to the contig."""
    aliases: dict[str, str] = {}
    for name in names:
        bare = name[3:] if name.lower().startswith("chr") else name
        spellings = {name, bare, f"chr{bare}"}
        if bare in ("M", "MT"):
            spellings |= {"M", "MT", "chrM", "chrMT"}
        numbered = {"X": "23", "Y": "24"}.get(bare)  # TCGA MAFs and PLINK number the sex chromosomes
        if numbered:
            spellings.add(numbered)
        for spelling in spellings:
            aliases.setdefault(spelling, name)
    return aliases


class _Contigs:
    lengths: dict[str, int]
    aliases: dict[str, str]

    def resolve(self, name: str) -> str | None:
        """The reference's own name for a contig as a variant file spells it, or None if unknown."""
        return self.aliases.get(name)

    def fetch(self, contig: str, start: int, end: int) -> str:
        """Bases ``[start, end)`` uppercase, N where the interval runs past either end of the contig."""
        length = self.lengths[contig]
        left, right = max(start, 0), min(end, length)
        core = self._fetch(contig, left, right) if right > left else ""
        return "N" * (left - start) + core + "N" * max(end - max(right, start), 0)

    def _fetch(self, contig: str, start: int, end: int) -> str:
        raise NotImplementedError


class IndexedReference(_Contigs):
    """On-demand reads through the FASTA index: memory stays flat whatever the genome size."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fasta = open_fasta(self.path)
        self.lengths = dict(zip(self.fasta.references, self.fasta.lengths, strict=True))
        self.aliases = contig_aliases(list(self.lengths))

    def _fetch(self, contig: str, start: int, end: int) -> str:
        raw = self.fasta.fetch(contig, start, end).encode()
        return _UPPER[np.frombuffer(raw, dtype=np.uint8)].tobytes().decode()


class Reference(_Contigs):
    """Every contig in memory as uppercase ASCII (1 byte a base: 3.1 GB for GRCh37), held once as
    bytes (window slices are a memcpy) with read-only uint8 views for vectorised context look-ups."""

    def __init__(self, contigs: dict[str, np.ndarray], path: Path | None = None) -> None:
        self.path = path
        self._bytes = {
            name: np.ascontiguousarray(seq, dtype=np.uint8).tobytes() for name, seq in contigs.items()
        }
        self.contigs = {name: np.frombuffer(raw, dtype=np.uint8) for name, raw in self._bytes.items()}
        self.lengths = {name: len(seq) for name, seq in contigs.items()}
        self.aliases = contig_aliases(list(contigs))

    @classmethod
    def load(cls, path: str | Path) -> Reference:
        fasta = open_fasta(path)
        contigs = {
            name: _UPPER[np.frombuffer(fasta.fetch(name).encode(), dtype=np.uint8)]
            for name in fasta.references
        }
        return cls(contigs, Path(path))

    @classmethod
    def from_strings(cls, contigs: dict[str, str]) -> Reference:
        """For tests and the simulator: sequences given as text (soft-masking allowed)."""
        return cls({n: _UPPER[np.frombuffer(s.encode(), dtype=np.uint8)] for n, s in contigs.items()})

    def _fetch(self, contig: str, start: int, end: int) -> str:
        return self._bytes[contig][start:end].decode()


def write_fasta(contigs: dict[str, str], path: Path, line_width: int = 60, bgzip: bool = True) -> None:
    """Write (and index) a FASTA; bgzipped when ``bgzip``, as the simulator ships its genome."""
    plain = path.with_name(path.name.removesuffix(".gz")) if bgzip else path
    with plain.open("w") as handle:
        for name, seq in contigs.items():
            lines = [seq[i : i + line_width] for i in range(0, len(seq), line_width)]
            handle.write(f">{name}\n" + "\n".join(lines) + "\n")
    if bgzip:
        pysam.tabix_compress(str(plain), str(path), force=True)
        plain.unlink()
    pysam.faidx(str(path))


def write_plain_gzip(contigs: dict[str, str], path: Path) -> None:
    """A gzip (not bgzip) FASTA: what users often have, and what must be refused with a fix."""
    with gzip.open(path, "wt") as handle:
        for name, seq in contigs.items():
            handle.write(f">{name}\n{seq}\n")
