"""Lung shunt fraction, tumour-to-normal ratio and perfused territory from Tc-99m MAA images,
and their hand-over to the SIRT plan (the partition model of :mod:`pipeline.quantify.sirt`).

- Lung shunt from planar views (:func:`lung_shunt_planar`): geometric mean of anterior and
  posterior counts per region, ``GM = sqrt(A x P)``, the posterior view flipped left-right to
  match the anterior; ``LSF = GM_lung / (GM_lung + GM_liver)``. No background or
  attenuation correction (the geometric mean removes most of the depth dependence).
- Lung shunt from SPECT(/CT) (:func:`lung_shunt_spect`): the same ratio of counts summed in
  the lung and liver regions on the SPECT grid (binary masks or partial-volume fractions).
- T/N (:func:`tumour_to_normal`): mean counts per mL in tumour over mean counts per mL in the
  non-tumoral liver, optionally both restricted to the perfused territory. Tumour and
  normal liver are given the same density, so the ratio per mL is the ratio per mass the
  partition model needs.
- Perfused territory (:func:`perfused_territory`): liver voxels above a stated fraction of
  the liver's maximum count, or above a stated percentile of the liver's counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import PlannerInputs
from pipeline.quantify.sirt import plan_sirt
from pipeline.quantify.sirt_plan import SIRTPlan
from pipeline.quantify.volumetry import LiverVolumes

Weights = NDArray[np.bool_] | NDArray[np.floating]
"""A region as a binary mask or as partial-volume fractions (0-1) on the image grid."""


class ShuntMethod(StrEnum):
    """How the lung shunt fraction was measured."""

    PLANAR = "planar geometric mean"
    SPECT = "SPECT counts"


@dataclass(frozen=True)
class LungShunt:
    """A measured lung shunt fraction.

    Parameters
    ----------
    lsf : float
        Lung shunt fraction, 0-1.
    lung_counts, liver_counts : float
        Counts attributed to lungs and liver (geometric means for planar views).
    method : ShuntMethod
        Planar geometric mean or SPECT counts.
    """

    lsf: float
    lung_counts: float
    liver_counts: float
    method: ShuntMethod


@dataclass(frozen=True)
class TumourToNormal:
    """A measured tumour-to-normal-liver ratio.

    Parameters
    ----------
    ratio : float
        T/N, ratio of counts per mL (= per mass at equal density).
    tumour_counts_per_ml, normal_counts_per_ml : float
        Mean counts per mL in tumour and in non-tumoral liver.
    tumour_ml, normal_ml : float
        Volumes the means are taken over, mL.
    in_territory : bool
        Whether both were restricted to the perfused territory.
    """

    ratio: float
    tumour_counts_per_ml: float
    normal_counts_per_ml: float
    tumour_ml: float
    normal_ml: float
    in_territory: bool


class MAAMeasurementError(ValueError):
    """A region needed by an MAA measurement is empty or holds no counts; says which."""


def _weighted_sum(image: NDArray[np.floating], region: Weights, name: str) -> float:
    if image.shape != region.shape:
        raise ValueError(f"{name}: image {image.shape} and region {region.shape} differ")
    weights = np.asarray(region, dtype=np.float64)
    return float(np.sum(image * weights, dtype=np.float64))


def _shunt(lung: float, liver: float, method: ShuntMethod) -> LungShunt:
    if lung < 0.0 or liver < 0.0 or lung + liver <= 0.0:
        raise MAAMeasurementError(
            f"lung ({lung:g}) and liver ({liver:g}) counts give no lung shunt fraction")
    return LungShunt(lung / (lung + liver), lung, liver, method)


def lung_shunt_planar(anterior: NDArray[np.floating], posterior: NDArray[np.floating],
                      lung_roi: NDArray[np.bool_], liver_roi: NDArray[np.bool_]) -> LungShunt:
    """LSF from anterior and posterior planar views (geometric mean).

    Parameters
    ----------
    anterior, posterior : ndarray, shape (rows, columns)
        Counts of each view as displayed (row 0 at the head; anterior columns run to the
        patient's left, posterior columns to the patient's right).
    lung_roi, liver_roi : ndarray of bool, shape (rows, columns)
        Regions in the anterior view's orientation (e.g. :func:`pipeline.dosimetry.planar.
        ap_projection`); where the projections overlap at the liver dome, leave the overlap
        out of the lung region (``lung & ~liver``) as is usual for planar ROIs.

    Returns
    -------
    LungShunt
        ``GM_lung / (GM_lung + GM_liver)`` with ``GM = sqrt(sum A x sum P)``.
    """
    if anterior.shape != posterior.shape:
        raise ValueError(f"anterior {anterior.shape} and posterior {posterior.shape} differ")
    flipped = np.asarray(posterior)[:, ::-1]
    gm = {}
    for name, roi in (("lung", lung_roi), ("liver", liver_roi)):
        a = _weighted_sum(anterior, roi, name)
        p = _weighted_sum(flipped, roi, name)
        gm[name] = float(np.sqrt(max(a, 0.0) * max(p, 0.0)))
    return _shunt(gm["lung"], gm["liver"], ShuntMethod.PLANAR)


def lung_shunt_spect(counts: NDArray[np.floating], lung: Weights, liver: Weights) -> LungShunt:
    """LSF from SPECT counts: lung / (lung + liver) summed on the SPECT grid.

    Parameters
    ----------
    counts : ndarray, shape (z, y, x)
        Reconstructed SPECT counts.
    lung, liver : ndarray of bool or fractions, shape (z, y, x)
        Regions on the SPECT grid (:mod:`pipeline.dosimetry.masks`).
    """
    return _shunt(_weighted_sum(counts, lung, "lung"), _weighted_sum(counts, liver, "liver"),
                  ShuntMethod.SPECT)


def tumour_to_normal(counts: NDArray[np.floating], tumour: Weights, normal_liver: Weights,
                     voxel_ml: float, territory: NDArray[np.bool_] | None = None
                     ) -> TumourToNormal:
    """T/N from SPECT counts per mL in tumour and in non-tumoral liver.

    Parameters
    ----------
    counts : ndarray, shape (z, y, x)
        Reconstructed SPECT counts.
    tumour, normal_liver : ndarray of bool or fractions, shape (z, y, x)
        Regions on the SPECT grid.
    voxel_ml : float
        Volume of one SPECT voxel, mL.
    territory : ndarray of bool, optional
        Perfused territory: both regions are restricted to it.

    Raises
    ------
    MAAMeasurementError
        If a region is empty (after the restriction) or the normal liver holds no counts.
    """
    t = np.asarray(tumour, dtype=np.float64)
    n = np.asarray(normal_liver, dtype=np.float64)
    if territory is not None:
        t, n = t * territory, n * territory
    t_ml, n_ml = float(t.sum()) * voxel_ml, float(n.sum()) * voxel_ml
    where = " in the perfused territory" if territory is not None else ""
    if t_ml <= 0.0 or n_ml <= 0.0:
        raise MAAMeasurementError(f"no tumour or no normal liver{where} for T/N")
    t_conc = _weighted_sum(counts, t, "tumour") / t_ml
    n_conc = _weighted_sum(counts, n, "normal liver") / n_ml
    if n_conc <= 0.0:
        raise MAAMeasurementError(f"the normal liver{where} holds no counts: T/N undefined")
    return TumourToNormal(t_conc / n_conc, t_conc, n_conc, t_ml, n_ml, territory is not None)


def perfused_territory(counts: NDArray[np.floating], liver: NDArray[np.bool_], *,
                       fraction_of_max: float | None = 0.1, percentile: float | None = None
                       ) -> NDArray[np.bool_]:
    """Liver voxels taken as perfused: counts above a threshold, inside the liver.

    Parameters
    ----------
    counts : ndarray, shape (z, y, x)
        Reconstructed SPECT counts.
    liver : ndarray of bool
        Liver on the SPECT grid.
    fraction_of_max : float or None
        Threshold as a fraction (0-1) of the liver's largest count (default 0.1).
    percentile : float or None
        Threshold as a percentile (0-100) of the liver's counts; used instead of
        ``fraction_of_max`` when given.

    Returns
    -------
    ndarray of bool
        The perfused territory (a subset of the liver).
    """
    values = counts[liver]
    if values.size == 0:
        raise MAAMeasurementError("the liver has no voxel on the SPECT grid")
    if percentile is not None:
        if not 0.0 <= percentile <= 100.0:
            raise ValueError("percentile must be in [0, 100]")
        threshold = float(np.percentile(values, percentile))
    elif fraction_of_max is not None and 0.0 <= fraction_of_max <= 1.0:
        threshold = fraction_of_max * float(values.max())
    else:
        raise ValueError("give fraction_of_max in [0, 1] or a percentile")
    territory: NDArray[np.bool_] = liver & (counts > threshold)
    return territory


def planner_inputs(base: PlannerInputs, shunt: LungShunt | None,
                   tn: TumourToNormal | None) -> PlannerInputs:
    """The planner's inputs with the image-derived LSF and T/N in place of their values.

    Parameters
    ----------
    base : PlannerInputs
        The planner's other inputs (territory, microspheres, doses ...).
    shunt, tn : optional
        Measured lung shunt and T/N; None keeps the base value.
    """
    data = base.model_dump()
    if shunt is not None:
        data["lung_shunt_fraction"] = shunt.lsf
    if tn is not None:
        data["tumour_to_normal_ratio"] = tn.ratio
    return PlannerInputs(**data)


def plan_from_images(volumes: LiverVolumes, bsa_m2: float | None, base: PlannerInputs,
                     config: QuantificationConfig, lung_mass_kg: float, lung_mass_source: str,
                     shunt: LungShunt | None, tn: TumourToNormal | None) -> SIRTPlan:
    """The SIRT plan (BSA, MIRD and partition model) fed the image-derived LSF and T/N.

    Calls :func:`pipeline.quantify.sirt.plan_sirt` with :func:`planner_inputs`; see it for
    the other parameters.
    """
    return plan_sirt(volumes, bsa_m2, planner_inputs(base, shunt, tn), config, lung_mass_kg,
                     lung_mass_source)
