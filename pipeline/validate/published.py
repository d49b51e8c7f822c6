"""Published figures of the seed studies (``docs/clinical-sources.md`` §8), for the side-by-side
table.

Each entry names how the same figure is read from this site's summary, so the report can
put the two next to each other. The published figures come from other data sets, other
reference standards and (mostly) real patients; they frame this site's figures, they are
not targets the synthetic demo figures can be compared with as equals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Published:
    """One published figure.

    Parameters
    ----------
    study : str
        Study and method, as in ``docs/clinical-sources.md`` §8.
    figure : str
        What was measured.
    value : str
        The published value, as published.
    site_key : tuple[str, ...]
        Path of the matching figure in this site's summary (``summary.json``), or empty.
    """

    study: str
    figure: str
    value: str
    site_key: tuple[str, ...] = ()


LCS = "LCS (nnU-Net, 446 CECT, CRLM)"
CHIERICI = "Chierici (nnU-Net, 80 pts, portal phase)"
FLR = "FLR benchmark (CRLM-CT-Seg, 197 vols)"
COALA = "COALA (nnU-Net cascade, self-training)"
SIRT = "SIRT CNN (DeepMedic variant)"

PUBLISHED: tuple[Published, ...] = (
    Published(LCS, "Liver Dice", "0.9707", ("structures", "liver", "dice", "mean")),
    Published(LCS, "Tumour Dice", "0.7695", ("structures", "metastasis", "dice", "mean")),
    Published(LCS, "Liver NSD @ 3 mm", "0.9605", ("structures", "liver", "nsd", "mean")),
    Published(LCS, "Tumour NSD @ 3 mm", "0.8412", ("structures", "metastasis", "nsd", "mean")),
    Published(LCS, "AURC of the confidence score (×100)", "16.7 -> 10.3",
              ("confidence", "aurc_x100")),
    Published(CHIERICI, "Liver Dice (test)", "0.964", ("structures", "liver", "dice", "mean")),
    Published(CHIERICI, "Portal vein Dice", "0.759",
              ("structures", "portal_vein", "dice", "mean")),
    Published(CHIERICI, "Hepatic vein Dice", "0.795",
              ("structures", "hepatic_vein", "dice", "mean")),
    Published(CHIERICI, "IVC Dice", "0.812", ("structures", "ivc", "dice", "mean")),
    Published(CHIERICI, "CRLM Dice", "0.693", ("structures", "metastasis", "dice", "mean")),
    Published(CHIERICI, "clDice (range over structures)", "0.967–0.677", ("cldice_range",)),
    Published(CHIERICI, "Liver HD95 (mm)", "4.29", ("structures", "liver", "hd95_mm", "mean")),
    Published(FLR, "Liver Dice, nnU-Net / STU-Net", "0.944 / 0.973",
              ("structures", "liver", "dice", "mean")),
    Published(FLR, "CRLM Dice, nnU-Net / STU-Net", "0.525 / 0.594",
              ("structures", "metastasis", "dice", "mean")),
    Published(COALA, "CRLM Dice, internal / external", "0.85 / 0.83",
              ("structures", "metastasis", "dice", "mean")),
    Published(COALA, "Total tumour volume ICC", "0.97",
              ("volume_agreement", "metastasis", "icc", "icc2_1")),
    Published(SIRT, "Liver median Dice vs manual", "0.94",
              ("structures", "liver", "dice", "median")),
    Published(SIRT, "Liver volume ratio within 0.9–1.1", "38/40 cases",
              ("liver_volume_ratio_within",)),
)
"""The seed studies' published figures, in ``docs/clinical-sources.md`` §8 order."""


def site_value(summary: dict[str, Any], key: tuple[str, ...]) -> Any:
    """The figure at ``key`` in a summary, or None where the site has no such figure."""
    node: Any = summary
    for part in key:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
