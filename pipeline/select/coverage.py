"""Is the liver inside the scanned range?

Before segmentation (a heuristic on sampled slices): the scan must be long enough, and from
the slice with the largest liver-like region towards each end of the scan that region must
shrink to a small fraction of its largest area (the liver ends inside the scan).
After segmentation: a structure touching the first or last slice, or the in-plane edge of the
field of view, is "incomplete coverage".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.select.config import CoverageConfig


@dataclass(frozen=True)
class CoverageReport:
    """Liver coverage before segmentation.

    Parameters
    ----------
    status : str
        ``complete``, ``incomplete`` or ``unknown``.
    evidence : list[str]
        Why, in words.
    """

    status: str
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"status": self.status, "evidence": list(self.evidence)}


def assess_coverage(
    liver_areas_mm2: Sequence[float],
    scan_length_mm: float,
    cranial_last: bool,
    config: CoverageConfig,
) -> CoverageReport:
    """Heuristic liver coverage from sampled slices.

    An end of the scan is covered when, going from the slice with the largest liver-like
    area towards that end, the area drops to at most ``edge_area_fraction`` of the largest
    (the liver ended inside the scan; other organs may follow).

    Parameters
    ----------
    liver_areas_mm2 : sequence of float
        Liver-like area per sampled slice, in volume order, first and last slice included
        (:func:`pipeline.select.image_evidence.liver_like_areas`).
    scan_length_mm : float
        Extent of the volume along the normal, mm.
    cranial_last : bool
        True when the last slice is the most cranial (normal points to the head).
    config : CoverageConfig
        Thresholds.
    """
    evidence: list[str] = []
    if scan_length_mm < config.min_scan_length_mm:
        evidence.append(f"scan length {scan_length_mm:.0f} mm < {config.min_scan_length_mm:.0f} mm")
        return CoverageReport("incomplete", evidence)
    areas = np.asarray(liver_areas_mm2, dtype=float)
    if len(areas) < 2 or areas.max() <= 0:
        return CoverageReport("unknown", ["no liver-like region found on sampled slices"])
    peak_index = int(np.argmax(areas))
    peak = float(areas[peak_index])
    dips = {
        "first": float(areas[: peak_index + 1].min()) / peak,
        "last": float(areas[peak_index:].min()) / peak,
    }
    names = (
        {"first": "caudal", "last": "cranial"}
        if cranial_last
        else {"first": "cranial", "last": "caudal"}
    )
    cut: list[str] = []
    for end, dip in dips.items():
        evidence.append(f"{names[end]} end: liver-like area falls to {dip:.0%} of its largest")
        if dip > config.edge_area_fraction:
            cut.append(names[end])
    if cut:
        evidence.append(f"liver appears cut off at the {' and '.join(cut)} end")
        return CoverageReport("incomplete", evidence)
    return CoverageReport("complete", evidence)


def coverage_after_segmentation(
    labelmap: NDArray[np.integer[Any]],
    liver_label_values: Iterable[int] | Mapping[str, int],
) -> list[str]:
    """Structures of a label map that touch the ends of the scanned range or the in-plane
    edge of the field of view ("incomplete coverage").

    Parameters
    ----------
    labelmap : ndarray of int, shape (z, y, x)
        Label values per voxel, slices in volume order.
    liver_label_values : iterable of int, or mapping of name to int
        Label values to check (e.g. liver and its segments); a mapping names them.

    Returns
    -------
    list[str]
        One message per label and edge touched, e.g.
        ``"liver (label 1): incomplete coverage, touches the first slice"``; empty when
        every structure is fully inside.
    """
    names = (
        {int(v): str(k) for k, v in liver_label_values.items()}
        if isinstance(liver_label_values, Mapping)
        else {int(v): f"label {int(v)}" for v in liver_label_values}
    )
    lab = np.asarray(labelmap)
    edges = {
        "the first slice": lab[0],
        "the last slice": lab[-1],
        "the in-plane edge of the field of view": np.concatenate(
            [
                lab[:, 0, :].ravel(),
                lab[:, -1, :].ravel(),
                lab[:, :, 0].ravel(),
                lab[:, :, -1].ravel(),
            ]
        ),
    }
    messages = []
    for value, name in sorted(names.items()):
        label = name if name.startswith("label ") else f"{name} (label {value})"
        for edge, voxels in edges.items():
            if np.any(voxels == value):
                messages.append(f"{label}: incomplete coverage, touches {edge}")
    return messages
