"""SIRT Y-90 activity planning: BSA method, single-compartment MIRD, partition model.

Every method that has its inputs is computed; one that lacks an input lists it under
``missing`` and reports no number. Each computed activity comes with the time it holds for
(:mod:`pipeline.quantify.decay`), the mean doses it implies and the EANM 2022 advisory dose
flags (:mod:`pipeline.quantify.limits`). Formulas: :mod:`pipeline.quantify.dosimetry`.
"""

from __future__ import annotations

import math

from pipeline.quantify import dosimetry as dm
from pipeline.quantify import limits
from pipeline.quantify.advisory import Flag
from pipeline.quantify.body import BSA_FORMULAS
from pipeline.quantify.config import QuantificationConfig, Thresholds
from pipeline.quantify.constants import DosimetryConstants
from pipeline.quantify.decay import activity_timing
from pipeline.quantify.inputs import Microspheres, PlannerInputs, Territory
from pipeline.quantify.sirt_plan import (
    BSAMethod,
    ImpliedDoses,
    LungMass,
    LungShuntRule,
    MethodPlan,
    MIRDMethod,
    NormalLiverLimit,
    PartitionCaps,
    PartitionMethod,
    Prescription,
    SIRTPlan,
    Target,
)
from pipeline.quantify.volumetry import SEGMENTS, LiverVolumes


def resolve_target(territory: Territory, volumes: LiverVolumes, config: QuantificationConfig
                   ) -> Target:
    """Territory -> segments and volumes (whole liver: the liver and TTV themselves).

    A segmental territory is bilobar when it holds segments of both configured lobes.
    """
    whole_normal = (None if volumes.liver_ml is None or volumes.tumour_ml is None
                    else volumes.liver_ml - volumes.tumour_ml)
    if territory.kind == "whole":
        return Target(territory, SEGMENTS, volumes.liver_ml, volumes.tumour_ml, True,
                      whole_normal)
    segs = (territory.segments if territory.kind == "segments"
            else tuple(config.lobes[territory.kind]))
    bilobar = (territory.kind == "segments"
               and all(set(segs) & set(config.lobes[lobe]) for lobe in ("right", "left")))
    total, tumour = volumes.region(segs)
    return Target(territory, segs, total, tumour, bilobar, whole_normal)


def implied_doses(activity_gbq: float, target: Target, planner: PlannerInputs,
                  k: DosimetryConstants, lung_mass_kg: float) -> ImpliedDoses:
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
    whole_normal = None
    if normal is not None and target.normal_ml is not None and target.whole_normal_ml:
        # The energy reaching the territory's non-tumoral liver over the whole one.
        whole_normal = normal * target.normal_ml / target.whole_normal_ml
    lung = dm.lung_dose_gy(activity_gbq, lsf, lung_mass_kg, c)
    cumulative = None if planner.prior_lung_dose_gy is None else planner.prior_lung_dose_gy + lung
    return ImpliedDoses(target_mean_gy=mean, normal_liver_gy=normal,
                        whole_normal_liver_gy=whole_normal, tumour_gy=tumour, lung_gy=lung,
                        lung_cumulative_gy=cumulative)


def dose_flags(doses: ImpliedDoses, planner: PlannerInputs, target: Target,
               t: Thresholds) -> list[Flag]:
    """EANM 2022 advisory flags for the doses implied by one activity, each citing its rule."""
    choices = [limits.normal_liver_choice(planner, target.bilobar, t),
               limits.tumour_choice(planner, t),
               limits.segmentectomy_choice(planner, t)
               if target.territory.kind == "segments" else None,
               *limits.lung_choices(t)]
    why = {"normal_liver_gy": "needs T/N (tumour in territory)",
           "whole_normal_liver_gy": "needs T/N (tumour in territory) and the whole-liver volume",
           "tumour_gy": "needs T/N (tumour in territory)",
           "lung_cumulative_gy": "prior lung dose unknown"}
    return [c.flag(doses.dose(c.dose_key), why.get(c.dose_key, "")) for c in choices
            if c is not None]


