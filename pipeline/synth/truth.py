"""Exact ground-truth volumes of a phantom, by adaptive fine sampling.

The labelled structures are sampled on a coarse grid (``coarse_mm``) over the boxes that
can hold a label (liver, IVC, portal trunk). Every coarse cell whose label differs from one
of its 26 neighbours (a cell that may straddle a boundary) is resampled at ``refine`` x
``refine`` x ``refine`` points (0.5 mm with the defaults); the other cells count whole.
A structure thinner than the coarse cell could slip between coarse samples; the smallest
structures (3 mm lesions, 2 mm vessel radius) are larger than the 2 mm cell, and every
cell within a small lesion's bounding box is refined regardless.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from pipeline.structures import DEMO_LABELS, Structure

from .phantom import Phantom
from .shapes import FloatArray
from .tissue import LESION_BASE

_BATCH = 60_000


@dataclass(frozen=True)
class TruthVolumes:
    """Volumes of the labelled structures of a phantom.

    Parameters
    ----------
    structures_ml : dict
        Structure value (``liver``, ``couinaud_1`` .. ``couinaud_8``, ``metastasis``,
        ``portal_vein``, ``hepatic_vein``, ``ivc``) -> mL.
    lesions_ml : list of float
        Volume of each lesion (after vessels took their share), mL.
    sample_mm : float
        Finest sampling step used, mm.
    """

    structures_ml: dict[str, float]
    lesions_ml: list[float]
    sample_mm: float


def _domain_boxes(phantom: Phantom) -> list[tuple[FloatArray, FloatArray]]:
    boxes = [phantom.liver.bbox]
    boxes += [c.bbox for c in phantom.ivc]
    boxes += [c.bbox for c in phantom.portal_veins[:phantom.portal_trunk_count]]
    return boxes


def _classify_batched(phantom: Phantom, pts: FloatArray
                      ) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    tissue = np.empty(len(pts), dtype=np.uint8)
    labels = np.empty(len(pts), dtype=np.uint8)
    # keep batches spatially compact (points arrive sorted by z) so boxes prune solids
    for i in range(0, len(pts), _BATCH):
        t, lab = phantom.classify(pts[i:i + _BATCH], with_tissue=False)
        tissue[i:i + _BATCH] = t
        labels[i:i + _BATCH] = lab
    return tissue, labels


def exact_volumes(phantom: Phantom, coarse_mm: float = 2.0, refine: int = 4) -> TruthVolumes:
    """Volumes of every labelled structure and lesion.

    Parameters
    ----------
    phantom : Phantom
        The anatomy.
    coarse_mm : float
        Coarse cell size, mm.
    refine : int
        Samples per cell edge in cells that may straddle a boundary (step
        ``coarse_mm / refine``).

    Returns
    -------
    TruthVolumes
        The volumes.
    """
    boxes = _domain_boxes(phantom)
    lo = np.min([b[0] for b in boxes], axis=0) - coarse_mm
    hi = np.max([b[1] for b in boxes], axis=0) + coarse_mm
    shape = tuple(int(np.ceil((hi[a] - lo[a]) / coarse_mm)) for a in range(3))
    axes = [lo[a] + (np.arange(shape[a]) + 0.5) * coarse_mm for a in range(3)]
    in_domain = np.zeros(shape, dtype=bool)
    for blo, bhi in boxes:
        sl = tuple(slice(max(0, int((blo[a] - lo[a]) / coarse_mm) - 1),
                         min(shape[a], int((bhi[a] - lo[a]) / coarse_mm) + 2)) for a in range(3))
        in_domain[sl] = True
    # points ordered z-major so that batches are thin slabs
    idx = np.argwhere(in_domain.transpose(2, 1, 0))[:, ::-1]
    pts = np.column_stack([axes[0][idx[:, 0]], axes[1][idx[:, 1]], axes[2][idx[:, 2]]])
    tissue_c, labels_c = _classify_batched(phantom, pts)
    lab = np.zeros(shape, dtype=np.uint8)
    tis = np.zeros(shape, dtype=np.uint8)
    lab[tuple(idx.T)] = labels_c
    tis[tuple(idx.T)] = tissue_c
    lesion_id = np.where(tis >= LESION_BASE, (tis.astype(np.int32) - LESION_BASE) // 2 + 1, 0)
    key = lab.astype(np.int32) * 256 + lesion_id
    footprint = np.ones((3, 3, 3), bool)
    mixed = ndimage.maximum_filter(key, footprint=footprint) != ndimage.minimum_filter(
        key, footprint=footprint)
    for les in phantom.lesions:
        if les.diameter_mm < 4 * coarse_mm:
            llo, lhi = les.solid.bbox
            sl = tuple(slice(max(0, int((llo[a] - lo[a]) / coarse_mm) - 1),
                             min(shape[a], int((lhi[a] - lo[a]) / coarse_mm) + 2))
                       for a in range(3))
            mixed[sl] = True
    mixed &= in_domain
    n_lab = 256
    cell_ml = coarse_mm ** 3 / 1000.0
    whole = ~mixed & in_domain
    label_ml = np.bincount(lab[whole], minlength=n_lab).astype(float) * cell_ml
    tissue_ml = np.bincount(tis[whole], minlength=256).astype(float) * cell_ml
    step = coarse_mm / refine
    sub = (np.arange(refine) + 0.5) * step - coarse_mm / 2
    offs = np.stack(np.meshgrid(sub, sub, sub, indexing="ij"), axis=-1).reshape(-1, 3)
    cells = np.argwhere(mixed.transpose(2, 1, 0))[:, ::-1]
    sub_ml = step ** 3 / 1000.0
    per_batch = max(1, _BATCH // len(offs))
    for i in range(0, len(cells), per_batch):
        c = cells[i:i + per_batch]
        centres = np.column_stack([axes[0][c[:, 0]], axes[1][c[:, 1]], axes[2][c[:, 2]]])
        fine = (centres[:, None, :] + offs[None, :, :]).reshape(-1, 3)
        t, la = phantom.classify(fine, with_tissue=False)
        label_ml += np.bincount(la, minlength=n_lab) * sub_ml
        tissue_ml += np.bincount(t, minlength=256) * sub_ml
    structures: dict[str, float] = {}
    for value, structure in DEMO_LABELS.items():
        structures[structure.value] = float(label_ml[value])
    structures[Structure.LIVER.value] = float(sum(label_ml[v] for v in range(1, 10)))
    lesions = [float(tissue_ml[LESION_BASE + 2 * i] + tissue_ml[LESION_BASE + 2 * i + 1])
               for i in range(len(phantom.lesions))]
    return TruthVolumes(structures, lesions, step)
