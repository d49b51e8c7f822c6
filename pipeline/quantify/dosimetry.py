"""Y-90 SIRT activity and absorbed-dose formulas (``docs/clinical-sources.md`` §3), pure arithmetic.

Notation: ``C`` is the energy per activity (Gy·kg/GBq), ``lsf`` the lung shunt fraction
(0-1), masses in kg, activities in GBq, doses in Gy. ``A_inj`` is the activity leaving the
vial into the patient; the vial activity adds the residual fraction ``R``.
"""

from __future__ import annotations

import math


def mass_kg(volume_ml: float, density_g_ml: float) -> float:
    """Mass (kg) of a volume (mL) at a density (g/mL)."""
    return volume_ml * density_g_ml / 1000.0


def mean_dose_gy(activity_gbq: float, mass: float, c: float, lsf: float) -> float:
    """Single-compartment mean absorbed dose, Gy: ``D = C x A_inj x (1 - LSF) / M``."""
    return c * activity_gbq * (1.0 - lsf) / mass


def mird_activity_gbq(dose_gy: float, mass: float, c: float, lsf: float) -> float:
    """Injected activity for a single-compartment mean dose: ``D x M / (C x (1 - LSF))``.

    The lung shunt *divides*: public calculators that multiply by ``(1 - LSF)`` are wrong.
    """
    return dose_gy * mass / (c * (1.0 - lsf))


def vial_activity_gbq(injected_gbq: float, residual_fraction: float) -> float:
    """Vial activity for an injected activity: ``A_inj / (1 - R)``."""
    return injected_gbq / (1.0 - residual_fraction)


def lung_dose_gy(injected_gbq: float, lsf: float, lung_mass: float, c: float) -> float:
    """Lung mean absorbed dose, Gy: ``C x A_inj x LSF / M_lung`` (injected, not vial)."""
    return c * injected_gbq * lsf / lung_mass


def lung_activity_limit_gbq(lung_dose_limit_gy: float, lung_mass: float, c: float) -> float:
    """Activity reaching the lungs that gives a lung dose limit: ``D_L x M_lung / C``."""
    return lung_dose_limit_gy * lung_mass / c


def lung_capped_activity_gbq(lung_dose_limit_gy: float, lung_mass: float, c: float,
                             lsf: float) -> float:
    """Largest injected activity keeping the lung dose at the limit (infinite if LSF = 0)."""
    if lsf <= 0.0:
        return math.inf
    return lung_activity_limit_gbq(lung_dose_limit_gy, lung_mass, c) / lsf


def partition_normal_dose_gy(injected_gbq: float, tn: float, tumour_mass: float,
                             normal_mass: float, c: float, lsf: float) -> float:
    """Partition model normal-liver dose: ``D_N = C x A_inj (1-LSF) / (T/N x M_T + M_N)``."""
    return c * injected_gbq * (1.0 - lsf) / (tn * tumour_mass + normal_mass)


def partition_activity_for_normal_dose_gbq(normal_dose_gy: float, tn: float, tumour_mass: float,
                                           normal_mass: float, c: float, lsf: float) -> float:
    """Injected activity giving a normal-liver dose: ``D_N (T/N M_T + M_N) / (C (1-LSF))``."""
    return normal_dose_gy * (tn * tumour_mass + normal_mass) / (c * (1.0 - lsf))


def partition_activity_for_tumour_dose_gbq(tumour_dose_gy: float, tn: float, tumour_mass: float,
                                           normal_mass: float, c: float, lsf: float) -> float:
    """Injected activity giving a tumour dose (``D_T = T/N x D_N``)."""
    return partition_activity_for_normal_dose_gbq(tumour_dose_gy / tn, tn, tumour_mass,
                                                  normal_mass, c, lsf)


def bsa_method_activity_gbq(bsa_m2: float, tumour_ml: float, liver_ml: float,
                            target_ml: float) -> float:
    """Resin BSA method before the lung-shunt rule, GBq.

    ``A = (BSA - 0.2) + V_tumour / V_liver``, times ``V_target / V_liver`` for a lobar or
    sectional territory (``V_liver`` and ``V_target`` include their tumour).
    """
    return ((bsa_m2 - 0.2) + tumour_ml / liver_ml) * (target_ml / liver_ml)


def resin_lsf_reduction(lsf: float, reduce_20_from: float = 0.10, reduce_40_from: float = 0.15,
                        do_not_treat_above: float = 0.20) -> float | None:
    """SIR-Spheres lung-shunt rule: fraction the activity is reduced by, or None (no SIRT).

    LSF below 10 %: 0; 10 % up to 15 %: 0.2; 15 % up to and including 20 %: 0.4; above 20 %:
    do not treat (None).
    """
    if lsf > do_not_treat_above:
        return None
    if lsf >= reduce_40_from:
        return 0.4
    if lsf >= reduce_20_from:
        return 0.2
    return 0.0


def voxel_dose_gy(activity_mbq_per_ml: float, c: float, density_g_ml: float) -> float:
    """Local-deposition absorbed dose of a voxel, Gy: ``C x a / rho``.

    ``a`` in MBq/mL becomes GBq per kg of tissue through ``1e-3 / (rho x 1e-3)``.
    """
    return c * activity_mbq_per_ml / density_g_ml


def decay_factor(hours: float, half_life_h: float) -> float:
    """Factor that corrects an activity back over ``hours``: ``exp(ln 2 x t / T_half)``."""
    return math.exp(math.log(2.0) * hours / half_life_h)
