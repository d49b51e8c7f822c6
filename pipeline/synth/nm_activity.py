"""The exact, known microsphere (Y-90) / MAA activity distribution of a synthetic patient.

Assumptions (all of them; the truth in ``truth/dosimetry.json`` follows from these):

- Activity lies only in the liver parenchyma and tumour of the perfused territory and in
  the lungs (lung shunt). Everything else, including non-perfused liver, liver vessels
  (portal/hepatic vein lumen, IVC) and the rest of the body, holds none (no free
  pertechnetate, stomach, thyroid or kidney uptake in the MAA images).
- The perfused territory is a set of Couinaud segments (:class:`Territory`). A lesion is
  perfused when the segment at its centre (``Lesion.segment``) belongs to the territory;
  a perfused lesion is perfused as a whole.
- Concentrations (activity per mL) are uniform within each compartment: perfused normal
  liver ``a_N``, every perfused lesion ``a_T = T/N x a_N``, lungs ``a_L``. T/N is a ratio of
  concentrations per mL, equal to the ratio per gram because one density is used.
- The administered activity A (at the administration time; decay from the vial's
  calibration is not modelled) is split ``A_lung = LSF x A`` and ``A_liver = (1 - LSF) x A``,
  so lungs + liver hold A: ``a_N = A_liver / (V_N,perfused + T/N x V_T,perfused)`` and
  ``a_L = A_lung / V_lung``.
- The phantom's lungs are open towards the head; they are closed at
  ``max(dome heights) + LUNG_HEIGHT_MM`` (a lung is ~18 cm tall above the dome).
- Local deposition: ``D[Gy] = C x a[MBq/mL] / rho[g/mL]`` with C = 49.67 Gy kg/GBq and
  rho = 1.03 g/mL for every tissue, lungs included (CLINICAL.md section 3; 1 MBq/mL ->
  48.22 Gy). A region's mean dose is its activity over its mass (volume x rho).

Volumes: liver segments and lesions are the exact volumes of :func:`.truth.exact_volumes`
(adaptive 0.5 mm sampling); the lung volume is counted at the centres of 2.5 mm cells
(the lung is large and smooth: the error is well under 1 %). The activity images are
sampled on the same definitions (:func:`render_activity`), so the truth and the images
describe one distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .phantom import Phantom
from .render import Grid
from .shapes import FloatArray
from .tissue import LESION_BASE, Tissue

C_GY_KG_PER_GBQ = 49.67
"""Y-90 absorbed dose per activity and mass, Gy kg/GBq (EANM 2022)."""
RHO_G_PER_ML = 1.03
"""Tissue density used for every region, g/mL."""
LUNG_HEIGHT_MM = 180.0
"""Height of the modelled lungs above the higher diaphragm dome, mm."""
LABEL_METASTASIS = 9
"""DEMO_LABELS value of a metastasis."""
_BATCH = 60_000


class Territory(StrEnum):
    """Perfused territory of the (simulated) arterial injection."""

    WHOLE = "whole"
    """Whole liver, segments 1-8."""
    RIGHT = "right"
    """Right hemiliver, segments 5-8."""
    LEFT = "left"
    """Left hemiliver, segments 2-4."""

    @property
    def segments(self) -> tuple[int, ...]:
        """Couinaud segments (1..8) of the territory."""
        return {Territory.WHOLE: (1, 2, 3, 4, 5, 6, 7, 8), Territory.RIGHT: (5, 6, 7, 8),
                Territory.LEFT: (2, 3, 4)}[self]


@dataclass(frozen=True)
class ActivityModel:
    """Piecewise-uniform activity concentrations of one administration.

    Parameters
    ----------
    administered_gbq : float
        Activity reaching the patient (liver + lungs), GBq.
    lsf : float
        Lung shunt fraction (lung activity / administered activity).
    tn_ratio : float
        Tumour-to-normal concentration ratio.
    territory : Territory
        Perfused territory.
    normal_mbq_per_ml : float
        ``a_N``: perfused normal liver, MBq/mL.
    lesion_mbq_per_ml : tuple of float
        Each lesion's concentration (``T/N x a_N`` or 0 when not perfused), MBq/mL.
    lung_mbq_per_ml : float
        ``a_L``, MBq/mL.
    lung_z_range_mm : tuple of float
        Lowest and highest height of the lungs (planning coordinates; the apex closes
        them), mm.
    segment_volumes_ml : tuple of float
        Couinaud segments 1..8 (tumour excluded), mL.
    lesion_volumes_ml : tuple of float
        Each lesion, mL.
    lung_volume_ml : float
        Both lungs up to the apex, mL.
    """

    administered_gbq: float
    lsf: float
    tn_ratio: float
    territory: Territory
    normal_mbq_per_ml: float
    lesion_mbq_per_ml: tuple[float, ...]
    lung_mbq_per_ml: float
    lung_z_range_mm: tuple[float, float]
    segment_volumes_ml: tuple[float, ...]
    lesion_volumes_ml: tuple[float, ...]
    lung_volume_ml: float

    def concentration(self, tissue: NDArray[np.uint8], label: NDArray[np.uint8],
                      z_mm: FloatArray) -> NDArray[np.float64]:
        """Activity concentration at points classified by :meth:`Phantom.classify`, MBq/mL.

        Parameters
        ----------
        tissue, label : ndarray of uint8, shape (n,)
            Tissue and label of each point.
        z_mm : ndarray, shape (n,)
            Height of each point in planning coordinates (lung apex), mm.
        """
        table = np.zeros(256)
        table[list(self.territory.segments)] = self.normal_mbq_per_ml
        out = table[label]
        lesion = label == LABEL_METASTASIS
        if lesion.any():
            index = (tissue[lesion].astype(np.int64) - LESION_BASE) // 2
            out[lesion] = np.asarray(self.lesion_mbq_per_ml)[index]
        lung = (tissue == Tissue.LUNG) & (label == 0) & (z_mm <= self.lung_z_range_mm[1])
        out[lung] = self.lung_mbq_per_ml
        return np.asarray(out)


def lung_apex_z_mm(phantom: Phantom) -> float:
    """Height where the modelled lungs end, mm (planning coordinates)."""
    return float(max(phantom.body.dome_z_mm)) + LUNG_HEIGHT_MM


def lung_volume_ml(phantom: Phantom, apex_z_mm: float, step_mm: float = 2.5
                   ) -> tuple[float, float]:
    """Volume of both lungs below ``apex_z_mm``, counted at the centres of cubic cells.

    Axial planes are classified from the apex downwards until a plane holds no lung.

    Returns
    -------
    volume_ml : float
        Lung volume, mL.
    bottom_z_mm : float
        Height of the lowest plane that holds lung, mm.
    """
    ax, ay = phantom.body.semi_axes_mm
    xs = np.arange(-ax, ax, step_mm) + step_mm / 2
    ys = np.arange(-ay, ay, step_mm) + step_mm / 2
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    inside = (xx / ax) ** 2 + (yy / ay) ** 2 <= 1.0
    plane = np.column_stack([xx[inside], yy[inside], np.zeros(int(inside.sum()))])
    count = 0
    z = apex_z_mm - step_mm / 2
    bottom = z
    while True:
        plane[:, 2] = z
        tissue, label = phantom.classify(plane)
        n = int(np.count_nonzero((tissue == Tissue.LUNG) & (label == 0)))
        if n == 0 and count > 0:
            break
        count += n
        bottom = z
        z -= step_mm
    return count * step_mm ** 3 / 1000.0, bottom - step_mm / 2


def build_activity_model(phantom: Phantom, segment_volumes_ml: tuple[float, ...],
                         lesion_volumes_ml: tuple[float, ...], *, administered_gbq: float,
                         lsf: float, tn_ratio: float, territory: Territory) -> ActivityModel:
    """Concentrations that put ``administered_gbq`` into liver + lungs with the given LSF, T/N.

    Parameters
    ----------
    phantom : Phantom
        The anatomy (lesion segments, lungs).
    segment_volumes_ml : tuple of float
        Couinaud segments 1..8 (tumour excluded), mL (``volumes.json`` ``couinaud_s``).
    lesion_volumes_ml : tuple of float
        Each lesion, mL.
    administered_gbq : float
        Activity reaching the patient, GBq.
    lsf : float
        Lung shunt fraction, 0 <= LSF < 1.
    tn_ratio : float
        Tumour-to-normal concentration ratio, > 0.
    territory : Territory
        Perfused territory.

    Raises
    ------
    ValueError
        A parameter out of range, or a territory holding no liver.
    """
    if not 0.0 <= lsf < 1.0:
        raise ValueError(f"lsf must be in [0, 1), got {lsf}")
    if tn_ratio <= 0.0 or administered_gbq <= 0.0:
        raise ValueError("tn_ratio and administered_gbq must be positive")
    terr = Territory(territory)
    perfused = [les.segment in terr.segments for les in phantom.lesions]
    v_n = sum(segment_volumes_ml[s - 1] for s in terr.segments)
    v_t = sum(v for v, p in zip(lesion_volumes_ml, perfused, strict=True) if p)
    if v_n + v_t <= 0.0:
        raise ValueError(f"territory {terr.value} holds no liver")
    a_total = administered_gbq * 1000.0
    a_n = a_total * (1.0 - lsf) / (v_n + tn_ratio * v_t)
    apex = lung_apex_z_mm(phantom)
    v_l, bottom = lung_volume_ml(phantom, apex)
    return ActivityModel(
        administered_gbq, lsf, tn_ratio, terr, a_n,
        tuple(tn_ratio * a_n if p else 0.0 for p in perfused), a_total * lsf / v_l,
        (bottom, apex), tuple(segment_volumes_ml), tuple(lesion_volumes_ml), v_l)


def region_doses(model: ActivityModel, phantom: Phantom) -> dict[str, dict[str, Any]]:
    """Exact mean absorbed dose of every region from the noise-free, unblurred distribution.

    Returns
    -------
    dict
        Region name -> ``mean_gy`` (None for an empty region), ``volume_ml``, ``mass_kg``
        and ``activity_mbq``. Regions: ``liver`` (segments + lesions), ``normal_liver``
        (segments), ``tumour`` (all lesions), ``lesion_1`` .., ``couinaud_1`` ..
        ``couinaud_8`` (tumour excluded), ``lungs``, ``territory`` (perfused segments +
        perfused lesions), ``territory_normal``, ``territory_tumour``,
        ``non_perfused_liver``.
    """
    terr = set(model.territory.segments)
    parts: dict[str, list[tuple[float, float]]] = {}  # region -> [(volume, concentration)]
    segs = [(v, model.normal_mbq_per_ml if s in terr else 0.0)
            for s, v in enumerate(model.segment_volumes_ml, start=1)]
    lesions = list(zip(model.lesion_volumes_ml, model.lesion_mbq_per_ml, strict=True))
    perfused = [les.segment in terr for les in phantom.lesions]
    for s, part in enumerate(segs, start=1):
        parts[f"couinaud_{s}"] = [part]
    for i, part in enumerate(lesions, start=1):
        parts[f"lesion_{i}"] = [part]
    parts["normal_liver"] = segs
    parts["tumour"] = lesions
    parts["liver"] = segs + lesions
    parts["territory_normal"] = [p for s, p in enumerate(segs, start=1) if s in terr]
    parts["territory_tumour"] = [p for p, ok in zip(lesions, perfused, strict=True) if ok]
    parts["territory"] = parts["territory_normal"] + parts["territory_tumour"]
    parts["non_perfused_liver"] = ([p for s, p in enumerate(segs, start=1) if s not in terr]
                                   + [p for p, ok in zip(lesions, perfused, strict=True)
                                      if not ok])
    parts["lungs"] = [(model.lung_volume_ml, model.lung_mbq_per_ml)]
    out: dict[str, dict[str, Any]] = {}
    for name, items in parts.items():
        volume = sum(v for v, _ in items)
        activity = sum(v * a for v, a in items)
        mean = (C_GY_KG_PER_GBQ * (activity / volume) / RHO_G_PER_ML) if volume > 0 else None
        out[name] = {"mean_gy": mean, "volume_ml": volume,
                     "mass_kg": volume * RHO_G_PER_ML / 1000.0, "activity_mbq": activity}
    return out


def activity_box(model: ActivityModel, phantom: Phantom) -> tuple[FloatArray, FloatArray]:
    """Planning-coordinate box outside which the concentration is zero, mm."""
    ax, ay = phantom.body.semi_axes_mm
    lo, hi = phantom.liver_bbox
    lung_lo = np.array([-ax, -ay, model.lung_z_range_mm[0]])
    lung_hi = np.array([ax, ay, model.lung_z_range_mm[1]])
    return np.minimum(np.asarray(lo, float), lung_lo), np.maximum(np.asarray(hi, float), lung_hi)


def render_activity(model: ActivityModel, phantom: Phantom, grid: Grid,
                    subsamples: int = 2) -> NDArray[np.float32]:
    """Mean concentration in every voxel of ``grid`` (planning coordinates), MBq/mL.

    Each voxel is the mean of ``subsamples``^3 points on a regular lattice inside it (2:
    a 2.2 mm lattice in 4.4 mm SPECT voxels). Voxels whose centre lies more than one voxel
    diagonal outside :func:`activity_box` are zero without sampling.
    """
    nz, ny, nx = grid.shape_zyx
    a = grid.affine()
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    idx = np.stack([k.ravel(), j.ravel(), i.ravel()], axis=1).astype(np.float64)
    centres = idx @ a[:3, :3].T + a[:3, 3]
    lo, hi = activity_box(model, phantom)
    margin = float(np.linalg.norm(grid.spacing_zyx_mm))
    keep = np.flatnonzero(np.all((centres >= lo - margin) & (centres <= hi + margin), axis=1))
    frac = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    offsets = [a[:3, 0] * fz + a[:3, 1] * fy + a[:3, 2] * fx
               for fz in frac for fy in frac for fx in frac]
    total = np.zeros(len(keep))
    for start in range(0, len(keep), _BATCH):
        sel = keep[start:start + _BATCH]
        for off in offsets:
            pts = centres[sel] + off
            tissue, label = phantom.classify(pts)
            total[start:start + len(sel)] += model.concentration(tissue, label, pts[:, 2])
    out = np.zeros(nz * ny * nx, dtype=np.float32)
    out[keep] = total / len(offsets)
    return out.reshape(grid.shape_zyx)


def body_mask(phantom: Phantom, grid: Grid) -> NDArray[np.bool_]:
    """Voxel centres inside the body outline (an elliptic cylinder along z) of ``grid``."""
    nz, ny, nx = grid.shape_zyx
    a = grid.affine()
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    idx = np.stack([k.ravel(), j.ravel(), i.ravel()], axis=1).astype(np.float64)
    p = idx @ a[:3, :3].T + a[:3, 3]
    ax, ay = phantom.body.semi_axes_mm
    return np.asarray(((p[:, 0] / ax) ** 2 + (p[:, 1] / ay) ** 2 <= 1.0).reshape(grid.shape_zyx))
