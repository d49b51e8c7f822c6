"""SIRT Y-90 activity planning: BSA method, single-compartment MIRD, partition model.

Every method that has its inputs is computed; one that lacks an input lists it under
``missing`` and reports no number. Each computed activity comes with the mean doses it implies
and the EANM 2022 advisory dose flags. Formulas: :mod:`pipeline.quantify.dosimetry`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pipeline.quantify import dosimetry as dm
from pipeline.quantify.advisory import Flag
from pipeline.quantify.config import QuantificationConfig, Thresholds
from pipeline.quantify.constants import DosimetryConstants
from pipeline.quantify.models import Microspheres, PlannerInputs, Territory
from pipeline.quantify.volumetry import SEGMENTS, LiverVolumes

EANM = "EANM 2022 procedure guideline for radioembolisation (advisory)"
IFU = "SIR-Spheres IFU lung-shunt rule"


@dataclass(frozen=True)
class Target:
    """Volumes and masses of the treated territory.

    Parameters
    ----------
    territory : Territory
        The planned territory.
    segments : tuple of int
        Couinaud segments treated (all eight for the whole liver).
    volume_ml, tumour_ml : float or None
        Territory volume including its tumour, and the tumour in it, mL.
    """

    territory: Territory
    segments: tuple[int, ...]
    volume_ml: float | None
    tumour_ml: float | None

    @property
    def normal_ml(self) -> float | None:
        """Non-tumour volume of the territory, mL."""
        if self.volume_ml is None or self.tumour_ml is None:
            return None
        return self.volume_ml - self.tumour_ml

    def to_dict(self, density: float) -> dict[str, Any]:
        """JSON-ready mapping with masses at ``density`` (g/mL)."""
        def kg(v: float | None) -> float | None:
            return None if v is None else dm.mass_kg(v, density)
        return {"territory": str(self.territory), "segments": list(self.segments),
                "volume_ml": self.volume_ml, "tumour_ml": self.tumour_ml,
                "normal_ml": self.normal_ml, "mass_kg": kg(self.volume_ml),
                "tumour_mass_kg": kg(self.tumour_ml), "normal_mass_kg": kg(self.normal_ml)}


def resolve_target(territory: Territory, volumes: LiverVolumes, config: QuantificationConfig
                   ) -> Target:
    """Territory -> segments and volumes (whole liver: the liver and TTV themselves)."""
    if territory.kind == "whole":
        return Target(territory, SEGMENTS, volumes.liver_ml, volumes.tumour_ml)
    segs = (territory.segments if territory.kind == "segments"
            else tuple(config.lobes[territory.kind]))
    total, tumour = volumes.region(segs)
    return Target(territory, segs, total, tumour)


def implied_doses(activity_gbq: float, target: Target, planner: PlannerInputs,
                  k: DosimetryConstants, lung_mass_kg: float) -> dict[str, float | None]:
    """Mean doses implied by an injected activity (needs LSF; T/N for the split)."""
    lsf = planner.lung_shunt_fraction
    assert lsf is not None and target.volume_ml is not None
    rho, c = k.liver_density_g_ml, k.energy_gy_kg_per_gbq
    mean = dm.mean_dose_gy(activity_gbq, dm.mass_kg(target.volume_ml, rho), c, lsf)
    normal = tumour = None
    if target.tumour_ml == 0.0:
        normal = mean
    elif planner.tumour_to_normal_ratio is not None and target.tumour_ml is not None:
        tn = planner.tumour_to_normal_ratio
        normal = dm.partition_normal_dose_gy(activity_gbq, tn, dm.mass_kg(target.tumour_ml, rho),
                                             dm.mass_kg(target.normal_ml or 0.0, rho), c, lsf)
        tumour = tn * normal
    lung = dm.lung_dose_gy(activity_gbq, lsf, lung_mass_kg, c)
    cumulative = None if planner.prior_lung_dose_gy is None else planner.prior_lung_dose_gy + lung
    return {"target_mean_gy": mean, "normal_liver_gy": normal, "tumour_gy": tumour,
            "lung_gy": lung, "lung_cumulative_gy": cumulative}


def normal_liver_limit(planner: PlannerInputs, territory: Territory, t: Thresholds
                       ) -> tuple[float | None, str]:
    """EANM 2022 normal-liver mean-dose limit for the device and territory, with a note.

    Unknown modifiers (pretreatment, bilirubin) select the stricter limit, said in the note;
    ``None`` where the reference gives no rule (glass, not whole liver) or the device is unknown.
    """
    if planner.microspheres is Microspheres.RESIN:
        if not territory.unilobar:
            return t.resin_normal_liver_bilobar_or_pretreated_gy, "resin, bilobar"
        if planner.pretreated is None:
            return (t.resin_normal_liver_bilobar_or_pretreated_gy,
                    "resin, unilobar; pretreatment unknown: stricter (pretreated) limit used")
        if planner.pretreated:
            return t.resin_normal_liver_bilobar_or_pretreated_gy, "resin, unilobar, pretreated"
        return t.resin_normal_liver_unilobar_gy, "resin, unilobar, not pretreated"
    if planner.microspheres is Microspheres.GLASS:
        if territory.unilobar:
            return None, "glass: reference gives a normal-liver limit for whole-liver only"
        if planner.bilirubin_mg_dl is None:
            return (t.glass_whole_normal_liver_high_bilirubin_gy,
                    "glass, whole liver; bilirubin unknown: stricter limit used")
        if planner.bilirubin_mg_dl > t.bilirubin_high_mg_dl:
            return (t.glass_whole_normal_liver_high_bilirubin_gy,
                    f"glass, whole liver, bilirubin > {t.bilirubin_high_mg_dl:g} mg/dL")
        return t.glass_whole_normal_liver_gy, "glass, whole liver"
    return None, "microsphere type unknown"


def dose_flags(doses: dict[str, float | None], planner: PlannerInputs, territory: Territory,
               t: Thresholds) -> list[Flag]:
    """EANM 2022 advisory flags for the doses implied by one activity."""
    flags: list[Flag] = []
    need_tn = "needs T/N (tumour in territory)"
    limit, note = normal_liver_limit(planner, territory, t)
    if limit is not None:
        normal = doses["normal_liver_gy"]
        flags.append(Flag("NORMAL_LIVER_DOSE", f"normal liver <= {limit:g} Gy", EANM,
                          normal, limit, "<=", "Gy", note if normal is not None else need_tn))
    if planner.microspheres is Microspheres.RESIN:
        flags.append(Flag("TUMOUR_DOSE", f"tumour > {t.resin_tumour_gy:g} Gy (resin, mCRC)",
                          EANM, doses["tumour_gy"], t.resin_tumour_gy, ">", "Gy",
                          "" if doses["tumour_gy"] is not None else need_tn))
    elif planner.microspheres is Microspheres.GLASS:
        flags.append(Flag("TUMOUR_DOSE", f"tumour >= {t.glass_tumour_gy:g} Gy (glass)", EANM,
                          doses["tumour_gy"], t.glass_tumour_gy, ">=", "Gy",
                          "" if doses["tumour_gy"] is not None else need_tn))
        if territory.kind == "segments":
            flags.append(Flag("SEGMENTECTOMY_DOSE",
                              f"perfused territory > {t.glass_segmentectomy_gy:g} Gy "
                              "(glass, radiation segmentectomy)", EANM,
                              doses["target_mean_gy"], t.glass_segmentectomy_gy, ">", "Gy"))
    flags.append(Flag("LUNG_DOSE_SESSION", f"lung <= {t.lung_session_gy:g} Gy per session",
                      EANM, doses["lung_gy"], t.lung_session_gy, "<=", "Gy"))
    cumulative = doses["lung_cumulative_gy"]
    flags.append(Flag("LUNG_DOSE_CUMULATIVE", f"lung <= {t.lung_cumulative_gy:g} Gy cumulative",
                      EANM, cumulative, t.lung_cumulative_gy, "<=", "Gy",
                      "" if cumulative is not None else "prior lung dose unknown"))
    return flags


def _result(activity: float | None, target: Target | None, planner: PlannerInputs,
            k: DosimetryConstants, lung_mass: float, t: Thresholds) -> dict[str, Any]:
    if activity is None or target is None:
        return {"injected_activity_gbq": None, "vial_activity_gbq": None,
                "implied_doses": None, "flags": []}
    doses = implied_doses(activity, target, planner, k, lung_mass)
    vial = (None if planner.residual_fraction is None
            else dm.vial_activity_gbq(activity, planner.residual_fraction))
    return {"injected_activity_gbq": activity, "vial_activity_gbq": vial,
            "implied_doses": doses,
            "flags": [f.to_dict() for f in dose_flags(doses, planner, target.territory, t)]}


def _common_missing(target: Target | None, planner: PlannerInputs) -> list[str]:
    missing = []
    if target is None:
        missing.append("territory")
    elif target.volume_ml is None or target.tumour_ml is None:
        missing.append("territory volume (withheld or not segmented)")
    if planner.lung_shunt_fraction is None:
        missing.append("lung_shunt_fraction")
    return missing


def bsa_method(target: Target | None, volumes: LiverVolumes, bsa_m2: float | None,
               planner: PlannerInputs, k: DosimetryConstants, lung_mass: float, t: Thresholds
               ) -> dict[str, Any]:
    """Resin BSA method with the SIR-Spheres lung-shunt rule."""
    out: dict[str, Any] = {"method": "bsa",
                           "formula": "A = ((BSA - 0.2) + V_tumour/V_liver) x V_target/V_liver, "
                                      "then the resin lung-shunt reduction"}
    if planner.microspheres is Microspheres.GLASS:
        return {**out, "applicable": False, "missing": [],
                "note": "the BSA method applies to resin microspheres only"}
    missing = _common_missing(target, planner)
    if planner.microspheres is None:
        missing.append("microspheres")
    if bsa_m2 is None:
        missing.append("BSA (height and weight)")
    if volumes.liver_ml is None or volumes.tumour_ml is None:
        missing.append("whole-liver and tumour volumes (withheld)")
    out.update(applicable=True, missing=missing)
    if missing:
        return {**out, **_result(None, target, planner, k, lung_mass, t)}
    assert target is not None and target.volume_ml is not None and bsa_m2 is not None
    assert volumes.liver_ml is not None and volumes.tumour_ml is not None
    lsf = planner.lung_shunt_fraction
    assert lsf is not None
    before = dm.bsa_method_activity_gbq(bsa_m2, volumes.tumour_ml, volumes.liver_ml,
                                        target.volume_ml)
    reduction = dm.resin_lsf_reduction(lsf, t.resin_lsf_reduce_20_from,
                                       t.resin_lsf_reduce_40_from, t.resin_lsf_do_not_treat_above)
    activity = None if reduction is None else before * (1.0 - reduction)
    return {**out, "bsa_m2": bsa_m2, "activity_before_lung_shunt_rule_gbq": before,
            "lung_shunt_reduction": reduction, "do_not_treat": reduction is None,
            "lung_shunt_rule_source": IFU,
            **_result(activity, target, planner, k, lung_mass, t)}


def mird_method(target: Target | None, planner: PlannerInputs, k: DosimetryConstants,
                lung_mass: float, t: Thresholds) -> dict[str, Any]:
    """Single-compartment MIRD: activity for a target mean dose to the territory."""
    out: dict[str, Any] = {"method": "mird",
                           "formula": "A_inj = D x M / (C x (1 - LSF)); A_vial = A_inj / (1 - R)",
                           "target_dose_gy": planner.target_dose_gy, "applicable": True}
    missing = _common_missing(target, planner)
    if planner.target_dose_gy is None:
        missing.append("target_dose_gy")
    out["missing"] = missing
    if missing:
        return {**out, **_result(None, target, planner, k, lung_mass, t)}
    assert target is not None and target.volume_ml is not None
    assert planner.lung_shunt_fraction is not None and planner.target_dose_gy is not None
    activity = dm.mird_activity_gbq(planner.target_dose_gy,
                                    dm.mass_kg(target.volume_ml, k.liver_density_g_ml),
                                    k.energy_gy_kg_per_gbq, planner.lung_shunt_fraction)
    return {**out, **_result(activity, target, planner, k, lung_mass, t)}


def partition_method(target: Target | None, planner: PlannerInputs, k: DosimetryConstants,
                     lung_mass: float, t: Thresholds) -> dict[str, Any]:
    """Partition model: the smaller of the normal-liver cap and the lung cap."""
    out: dict[str, Any] = {
        "method": "partition", "applicable": True,
        "formula": "D_N = C x A_inj (1 - LSF) / (T/N x M_T + M_N); D_T = T/N x D_N",
        "tumour_to_normal_ratio": planner.tumour_to_normal_ratio}
    missing = _common_missing(target, planner)
    if planner.tumour_to_normal_ratio is None:
        missing.append("tumour_to_normal_ratio")
    if target is not None and target.tumour_ml == 0.0:
        return {**out, "applicable": False, "missing": missing,
                "note": "no tumour in the territory: use the single-compartment model"}
    limit, note = (planner.normal_liver_dose_limit_gy, "planner") \
        if planner.normal_liver_dose_limit_gy is not None else \
        (normal_liver_limit(planner, target.territory, t) if target is not None
         else (None, "territory unknown"))
    if limit is None:
        missing.append(f"normal_liver_dose_limit_gy ({note})")
    out.update(missing=missing, normal_liver_dose_limit_gy=limit, normal_liver_limit_basis=note)
    if missing:
        return {**out, **_result(None, target, planner, k, lung_mass, t)}
    assert target is not None and target.tumour_ml is not None and target.normal_ml is not None
    assert limit is not None
    tn, lsf = planner.tumour_to_normal_ratio, planner.lung_shunt_fraction
    assert tn is not None and lsf is not None
    rho, c = k.liver_density_g_ml, k.energy_gy_kg_per_gbq
    m_t, m_n = dm.mass_kg(target.tumour_ml, rho), dm.mass_kg(target.normal_ml, rho)
    normal_cap = dm.partition_activity_for_normal_dose_gbq(limit, tn, m_t, m_n, c, lsf)
    lung_limit = t.lung_session_gy
    if planner.prior_lung_dose_gy is not None:
        lung_limit = min(lung_limit, t.lung_cumulative_gy - planner.prior_lung_dose_gy)
    lung_cap = dm.lung_capped_activity_gbq(max(lung_limit, 0.0), lung_mass, c, lsf)
    prescribed = min(normal_cap, lung_cap)
    goal = planner.tumour_target_dose_gy
    for_goal = (None if goal is None
                else dm.partition_activity_for_tumour_dose_gbq(goal, tn, m_t, m_n, c, lsf))
    result = _result(prescribed, target, planner, k, lung_mass, t)
    tumour_dose = result["implied_doses"]["tumour_gy"]
    return {**out, "normal_cap_activity_gbq": normal_cap,
            "lung_cap_activity_gbq": None if math.isinf(lung_cap) else lung_cap,
            "limited_by": "normal_liver" if normal_cap <= lung_cap else "lung",
            "tumour_target_dose_gy": goal, "activity_for_tumour_target_gbq": for_goal,
            "tumour_target_reached": None if goal is None else tumour_dose >= goal * (1 - 1e-9),
            **result}


def plan_sirt(volumes: LiverVolumes, bsa_m2: float | None, planner: PlannerInputs,
              config: QuantificationConfig, lung_mass_kg: float, lung_mass_source: str
              ) -> dict[str, Any]:
    """The ``sirt`` section: every method with its inputs, results, flags and missing inputs.

    Parameters
    ----------
    volumes : LiverVolumes
        Reported volumes (None where withheld).
    bsa_m2 : float or None
        BSA by the configured SIRT formula, m².
    planner : PlannerInputs
        Merged planner inputs.
    config : QuantificationConfig
        Settings.
    lung_mass_kg : float
        Lung mass used, kg.
    lung_mass_source : str
        ``config`` or ``ct``.
    """
    k = config.constants()
    t = config.thresholds
    territory = None if planner.territory is None else Territory.parse(planner.territory)
    target = None if territory is None else resolve_target(territory, volumes, config)
    methods = {
        "bsa": bsa_method(target, volumes, bsa_m2, planner, k, lung_mass_kg, t),
        "mird": mird_method(target, planner, k, lung_mass_kg, t),
        "partition": partition_method(target, planner, k, lung_mass_kg, t),
    }
    convention = {Microspheres.RESIN: "bsa", Microspheres.GLASS: "mird"}
    missing = sorted({m for res in methods.values() for m in res["missing"]})
    computed = [name for name, res in methods.items()
                if res.get("injected_activity_gbq") is not None]
    return {
        "status": "computed" if computed else "not_computed",
        "computed_methods": computed,
        "device_convention_method": (None if planner.microspheres is None
                                     else convention[planner.microspheres]),
        "microspheres": None if planner.microspheres is None else planner.microspheres.value,
        "lung_shunt_fraction": planner.lung_shunt_fraction,
        "target": None if target is None else target.to_dict(k.liver_density_g_ml),
        "lung_mass": {"kg": lung_mass_kg, "source": lung_mass_source},
        "missing": missing,
        "methods": methods,
    }
