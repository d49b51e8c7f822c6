"""Future liver remnant (``docs/clinical-sources.md`` §4): FLR, sFLR, FLR/body weight, hypertrophy.

FLR = the remnant segments' volume minus the tumour inside them (the functional remnant).
Vessel-labelled voxels are in no segment, hence in no FLR. Segment 1 stays in the remnant
unless it is resected, or unless the configuration excludes it from every FLR.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pipeline.quantify.advisory import Flag
from pipeline.quantify.body import BSA_FORMULAS, TELV_FORMULAS, bsa, telv_ml
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import LiverCondition, PatientInfo, PlannerInputs
from pipeline.quantify.volumetry import SEGMENTS, LiverVolumes

THRESHOLD_SOURCE = "CLINICAL.md §4 (advisory FLR thresholds)"
TRUANT = "Truant 2007 (remnant liver volume to body weight ratio), CLINICAL.md §4"
SHINDOH = "Shindoh 2013 (kinetic growth rate after portal-vein embolisation), CLINICAL.md §4"
VESSEL_NOTE = ("Voxels labelled portal vein, hepatic vein or IVC are not liver parenchyma and "
               "are excluded from every liver, segment and FLR volume.")


@dataclass(frozen=True)
class Resection:
    """A resection by the Couinaud segments it removes.

    Parameters
    ----------
    name : str
        Machine name.
    label : str
        Human-readable name.
    resected : tuple of int
        Resected segments.
    """

    name: str
    label: str
    resected: tuple[int, ...]

    def remnant(self, include_caudate: bool) -> tuple[int, ...]:
        """Remnant segments; segment 1 only if not resected and ``include_caudate``."""
        return tuple(s for s in SEGMENTS
                     if s not in self.resected and (include_caudate or s != 1))


STANDARD_RESECTIONS: tuple[Resection, ...] = (
    Resection("right_hepatectomy", "Right hepatectomy", (5, 6, 7, 8)),
    Resection("extended_right_hepatectomy",
              "Extended right hepatectomy (right trisectionectomy)", (4, 5, 6, 7, 8)),
    Resection("left_hepatectomy", "Left hepatectomy", (2, 3, 4)),
    Resection("extended_left_hepatectomy",
              "Extended left hepatectomy (left trisectionectomy)", (2, 3, 4, 5, 8)),
    Resection("left_lateral_sectionectomy", "Left lateral sectionectomy", (2, 3)),
)


def resections(config: QuantificationConfig, planner: PlannerInputs) -> list[Resection]:
    """Standard resections, then the configuration's and the planner's custom ones."""
    out = list(STANDARD_RESECTIONS)
    custom = {**config.custom_resections, **planner.custom_resections}
    for name, segs in custom.items():
        out.append(Resection(name, f"Custom: resect segments {sorted(set(segs))}",
                             tuple(sorted(set(segs)))))
    return out


def _pct(num: float | None, den: float | None) -> float | None:
    return None if num is None or den is None or den <= 0 else 100.0 * num / den


def flr_body_weight_percent(flr_ml: float | None, weight_kg: float | None) -> float | None:
    """FLR-to-body-weight ratio, %: FLR mass over body mass at 1 g/mL.

    ``FLR[mL] / (W[kg] x 1000) x 100`` (mL taken as g); 400 mL at 80 kg gives 0.50 %
    (``docs/clinical-sources.md`` §4 test vector).
    """
    return _pct(flr_ml, None if weight_kg is None else 1000.0 * weight_kg)


def sflr_flags(sflr: float | None, flr_bw: float | None, config: QuantificationConfig,
               condition: LiverCondition | None) -> list[Flag]:
    """sFLR against the threshold of the liver condition (all three if unknown), FLR/BW."""
    t = config.thresholds
    limits = {LiverCondition.NORMAL: t.sflr_normal_percent,
              LiverCondition.CHEMOTHERAPY: t.sflr_chemotherapy_percent,
              LiverCondition.CIRRHOSIS: t.sflr_cirrhosis_percent}
    chosen = [condition] if condition is not None else list(limits)
    flags = [Flag(code=f"SFLR_{c.value.upper()}", rule_id=f"CLIN4-SFLR-{c.value.upper()}",
                  rule=f"sFLR >= {limits[c]:g} % ({c.value} liver)", source=THRESHOLD_SOURCE,
                  value=sflr, limit=limits[c], comparison=">=", unit="%",
                  note="" if sflr is not None else "sFLR not computable")
             for c in chosen]
    flags.append(Flag(
        code="FLR_BODY_WEIGHT", rule_id="TRUANT2007-FLR-BW",
        rule=f"FLR / body weight > {t.flr_body_weight_percent:g} % "
             f"(<= {t.flr_body_weight_percent:g} % is at risk)",
        source=TRUANT, value=flr_bw, limit=t.flr_body_weight_percent, comparison=">",
        unit="%", note="" if flr_bw is not None else "FLR/BW not computable"))
    return flags


def weeks_between(start: dt.date | None, end: dt.date | None) -> float | None:
    """Weeks from ``start`` to ``end`` (None if either is unknown)."""
    return None if start is None or end is None else (end - start).days / 7.0


def hypertrophy(sflr_now: float | None, planner: PlannerInputs, config: QuantificationConfig,
                known_resection: bool = True, study_date: dt.date | None = None
                ) -> dict[str, Any]:
    """Degree of hypertrophy (DH, points) and kinetic growth rate (KGR, %/week).

    ``sflr_now`` is the current sFLR of ``planner.planned_resection`` (the remnant the
    prior sFLR was measured for); ``known_resection`` False when that name is unknown.
    KGR = DH / weeks from ``planner.pve_date`` to ``study_date`` (the date of the current
    CT), not weeks between the two scans (Shindoh 2013).
    """
    missing = [k for k in ("prior_sflr_percent", "planned_resection")
               if getattr(planner, k) is None]
    if planner.planned_resection is not None and not known_resection:
        missing.append(f"resection {planner.planned_resection!r} is not defined")
    elif sflr_now is None and planner.planned_resection is not None:
        missing.append("current sFLR of the planned resection")
    dh = None if missing else sflr_now - planner.prior_sflr_percent  # type: ignore[operator]
    weeks = weeks_between(planner.pve_date, study_date)
    kgr = None
    if dh is not None and weeks is not None and weeks > 0:
        kgr = dh / weeks
    elif dh is not None:
        missing.append("pve_date" if planner.pve_date is None else
                       "study date" if study_date is None else "PVE date before the study")
    t = config.thresholds
    flags = [Flag(code="DEGREE_OF_HYPERTROPHY", rule_id="CLIN4-DH",
                  rule=f"DH >= {t.degree_of_hypertrophy_points:g} points",
                  source=THRESHOLD_SOURCE, value=dh, limit=t.degree_of_hypertrophy_points,
                  comparison=">=", unit="%"),
             Flag(code="KINETIC_GROWTH_RATE", rule_id="SHINDOH2013-KGR",
                  rule=f"KGR >= {t.kinetic_growth_rate_percent_per_week:g} %/week after PVE "
                  "(lower predicts post-hepatectomy liver failure; not valid after radiation "
                  "lobectomy)", source=SHINDOH, value=kgr,
                  limit=t.kinetic_growth_rate_percent_per_week, comparison=">=", unit="%/wk")]
    return {"resection": planner.planned_resection,
            "prior_sflr_percent": planner.prior_sflr_percent,
            "current_sflr_percent": sflr_now,
            "pve_date": None if planner.pve_date is None else planner.pve_date.isoformat(),
            "study_date": None if study_date is None else study_date.isoformat(),
            "weeks_since_pve": weeks,
            "degree_of_hypertrophy_points": dh, "kinetic_growth_rate_percent_per_week": kgr,
            "missing": missing, "flags": [f.to_dict() for f in flags]}


def lobe_share_percent(part_ml: float | None, other_ml: float | None) -> float | None:
    """Share of one lobe in the two lobes' sum, % (radiation lobectomy follow-up)."""
    if part_ml is None or other_ml is None:
        return None
    return _pct(part_ml, part_ml + other_ml)


