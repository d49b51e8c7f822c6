"""Volumes on the native CT grid: voxel count x voxel volume (mL = mm³ / 1000).

The liver is the union of the liver labels (Couinaud segments, an explicit liver label, and
the hepatic tumour). Voxels labelled as a vessel are not liver parenchyma, wherever they are:
they count in the vessel's volume and in no liver, segment, lobe or remnant volume. Each
hepatic tumour voxel is assigned to the segment of its nearest parenchyma voxel, so a
segment's total volume includes the tumour inside it and the segment totals add up to the
liver.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.quantify.lesions import NO_PARENCHYMA, UNSEGMENTED_LIVER, TumourAnalysis
from pipeline.segment.geometry import value_counts
from pipeline.structures import COUINAUD_SEGMENTS, Structure

SEGMENTS: tuple[int, ...] = tuple(range(1, 9))
RIGHT_HEMILIVER: tuple[int, ...] = (5, 6, 7, 8)
LEFT_HEMILIVER: tuple[int, ...] = (2, 3, 4)


def segment_name(number: int) -> str:
    """Output name of Couinaud segment ``number`` (``couinaud_N``)."""
    return COUINAUD_SEGMENTS[number - 1].value


@dataclass(frozen=True)
class LiverVolumes:
    """Liver, tumour and per-segment volumes as reported (None: withheld or not measured).

    Parameters
    ----------
    liver_ml : float or None
        Whole liver including hepatic tumour, excluding vessel-labelled voxels, mL.
    tumour_ml : float or None
        Total tumour volume (TTV): sum of the hepatic lesions, mL.
    segment_total_ml : dict of int to float or None
        Couinaud segment (1-8) -> volume including the tumour located in it, mL. Empty
        when the label map has no segments.
    segment_tumour_ml : dict of int to float or None
        Couinaud segment -> lesion volume located in it, mL.
    """

    liver_ml: float | None
    tumour_ml: float | None
    segment_total_ml: dict[int, float | None]
    segment_tumour_ml: dict[int, float | None]

    @property
    def has_segments(self) -> bool:
        """True when Couinaud segments were segmented."""
        return bool(self.segment_total_ml)

    def region(self, segments: Iterable[int]) -> tuple[float | None, float | None]:
        """Total and tumour volume (mL) of a set of segments; None where any is unknown."""
        segs = list(segments)
        if not self.has_segments:
            return None, None
        totals = [self.segment_total_ml.get(s) for s in segs]
        tumours = [self.segment_tumour_ml.get(s) for s in segs]
        total = None if any(v is None for v in totals) else float(sum(totals))  # type: ignore[arg-type]
        tumour = None if any(v is None for v in tumours) else float(sum(tumours))  # type: ignore[arg-type]
        return total, tumour


def structure_volumes_ml(labelmap: NDArray[np.integer], labels: dict[int, Structure],
                         voxel_ml: float) -> dict[str, float]:
    """Volume of every structure of the label mapping (labels of one structure added), mL."""
    counts = value_counts(labelmap, minlength=max(labels, default=0) + 1)
    out: dict[str, float] = {}
    for value, structure in labels.items():
        out[structure.value] = out.get(structure.value, 0.0) + float(counts[value]) * voxel_ml
    return out


def parenchyma_keys(labelmap: NDArray[np.integer], labels: dict[int, Structure]
                    ) -> NDArray[np.int8]:
    """Segment number (1-8) per parenchyma voxel, 0 for an explicit liver label, -1 elsewhere."""
    lut = np.full(max(max(labels, default=0), int(labelmap.max(initial=0))) + 1, NO_PARENCHYMA,
                  np.int8)
    for value, structure in labels.items():
        if structure in COUINAUD_SEGMENTS:
            lut[value] = COUINAUD_SEGMENTS.index(structure) + 1
        elif structure is Structure.LIVER:
            lut[value] = UNSEGMENTED_LIVER
    return lut[labelmap]


def structures_touching_edge(labelmap: NDArray[np.integer], labels: dict[int, Structure]
                             ) -> set[str]:
    """Structures with a voxel on any face of the image volume (incomplete coverage)."""
    faces = [labelmap[0], labelmap[-1], labelmap[:, 0], labelmap[:, -1],
             labelmap[:, :, 0], labelmap[:, :, -1]]
    present = set(np.unique(np.concatenate([f.ravel() for f in faces])).tolist())
    return {labels[v].value for v in present if v in labels}


def liver_volumes(keys: NDArray[np.int8], tumour: TumourAnalysis, voxel_ml: float
                  ) -> LiverVolumes:
    """Liver, TTV and per-segment volumes before any quality gate.

    Parameters
    ----------
    keys : ndarray of int8
        Output of :func:`parenchyma_keys`.
    tumour : TumourAnalysis
        Located tumour components.
    voxel_ml : float
        Voxel volume, mL.
    """
    counts = value_counts(keys.view(np.uint8), minlength=9)  # keys < 0 count above 127
    parenchyma = {k: int(counts[k]) for k in range(0, 9)}
    hepatic_tumour = sum(tumour.hepatic_tumour_voxels_by_key.values())
    liver = (sum(parenchyma.values()) + hepatic_tumour) * voxel_ml
    ttv = sum(les.volume_ml for les in tumour.lesions if les.hepatic)
    seg_total: dict[int, float | None] = {}
    seg_tumour: dict[int, float | None] = {}
    if any(parenchyma[s] for s in SEGMENTS):
        for s in SEGMENTS:
            assigned = tumour.hepatic_tumour_voxels_by_key.get(s, 0)
            seg_total[s] = (parenchyma[s] + assigned) * voxel_ml
            seg_tumour[s] = tumour.lesion_voxels_by_key.get(s, 0) * voxel_ml
    return LiverVolumes(liver_ml=liver if liver > 0 else None, tumour_ml=ttv,
                        segment_total_ml=seg_total, segment_tumour_ml=seg_tumour)


def lung_mass_from_ct_kg(hu: NDArray[np.floating], lung: NDArray[np.bool_], voxel_ml: float,
                         max_density_g_ml: float) -> float:
    """Lung mass from CT, kg: sum of voxel volume x clip((HU + 1000) / 1000, 0, max) g/mL."""
    density = np.clip((hu[lung].astype(np.float64) + 1000.0) / 1000.0, 0.0, max_density_g_ml)
    return float(density.sum() * voxel_ml / 1000.0)
