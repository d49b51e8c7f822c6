"""Voxel absorbed dose by local deposition (``docs/clinical-sources.md`` §3).

All the energy of a Y-90 decay is taken as absorbed in the voxel where it happens:
``D[Gy] = C x a[MBq/mL] / rho[g/mL]`` with ``C`` in Gy·kg/GBq (the same constant as the
partition model; presets in :mod:`pipeline.quantify.constants`) and ``rho`` the tissue density.
Check of units: 1 MBq/mL = 1e-3 GBq per ``rho`` x 1e-3 kg, so ``C x a / rho``.

- Pre-treatment prediction from a Tc-99m MAA SPECT: the counts are scaled so that the total in
  liver + lungs equals the planned Y-90 activity (MAA taken as a surrogate of the microsphere
  distribution), :func:`maa_activity_concentration`.
- Post-treatment from a Y-90 PET: Bq/mL decay-corrected back to the administration time,
  :func:`decay_corrected_to_administration`.

Not implemented: convolution with a Y-90 dose-voxel kernel. A kernel needs a Monte Carlo
computation or a published table for the exact voxel size (e.g. Lanconelli et al. 2012,
Phys Med Biol 57:517) that is not available here; local deposition is what the EANM 2022
guideline accepts for Y-90 and is what is reported.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from pipeline.quantify import dosimetry as dm
from pipeline.quantify.constants import DosimetryConstants

FloatArray = NDArray[np.float64]

MBQ_PER_GBQ = 1000.0
BQ_PER_MBQ = 1.0e6


def dose_from_concentration(activity_mbq_ml: NDArray[np.floating], energy_gy_kg_per_gbq: float,
                            density_g_ml: float) -> FloatArray:
    """Local-deposition absorbed dose, Gy: ``C x a / rho``.

    Parameters
    ----------
    activity_mbq_ml : ndarray
        Cumulated-activity equivalent: activity concentration at administration of a
        Y-90 distribution that then only decays physically, MBq/mL.
    energy_gy_kg_per_gbq : float
        C, Gy·kg/GBq (49.67 EANM).
    density_g_ml : float
        Tissue density, g/mL (1.03).
    """
    if density_g_ml <= 0.0:
        raise ValueError("density must be positive")
    gy_per_mbq_ml = dm.voxel_dose_gy(1.0, energy_gy_kg_per_gbq, density_g_ml)
    return np.asarray(activity_mbq_ml, dtype=np.float64) * gy_per_mbq_ml


def maa_activity_concentration(counts: NDArray[np.floating],
                               normalising_region: NDArray[np.bool_] | NDArray[np.floating],
                               voxel_ml: float, administered_gbq: float) -> FloatArray:
    """Scale MAA SPECT counts to Y-90 activity concentration, MBq/mL.

    Parameters
    ----------
    counts : ndarray
        Reconstructed SPECT counts (any linear unit) on the SPECT grid.
    normalising_region : ndarray of bool or of fractions (0-1)
        Liver + lungs on the same grid, as a mask or as partial-volume fractions: the
        region whose counts are set equal to the administered activity (extrahepatic
        uptake elsewhere is scaled by the same factor).
    voxel_ml : float
        Volume of one voxel, mL.
    administered_gbq : float
        Planned injected Y-90 activity, GBq.

    Raises
    ------
    ValueError
        If the normalising region holds no counts.
    """
    weights = np.asarray(normalising_region, dtype=np.float64)
    total = float(np.sum(counts * weights, dtype=np.float64))
    if not total > 0.0:
        raise ValueError("the liver and lung regions hold no SPECT counts to scale")
    scale = administered_gbq * MBQ_PER_GBQ / total
    return np.asarray(counts, dtype=np.float64) * (scale / voxel_ml)


def decay_corrected_to_administration(activity_bq_ml: NDArray[np.floating],
                                      hours_since_administration: float,
                                      half_life_h: float) -> FloatArray:
    """Y-90 PET activity concentration at the administration time, MBq/mL.

    Parameters
    ----------
    activity_bq_ml : ndarray
        PET image, Bq/mL, decay-corrected to its own reference time (the series'
        DecayCorrection reference, e.g. the acquisition start).
    hours_since_administration : float
        Hours from administration to that reference time (not negative).
    half_life_h : float
        Y-90 half-life, h (64.1).

    Returns
    -------
    ndarray
        ``a x exp(ln 2 x t / T_half) / 1e6``, MBq/mL.
    """
    if hours_since_administration < 0.0 or math.isnan(hours_since_administration):
        raise ValueError("the PET reference time is before the administration")
    factor = dm.decay_factor(hours_since_administration, half_life_h)
    return np.asarray(activity_bq_ml, dtype=np.float64) * (factor / BQ_PER_MBQ)


def maa_dose(counts: NDArray[np.floating],
             normalising_region: NDArray[np.bool_] | NDArray[np.floating], voxel_ml: float,
             administered_gbq: float, constants: DosimetryConstants) -> FloatArray:
    """Predicted voxel dose from an MAA SPECT, Gy (scaling, then local deposition)."""
    activity = maa_activity_concentration(counts, normalising_region, voxel_ml,
                                          administered_gbq)
    return dose_from_concentration(activity, constants.energy_gy_kg_per_gbq,
                                   constants.liver_density_g_ml)


def pet_dose(activity_bq_ml: NDArray[np.floating], hours_since_administration: float,
             constants: DosimetryConstants) -> FloatArray:
    """Post-treatment voxel dose from a Y-90 PET, Gy (decay correction, local deposition)."""
    activity = decay_corrected_to_administration(activity_bq_ml, hours_since_administration,
                                                 constants.half_life_h)
    return dose_from_concentration(activity, constants.energy_gy_kg_per_gbq,
                                   constants.liver_density_g_ml)