def compute_flr(volumes: LiverVolumes, patient: PatientInfo, planner: PlannerInputs,
                config: QuantificationConfig, study_date: dt.date | None = None
                ) -> dict[str, Any]:
    """FLR figures for every resection.

    Parameters
    ----------
    volumes : LiverVolumes
        Reported volumes (None where withheld).
    patient : PatientInfo
        Usable body size (implausible values already removed).
    planner : PlannerInputs
        Merged planner inputs.
    config : QuantificationConfig
        Settings.
    study_date : datetime.date, optional
        Date of the CT (for the weeks since the PVE).

    Returns
    -------
    dict
        The ``flr`` section (schema in ``docs/quantification.md``).
    """
    h, w = patient.height_m, patient.weight_kg
    bsa_m2 = bsa(config.bsa_formula_telv, h, w) if h is not None and w is not None else None
    telv = telv_ml(config.telv_formula, bsa_m2) if bsa_m2 is not None else None
    functional = (None if volumes.liver_ml is None or volumes.tumour_ml is None
                  else volumes.liver_ml - volumes.tumour_ml)
    rows = []
    by_name: dict[str, float | None] = {}
    for res in resections(config, planner):
        remnant = res.remnant(config.include_caudate_in_flr)
        total, tumour = volumes.region(remnant)
        flr = None if total is None or tumour is None else total - tumour
        sflr = _pct(flr, telv)
        flr_bw = flr_body_weight_percent(flr, w)
        by_name[res.name] = sflr
        missing = []
        if not volumes.has_segments:
            missing.append("Couinaud segments (not segmented)")
        elif flr is None:
            missing.append("remnant segment volumes (withheld)")
        if bsa_m2 is None:
            missing.append("BSA (height and weight)")
        if w is None:
            missing.append("weight_kg")
        rows.append({
            "name": res.name, "label": res.label,
            "resected_segments": list(res.resected), "remnant_segments": list(remnant),
            "caudate_in_remnant": 1 in remnant,
            "remnant_volume_ml": total, "remnant_tumour_ml": tumour, "flr_ml": flr,
            "flr_percent_of_functional_liver": _pct(flr, functional),
            "sflr_percent": sflr, "flr_body_weight_percent": flr_bw,
            "missing": missing,
            "flags": [f.to_dict() for f in sflr_flags(sflr, flr_bw, config,
                                                      planner.liver_condition)],
        })
    lobes = config.lobes
    right = volumes.region(lobes["right"])[0] if "right" in lobes else None
    left = volumes.region(lobes["left"])[0] if "left" in lobes else None
    sflr_planned = by_name.get(planner.planned_resection or "")
    return {
        "bsa_m2": bsa_m2,
        "bsa_formula": BSA_FORMULAS[config.bsa_formula_telv],
        "telv_ml": telv,
        "telv_formula": TELV_FORMULAS[config.telv_formula],
        "functional_liver_ml": functional,
        "caudate_rule": ("segment 1 is in the remnant unless resected"
                         if config.include_caudate_in_flr else
                         "segment 1 is excluded from every remnant"),
        "vessels": VESSEL_NOTE,
        "liver_condition": None if planner.liver_condition is None
        else planner.liver_condition.value,
        "resections": rows,
        "hypertrophy": hypertrophy(sflr_planned, planner, config,
                                   (planner.planned_resection or "") in by_name, study_date),
        "left_lobe_share_percent": lobe_share_percent(left, right),
    }
