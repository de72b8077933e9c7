"""Simulated cancer types: which COSMIC signatures each carries, its burden, indel and doublet shares.

Exposures follow the signature literature (Alexandrov et al. 2020, PCAWG): UV (SBS7a/b, DBS1, ID13)
for melanoma, tobacco (SBS4, DBS2, ID3) for lung, APOBEC (SBS2/13, DBS11) for breast and bladder,
HR deficiency (SBS3, ID6/ID8) for part of breast, mismatch-repair deficiency (SBS6/15/26, DBS7/10,
ID1/ID2) for MSI colorectal, aristolochic acid and liver signatures (SBS22, SBS12, SBS16) for liver,
clock-like SBS1/SBS5 (and ID5) in all. Burden medians are per simulated genome (a few tens of Mb, so
far below a real genome's), with the ratios between types kept roughly as in PCAWG.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ContextRule:
    """A mutational preference that the 96 SBS classes cannot see: the ground truth of the
    beyond-the-96 presets, applied to the mutations of ``signatures`` only (context_rules.py draws it).

    - ``upstream``: a mutation whose base two 5' of the mutated pyrimidine is not in ``bases`` is kept
      with probability ``leak`` (APOBEC3A deaminates YTCA, APOBEC3B RTCA: Chan et al. 2015).
    - ``motif``: a ``share`` of the mutations lies within ``distance`` bp of ``motif`` (either strand),
      as mutations near transcription-factor binding sites do.
    - ``strand``: inside (simulated) genes, a mutation whose pyrimidine is on the transcribed strand is
      kept with probability ``leak`` (transcription-coupled repair of that strand's damage).
    """

    kind: str  # upstream | motif | strand
    signatures: tuple[str, ...]
    bases: str = ""
    motif: str = ""
    distance: int = 0
    share: float = 0.0
    leak: float = 1.0


@dataclass(frozen=True)
class CancerType:
    name: str  # PCAWG histology_abbreviation
    organ_system: str
    sbs: dict[str, float]
    dbs: dict[str, float]
    indels: dict[str, float] = field(default_factory=dict)
    burden_median: float = 1000.0  # mutations per donor (SBS + DBS + ID)
    indel_share: float = 0.08
    dbs_share: float = 0.01
    context: ContextRule | None = None
    # Types in one group share their 1-Mb regional density, so that only the context rule tells them apart
    density_group: str | None = None


PRESETS: dict[str, CancerType] = {
    t.name: t
    for t in (
        CancerType(
            "Skin-Melanoma",
            "skin",
            sbs={"SBS7a": 0.45, "SBS7b": 0.3, "SBS1": 0.05, "SBS5": 0.2},
            dbs={"DBS1": 0.9, "DBS2": 0.1},
            indels={"ID13": 0.35, "ID1": 0.2, "ID2": 0.15, "ID5": 0.3},
            burden_median=4000,
            indel_share=0.02,
            dbs_share=0.03,
        ),
        CancerType(
            "Lung-SCC",
            "lung",
            sbs={"SBS4": 0.5, "SBS5": 0.2, "SBS1": 0.05, "SBS2": 0.1, "SBS13": 0.15},
            dbs={"DBS2": 0.8, "DBS4": 0.2},
            indels={"ID3": 0.5, "ID1": 0.2, "ID2": 0.1, "ID5": 0.2},
            burden_median=3000,
            indel_share=0.06,
            dbs_share=0.02,
        ),
        CancerType(
            "Breast-AdenoCa",
            "breast",
            sbs={"SBS1": 0.1, "SBS5": 0.3, "SBS2": 0.2, "SBS13": 0.2, "SBS3": 0.2},
            dbs={"DBS11": 0.4, "DBS2": 0.3, "DBS4": 0.3},
            indels={"ID1": 0.2, "ID2": 0.2, "ID6": 0.3, "ID8": 0.3},
            burden_median=800,
            indel_share=0.08,
            dbs_share=0.01,
        ),
        CancerType(
            "Bladder-TCC",
            "bladder",
            sbs={"SBS2": 0.3, "SBS13": 0.3, "SBS5": 0.3, "SBS1": 0.1},
            dbs={"DBS11": 0.5, "DBS2": 0.5},
            indels={"ID1": 0.3, "ID2": 0.3, "ID5": 0.4},
            burden_median=1500,
            indel_share=0.05,
            dbs_share=0.01,
        ),
        CancerType(
            "ColoRect-AdenoCA-MSI",
            "colon/rectum",
            sbs={"SBS6": 0.3, "SBS15": 0.2, "SBS26": 0.2, "SBS1": 0.2, "SBS5": 0.1},
            dbs={"DBS7": 0.5, "DBS10": 0.5},
            indels={"ID1": 0.45, "ID2": 0.45, "ID5": 0.1},
            burden_median=6000,
            indel_share=0.3,
            dbs_share=0.01,
        ),
        CancerType(
            "Liver-HCC",
            "liver",
            sbs={"SBS5": 0.3, "SBS1": 0.1, "SBS12": 0.2, "SBS16": 0.2, "SBS22": 0.2},
            dbs={"DBS2": 0.5, "DBS4": 0.5},
            indels={"ID1": 0.3, "ID2": 0.3, "ID5": 0.4},
            burden_median=1000,
            indel_share=0.07,
            dbs_share=0.01,
        ),
        # Types that share signatures with the ones above, as real cohorts do: stomach and oesophagus
        # share SBS17; ovary shares HR deficiency with breast; prostate and kidney are mostly clock-like,
        # so burden and regional density have to tell them apart (Jiao et al. 2020).
        CancerType(
            "Stomach-AdenoCA",
            "stomach",
            sbs={"SBS17a": 0.15, "SBS17b": 0.25, "SBS1": 0.25, "SBS5": 0.25, "SBS18": 0.1},
            dbs={"DBS2": 0.5, "DBS4": 0.5},
            indels={"ID1": 0.3, "ID2": 0.3, "ID5": 0.4},
            burden_median=900,
            indel_share=0.06,
            dbs_share=0.01,
        ),
        CancerType(
            "Eso-AdenoCa",
            "esophagus",
            sbs={"SBS17a": 0.2, "SBS17b": 0.35, "SBS1": 0.15, "SBS5": 0.2, "SBS2": 0.05, "SBS13": 0.05},
            dbs={"DBS2": 0.6, "DBS4": 0.4},
            indels={"ID1": 0.3, "ID2": 0.2, "ID5": 0.3, "ID8": 0.2},
            burden_median=1200,
            indel_share=0.05,
            dbs_share=0.01,
        ),
        CancerType(
            "Ovary-AdenoCA",
            "ovary",
            sbs={"SBS3": 0.4, "SBS1": 0.2, "SBS5": 0.3, "SBS8": 0.1},
            dbs={"DBS2": 0.5, "DBS4": 0.5},
            indels={"ID6": 0.35, "ID8": 0.35, "ID1": 0.15, "ID2": 0.15},
            burden_median=700,
            indel_share=0.09,
            dbs_share=0.01,
        ),
        CancerType(
            "Prost-AdenoCA",
            "prostate",
            sbs={"SBS1": 0.35, "SBS5": 0.55, "SBS3": 0.1},
            dbs={"DBS2": 0.5, "DBS4": 0.5},
            indels={"ID1": 0.3, "ID2": 0.3, "ID5": 0.4},
            burden_median=300,
            indel_share=0.07,
            dbs_share=0.01,
        ),
        CancerType(
            "Kidney-RCC",
            "kidney",
            sbs={"SBS5": 0.5, "SBS40": 0.4, "SBS1": 0.1},
            dbs={"DBS2": 0.5, "DBS4": 0.5},
            indels={"ID1": 0.3, "ID2": 0.3, "ID5": 0.4},
            burden_median=500,
            indel_share=0.08,
            dbs_share=0.01,
        ),
    )
}


def _pair(
    names: tuple[str, str], group: str, rules: tuple[ContextRule | None, ContextRule | None], **shared
) -> tuple[CancerType, CancerType]:
    return tuple(  # type: ignore[return-value]
        CancerType(name, group, context=rule, density_group=group, **shared)
        for name, rule in zip(names, rules, strict=True)
    )


APOBEC = ("SBS2", "SBS13")
_APOBEC_SHARED = {
    "sbs": {"SBS2": 0.4, "SBS13": 0.3, "SBS1": 0.1, "SBS5": 0.2},
    "dbs": {"DBS11": 0.5, "DBS2": 0.5},
    "indels": {"ID1": 0.3, "ID2": 0.3, "ID5": 0.4},
    "burden_median": 800,
}
_MOTIF_SHARED = {
    "sbs": {"SBS5": 0.5, "SBS1": 0.2, "SBS18": 0.3},
    "dbs": {"DBS2": 0.5, "DBS4": 0.5},
    "indels": {"ID1": 0.3, "ID2": 0.3, "ID5": 0.4},
    "burden_median": 800,
}
_STRAND_SHARED = {
    "sbs": {"SBS4": 0.6, "SBS5": 0.3, "SBS1": 0.1},
    "dbs": {"DBS2": 0.8, "DBS4": 0.2},
    "indels": {"ID3": 0.5, "ID1": 0.2, "ID2": 0.1, "ID5": 0.2},
    "burden_median": 800,
}
E_BOX = "CACGTG"  # a palindromic 6-mer (the E-box that MYC/MAX bind)

# Beyond the 96 classes: three pairs, each pair with one spectrum, one burden and one regional density,
# so that a catalogue model cannot tell a pair apart while the sequence around the mutations can.
BEYOND_96: dict[str, CancerType] = {
    t.name: t
    for t in (
        *_pair(
            ("APOBEC3A-like", "APOBEC3B-like"),
            "apobec",
            (
                ContextRule("upstream", APOBEC, bases="CT", leak=0.2),  # YTCA
                ContextRule("upstream", APOBEC, bases="AG", leak=0.2),  # RTCA
            ),
            **_APOBEC_SHARED,
        ),
        *_pair(
            ("Motif-proximal", "Motif-control"),
            "motif",
            (ContextRule("motif", ("SBS5", "SBS1", "SBS18"), motif=E_BOX, distance=4, share=0.5), None),
            **_MOTIF_SHARED,
        ),
        *_pair(
            ("Strand-biased", "Strand-control"),
            "strand",
            (ContextRule("strand", ("SBS4",), leak=0.2), None),
            **_STRAND_SHARED,
        ),
    )
}
PRESETS.update(BEYOND_96)