def _prescription(activity: float | None, target: Target | None, planner: PlannerInputs,
                  k: DosimetryConstants, lung_mass: float, t: Thresholds) -> Prescription:
    if activity is None or target is None:
        return Prescription()
    doses = implied_doses(activity, target, planner, k, lung_mass)
    timing = activity_timing(activity, planner.residual_fraction, planner.calibration_time,
                             planner.administration_time, k.half_life_h)
    return Prescription(timing, doses, tuple(dose_flags(doses, planner, target, t)))


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
               ) -> BSAMethod:
    """Resin BSA method with the SIR-Spheres lung-shunt rule."""
    if planner.microspheres is Microspheres.GLASS:
        return BSAMethod(applicable=False,
                         note="the BSA method applies to resin microspheres only")
    missing = _common_missing(target, planner)
    if planner.microspheres is None:
        missing.append("microspheres")
    if bsa_m2 is None:
        missing.append("BSA (height and weight)")
    if volumes.liver_ml is None or volumes.tumour_ml is None:
        missing.append("whole-liver and tumour volumes (withheld)")
    if missing:
        return BSAMethod(missing=tuple(missing), prescription=Prescription())
    assert target is not None and target.volume_ml is not None and bsa_m2 is not None
    assert volumes.liver_ml is not None and volumes.tumour_ml is not None
    lsf = planner.lung_shunt_fraction
    assert lsf is not None
    before = dm.bsa_method_activity_gbq(bsa_m2, volumes.tumour_ml, volumes.liver_ml,
                                        target.volume_ml)
    reduction = dm.resin_lsf_reduction(lsf, t.resin_lsf_reduce_20_from,
                                       t.resin_lsf_reduce_40_from, t.resin_lsf_do_not_treat_above)
    activity = None if reduction is None else before * (1.0 - reduction)
    return BSAMethod(lung_shunt_rule=LungShuntRule(bsa_m2, before, reduction),
                     prescription=_prescription(activity, target, planner, k, lung_mass, t))


def mird_method(target: Target | None, planner: PlannerInputs, k: DosimetryConstants,
                lung_mass: float, t: Thresholds) -> MIRDMethod:
    """Single-compartment MIRD: activity for a target mean dose to the territory."""
    missing = _common_missing(target, planner)
    if planner.target_dose_gy is None:
        missing.append("target_dose_gy")
    if missing:
        return MIRDMethod(target_dose_gy=planner.target_dose_gy, missing=tuple(missing),
                          prescription=Prescription())
    assert target is not None and target.volume_ml is not None
    assert planner.lung_shunt_fraction is not None and planner.target_dose_gy is not None
    activity = dm.mird_activity_gbq(planner.target_dose_gy,
                                    dm.mass_kg(target.volume_ml, k.liver_density_g_ml),
                                    k.energy_gy_kg_per_gbq, planner.lung_shunt_fraction)
    return MIRDMethod(target_dose_gy=planner.target_dose_gy,
                      prescription=_prescription(activity, target, planner, k, lung_mass, t))


def _normal_cap_dose(target: Target | None, planner: PlannerInputs, t: Thresholds,
                     missing: list[str]) -> tuple[float | None, str, float | None]:
    """The normal-liver limit of the partition prescription, its basis, and the dose to the
    territory's non-tumoral liver at which it is reached (Gy); appends what is missing.

    The planner's limit applies to the territory's non-tumoral liver. Otherwise the EANM
    rule: resin limits the same region; the glass limit is on the whole non-tumoral liver,
    reached when the territory's one gets ``limit x whole / territory normal volume``.
    """
    if planner.normal_liver_dose_limit_gy is not None:
        limit = planner.normal_liver_dose_limit_gy
        return limit, "planner (non-tumoral liver of the territory)", limit
    if target is None:
        return None, "territory unknown", None
    choice = limits.normal_liver_choice(planner, target.bilobar, t)
    if choice is None:
        missing.append("normal_liver_dose_limit_gy (microsphere type unknown)")
        return None, "microsphere type unknown", None
    if choice.limit is None:
        missing.append(f"{choice.unknown_inputs[0]} or normal_liver_dose_limit_gy "
                       f"({choice.describe_unknown()})")
        return None, f"{choice.rule_id}: {choice.describe_unknown()}", None
    basis = f"{choice.rule_id}: {choice.rule}"
    if choice.dose_key == limits.TERRITORY_NORMAL:
        return choice.limit, basis, choice.limit
    if not target.whole_normal_ml or not target.normal_ml:
        missing.append("whole-liver and tumour volumes (for the whole normal-liver limit)")
        return choice.limit, basis, None
    return choice.limit, basis, choice.limit * target.whole_normal_ml / target.normal_ml


