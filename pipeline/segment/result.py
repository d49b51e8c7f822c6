"""The segmentation result handed to quantification and the DICOM writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.segment.confidence import Confidence
from pipeline.segment.model_folders import DEMO_NOTICE, ModelInfo
from pipeline.structures import DEMO_LABELS, Structure

OUTPUT_LABEL_VALUES: dict[Structure, int] = {
    **{s: v for v, s in DEMO_LABELS.items()},
    Structure.LIVER: 13,
    Structure.LUNG: 14,
}
"""Label value of each structure in the engine's combined label map (the demo labels, plus
13 for an explicit liver and 14 for lung)."""


@dataclass(frozen=True)
class SegmentationResult:
    """A combined, post-processed segmentation of one CT volume.

    Parameters
    ----------
    labelmap : ndarray of uint8, shape (z, y, x)
        Label values on the CT grid, slice order as in the input volume.
    labels : dict[int, Structure]
        Label value -> structure for the values the engine can write (see
        :data:`OUTPUT_LABEL_VALUES`).
    fold_dice : dict[Structure, float]
        Mean pairwise Dice between fold predictions per structure ('liver' = union of
        the liver parts when the model segments parts).
    confidence : Confidence
        Study-level score and review recommendation.
    models : list[ModelInfo]
        The models used (name, version, weights hash, folds, demo flag).
    device : str
        Inference device actually used (``cpu`` or ``cuda``).
    timings_s : dict[str, float]
        Seconds per stage: ``load``, ``<model>.preprocess``, ``<model>.inference.fold_<k>``,
        ``<model>.resample``, ``postprocess``, ``confidence``, ``total``.
    volumes_ml : dict[Structure, float]
        Volume per structure in the final label map, mL ('liver' = union of liver parts).
    spacing_mm : tuple[float, float, float]
        Voxel spacing (z, y, x) of the label map, mm.
    warnings : list[str]
        Non-fatal events (CUDA fallback, skipped cascade stage).
    stages : list[dict]
        Per stage: ``model``; ``box_zyx``, the [start, stop) voxel ranges of the CT the
        model ran on (None when skipped, with ``skipped`` saying why); ``network_shape``
        and ``network_spacing_mm`` (mm), the grid nnU-Net resampled the box to;
        ``mirror_axes``, the axes flipped for test-time mirroring (empty: none);
        ``sliding_window``, who ran it (``nnunet`` or ``dicomnode-<precision>``).
    regions : dict[Structure, ndarray of bool]
        Planning regions of a learned FLR model (:data:`pipeline.structures.
        PLANNING_REGIONS`), each a mask (z, y, x) on the label map's grid; they overlap the
        label map's structures and are not in it. Their volumes are in ``volumes_ml``.
    """

    labelmap: NDArray[np.uint8]
    labels: dict[int, Structure]
    fold_dice: dict[Structure, float]
    confidence: Confidence
    models: list[ModelInfo]
    device: str
    timings_s: dict[str, float]
    volumes_ml: dict[Structure, float] = field(default_factory=dict)
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    warnings: list[str] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    regions: dict[Structure, NDArray[np.bool_]] = field(default_factory=dict)

    @property
    def is_demo(self) -> bool:
        """True when any model used is a demo model (outputs not for clinical use)."""
        return any(m.is_demo for m in self.models)

    @property
    def region_model(self) -> str:
        """Name of the model that segmented the planning regions ('' without regions)."""
        return next((m.name for m in reversed(self.models)
                     if set(m.labels.values()) & set(self.regions)), "")

    def mask(self, structure: Structure) -> NDArray[np.bool_]:
        """Boolean mask (z, y, x) of one structure (empty if not segmented)."""
        if structure in self.regions:
            return self.regions[structure]
        values = [v for v, s in self.labels.items() if s == structure]
        return np.isin(self.labelmap, values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no arrays)."""
        present = set(np.unique(self.labelmap).tolist())
        return {
            "demo": self.is_demo,
            "notice": DEMO_NOTICE if self.is_demo else None,
            "shape_zyx": list(self.labelmap.shape),
            "spacing_mm_zyx": list(self.spacing_mm),
            "labels": {str(v): s.value for v, s in sorted(self.labels.items()) if v in present},
            "volumes_ml": {s.value: round(v, 3) for s, v in self.volumes_ml.items()},
            "fold_dice": {s.value: round(d, 4) for s, d in self.fold_dice.items()},
            "confidence": self.confidence.to_dict(),
            "models": [m.to_dict() for m in self.models],
            "device": self.device,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "warnings": list(self.warnings),
            "stages": [dict(s) for s in self.stages],
        }