def partition_method(target: Target | None, planner: PlannerInputs, k: DosimetryConstants,
                     lung_mass: float, t: Thresholds) -> PartitionMethod:
    """Partition model: the smaller of the normal-liver cap and the lung cap."""
    tn = planner.tumour_to_normal_ratio
    missing = _common_missing(target, planner)
    if tn is None:
        missing.append("tumour_to_normal_ratio")
    if target is not None and target.tumour_ml == 0.0:
        return PartitionMethod(
            tumour_to_normal_ratio=tn, applicable=False, missing=tuple(missing),
            note="no tumour in the territory: use the single-compartment model")
    limit, basis, cap_gy = _normal_cap_dose(target, planner, t, missing)
    normal_limit = NormalLiverLimit(limit, basis)
    if missing:
        return PartitionMethod(tumour_to_normal_ratio=tn, normal_limit=normal_limit,
                               missing=tuple(missing), prescription=Prescription())
    assert target is not None and target.tumour_ml is not None and target.normal_ml is not None
    assert cap_gy is not None
    lsf = planner.lung_shunt_fraction
    assert tn is not None and lsf is not None
    rho, c = k.liver_density_g_ml, k.energy_gy_kg_per_gbq
    m_t, m_n = dm.mass_kg(target.tumour_ml, rho), dm.mass_kg(target.normal_ml, rho)
    normal_cap = dm.partition_activity_for_normal_dose_gbq(cap_gy, tn, m_t, m_n, c, lsf)
    lung_limit = t.lung_session_gy
    if planner.prior_lung_dose_gy is not None:
        lung_limit = min(lung_limit, t.lung_cumulative_gy - planner.prior_lung_dose_gy)
    lung_cap = dm.lung_capped_activity_gbq(max(lung_limit, 0.0), lung_mass, c, lsf)
    prescribed = min(normal_cap, lung_cap)
    goal = planner.tumour_target_dose_gy
    for_goal = (None if goal is None
                else dm.partition_activity_for_tumour_dose_gbq(goal, tn, m_t, m_n, c, lsf))
    prescription = _prescription(prescribed, target, planner, k, lung_mass, t)
    assert prescription.implied_doses is not None
    tumour_dose = prescription.implied_doses.tumour_gy
    assert tumour_dose is not None
    caps = PartitionCaps(
        normal_cap_activity_gbq=normal_cap,
        lung_cap_activity_gbq=None if math.isinf(lung_cap) else lung_cap,
        limited_by="normal_liver" if normal_cap <= lung_cap else "lung",
        tumour_target_dose_gy=goal, activity_for_tumour_target_gbq=for_goal,
        tumour_target_reached=None if goal is None else tumour_dose >= goal * (1 - 1e-9))
    return PartitionMethod(tumour_to_normal_ratio=tn, normal_limit=normal_limit, caps=caps,
                           prescription=prescription)


def plan_sirt(volumes: LiverVolumes, bsa_m2: float | None, planner: PlannerInputs,
              config: QuantificationConfig, lung_mass_kg: float, lung_mass_source: str
              ) -> SIRTPlan:
    """The SIRT plan: every method with its inputs, results, flags and missing inputs.

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

    Returns
    -------
    SIRTPlan
        The plan; ``to_dict()`` gives the ``sirt`` section.
    """
    k = config.constants()
    t = config.thresholds
    territory = None if planner.territory is None else Territory.parse(planner.territory)
    target = None if territory is None else resolve_target(territory, volumes, config)
    methods: dict[str, MethodPlan] = {
        "bsa": bsa_method(target, volumes, bsa_m2, planner, k, lung_mass_kg, t),
        "mird": mird_method(target, planner, k, lung_mass_kg, t),
        "partition": partition_method(target, planner, k, lung_mass_kg, t),
    }
    return SIRTPlan(
        microspheres=None if planner.microspheres is None else planner.microspheres.value,
        lung_shunt_fraction=planner.lung_shunt_fraction, target=target,
        lung_mass=LungMass(lung_mass_kg, lung_mass_source), methods=methods,
        bsa_formula=BSA_FORMULAS[config.bsa_formula_sirt],
        liver_density_g_ml=k.liver_density_g_ml)
