"""Future liver remnant (``docs/clinical-sources.md`` §4): FLR, sFLR, FLR/body weight, hypertrophy.

FLR = the remnant segments' volume minus the tumour inside them (the functional remnant).
Vessel-labelled voxels are in no segment, hence in no FLR. Segment 1 stays in the remnant
unless it is resected, or unless the configuration excludes it from every FLR.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.quantify.advisory import Flag
from pipeline.quantify.body import BSA_FORMULAS, TELV_FORMULAS, bsa, telv_ml
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import LiverCondition, PatientInfo, PlannerInputs
from pipeline.quantify.volumetry import SEGMENTS, LiverVolumes

THRESHOLD_SOURCE = "docs/clinical-sources.md §4 (advisory FLR thresholds)"
TRUANT = "Truant 2007 (remnant liver volume to body weight ratio), docs/clinical-sources.md §4"
SHINDOH = ("Shindoh 2013 (kinetic growth rate after portal-vein embolisation), "
           "docs/clinical-sources.md §4")
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


@dataclass(frozen=True)
class ResectionFLR:
    """FLR figures of one resection (``flr.resections[]`` in ``docs/quantification.md``).

    Parameters
    ----------
    name, label : str
        Machine and human-readable name of the resection.
    resected_segments, remnant_segments : tuple of int
        Couinaud segments removed and left.
    remnant_volume_ml, remnant_tumour_ml : float or None
        Volume of the remnant segments and the tumour in them, mL (None: withheld).
    flr_ml : float or None
        Functional remnant: remnant volume minus its tumour, mL.
    flr_percent_of_functional_liver : float or None
        FLR / (liver - total tumour volume) x 100, %.
    sflr_percent : float or None
        Standardised FLR: FLR / TELV x 100, %.
    flr_body_weight_percent : float or None
        FLR[mL] / (W[kg] x 1000) x 100, %.
    missing : tuple of str
        Inputs that prevented a figure.
    flags : tuple of Flag
        sFLR and FLR/BW advisory flags.
    """

    name: str
    label: str
    resected_segments: tuple[int, ...]
    remnant_segments: tuple[int, ...]
    remnant_volume_ml: float | None
    remnant_tumour_ml: float | None
    flr_ml: float | None
    flr_percent_of_functional_liver: float | None
    sflr_percent: float | None
    flr_body_weight_percent: float | None
    missing: tuple[str, ...]
    flags: tuple[Flag, ...]

    @property
    def caudate_in_remnant(self) -> bool:
        """Segment 1 is part of the remnant."""
        return 1 in self.remnant_segments

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "name": self.name, "label": self.label,
            "resected_segments": list(self.resected_segments),
            "remnant_segments": list(self.remnant_segments),
            "caudate_in_remnant": self.caudate_in_remnant,
            "remnant_volume_ml": self.remnant_volume_ml,
            "remnant_tumour_ml": self.remnant_tumour_ml, "flr_ml": self.flr_ml,
            "flr_percent_of_functional_liver": self.flr_percent_of_functional_liver,
            "sflr_percent": self.sflr_percent,
            "flr_body_weight_percent": self.flr_body_weight_percent,
            "missing": list(self.missing), "flags": [f.to_dict() for f in self.flags]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResectionFLR:
        """Read back :meth:`to_dict` (an earlier ``result.json``)."""
        return cls(
            name=str(data["name"]), label=str(data.get("label") or data["name"]),
            resected_segments=tuple(int(s) for s in data.get("resected_segments") or ()),
            remnant_segments=tuple(int(s) for s in data.get("remnant_segments") or ()),
            remnant_volume_ml=data.get("remnant_volume_ml"),
            remnant_tumour_ml=data.get("remnant_tumour_ml"), flr_ml=data.get("flr_ml"),
            flr_percent_of_functional_liver=data.get("flr_percent_of_functional_liver"),
            sflr_percent=data.get("sflr_percent"),
            flr_body_weight_percent=data.get("flr_body_weight_percent"),
            missing=tuple(data.get("missing") or ()),
            flags=tuple(Flag.from_dict(f) for f in data.get("flags") or ()))


@dataclass(frozen=True)
class Hypertrophy:
    """Degree of hypertrophy and kinetic growth rate after PVE (``flr.hypertrophy``).

    Parameters
    ----------
    resection : str or None
        The planned resection the sFLRs refer to.
    prior_sflr_percent, current_sflr_percent : float or None
        sFLR before PVE (planner) and now, %.
    pve_date, study_date : datetime.date or None
        Date of the portal-vein embolisation and of the current CT.
    weeks_since_pve : float or None
        Weeks from the PVE to the CT.
    degree_of_hypertrophy_points : float or None
        DH = current - prior sFLR, percentage points.
    kinetic_growth_rate_percent_per_week : float or None
        KGR = DH / weeks since PVE, %/week.
    missing : tuple of str
        What prevented DH or KGR.
    flags : tuple of Flag
        DH and KGR advisory flags.
    """

    resection: str | None
    prior_sflr_percent: float | None
    current_sflr_percent: float | None
    pve_date: dt.date | None
    study_date: dt.date | None
    weeks_since_pve: float | None
    degree_of_hypertrophy_points: float | None
    kinetic_growth_rate_percent_per_week: float | None
    missing: tuple[str, ...]
    flags: tuple[Flag, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (dates as ISO 8601)."""
        return {"resection": self.resection, "prior_sflr_percent": self.prior_sflr_percent,
                "current_sflr_percent": self.current_sflr_percent,
                "pve_date": _iso(self.pve_date), "study_date": _iso(self.study_date),
                "weeks_since_pve": self.weeks_since_pve,
                "degree_of_hypertrophy_points": self.degree_of_hypertrophy_points,
                "kinetic_growth_rate_percent_per_week":
                    self.kinetic_growth_rate_percent_per_week,
                "missing": list(self.missing), "flags": [f.to_dict() for f in self.flags]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hypertrophy:
        """Read back :meth:`to_dict`."""
        return cls(
            resection=data.get("resection"), prior_sflr_percent=data.get("prior_sflr_percent"),
            current_sflr_percent=data.get("current_sflr_percent"),
            pve_date=_date(data.get("pve_date")), study_date=_date(data.get("study_date")),
            weeks_since_pve=data.get("weeks_since_pve"),
            degree_of_hypertrophy_points=data.get("degree_of_hypertrophy_points"),
            kinetic_growth_rate_percent_per_week=data.get(
                "kinetic_growth_rate_percent_per_week"),
            missing=tuple(data.get("missing") or ()),
            flags=tuple(Flag.from_dict(f) for f in data.get("flags") or ()))


@dataclass(frozen=True)
class FLRPlan:
    """The ``flr`` section: body size, TELV and the FLR of every resection.

    Parameters
    ----------
    bsa_m2 : float or None
        Body surface area by the TELV's BSA formula, m².
    bsa_formula, telv_formula : str
        The formulas in words.
    telv_ml : float or None
        Total estimated liver volume, mL.
    functional_liver_ml : float or None
        Liver minus total tumour volume, mL.
    caudate_rule, vessels : str
        How segment 1 and vessel voxels are treated, in words.
    liver_condition : str or None
        ``normal``, ``chemotherapy`` or ``cirrhosis`` (None: unknown, all thresholds shown).
    resections : tuple of ResectionFLR
        Standard resections, then the custom ones.
    hypertrophy : Hypertrophy
        DH and KGR of the planned resection.
    left_lobe_share_percent : float or None
        Left lobe / (left + right lobe) x 100, %.
    """

    bsa_m2: float | None
    bsa_formula: str
    telv_ml: float | None
    telv_formula: str
    functional_liver_ml: float | None
    caudate_rule: str
    vessels: str
    liver_condition: str | None
    resections: tuple[ResectionFLR, ...]
    hypertrophy: Hypertrophy
    left_lobe_share_percent: float | None

    def resection(self, name: str) -> ResectionFLR:
        """The row of one resection by its machine name (KeyError if absent)."""
        for row in self.resections:
            if row.name == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (schema in ``docs/quantification.md``)."""
        return {"bsa_m2": self.bsa_m2, "bsa_formula": self.bsa_formula,
                "telv_ml": self.telv_ml, "telv_formula": self.telv_formula,
                "functional_liver_ml": self.functional_liver_ml,
                "caudate_rule": self.caudate_rule, "vessels": self.vessels,
                "liver_condition": self.liver_condition,
                "resections": [r.to_dict() for r in self.resections],
                "hypertrophy": self.hypertrophy.to_dict(),
                "left_lobe_share_percent": self.left_lobe_share_percent}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FLRPlan:
        """Read back :meth:`to_dict` (an earlier ``result.json``)."""
        return cls(
            bsa_m2=data.get("bsa_m2"), bsa_formula=str(data.get("bsa_formula") or ""),
            telv_ml=data.get("telv_ml"), telv_formula=str(data.get("telv_formula") or ""),
            functional_liver_ml=data.get("functional_liver_ml"),
            caudate_rule=str(data.get("caudate_rule") or ""),
            vessels=str(data.get("vessels") or ""), liver_condition=data.get("liver_condition"),
            resections=tuple(ResectionFLR.from_dict(r) for r in data.get("resections") or ()),
            hypertrophy=Hypertrophy.from_dict(data.get("hypertrophy") or {}),
            left_lobe_share_percent=data.get("left_lobe_share_percent"))


def _iso(date: dt.date | None) -> str | None:
    return None if date is None else date.isoformat()


def _date(text: str | None) -> dt.date | None:
    return None if not text else dt.date.fromisoformat(text)


def resections(config: QuantificationConfig, planner: PlannerInputs) -> list[Resection]:
    """Standard resections, then the configuration's and the planner's custom ones."""
    out = list(STANDARD_RESECTIONS)
    custom = {**config.custom_resections, **planner.custom_resections}
    for name, segs in custom.items():
        out.append(Resection(name, f"Custom: resect segments {sorted(set(segs))}",
                             tuple(sorted(set(segs)))))
    return out


def sflr_percent(flr_ml: float | None, telv: float | None) -> float | None:
    """Standardised FLR, %: ``FLR / TELV x 100`` (None where either is unknown)."""
    return percent_of(flr_ml, telv)


def percent_of(part: float | None, whole: float | None) -> float | None:
    """``part / whole x 100``, % (None where either is unknown or the whole is not > 0)."""
    return None if part is None or whole is None or whole <= 0 else 100.0 * part / whole


def flr_body_weight_percent(flr_ml: float | None, weight_kg: float | None) -> float | None:
    """FLR-to-body-weight ratio, %: FLR mass over body mass at 1 g/mL.

    ``FLR[mL] / (W[kg] x 1000) x 100`` (mL taken as g); 400 mL at 80 kg gives 0.50 %
    (``docs/clinical-sources.md`` §4 test vector).
    """
    return percent_of(flr_ml, None if weight_kg is None else 1000.0 * weight_kg)


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
                ) -> Hypertrophy:
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
    return Hypertrophy(
        resection=planner.planned_resection, prior_sflr_percent=planner.prior_sflr_percent,
        current_sflr_percent=sflr_now, pve_date=planner.pve_date, study_date=study_date,
        weeks_since_pve=weeks, degree_of_hypertrophy_points=dh,
        kinetic_growth_rate_percent_per_week=kgr, missing=tuple(missing), flags=tuple(flags))


def lobe_share_percent(part_ml: float | None, other_ml: float | None) -> float | None:
    """Share of one lobe in the two lobes' sum, % (radiation lobectomy follow-up)."""
    if part_ml is None or other_ml is None:
        return None
    return percent_of(part_ml, part_ml + other_ml)


def compute_flr(volumes: LiverVolumes, patient: PatientInfo, planner: PlannerInputs,
                config: QuantificationConfig, study_date: dt.date | None = None
                ) -> FLRPlan:
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
    FLRPlan
        The ``flr`` section (``to_dict()``: schema in ``docs/quantification.md``).
    """
    h, w = patient.height_m, patient.weight_kg
    bsa_m2 = bsa(config.bsa_formula_telv, h, w) if h is not None and w is not None else None
    telv = telv_ml(config.telv_formula, bsa_m2) if bsa_m2 is not None else None
    functional = (None if volumes.liver_ml is None or volumes.tumour_ml is None
                  else volumes.liver_ml - volumes.tumour_ml)
    rows: list[ResectionFLR] = []
    by_name: dict[str, float | None] = {}
    for res in resections(config, planner):
        remnant = res.remnant(config.include_caudate_in_flr)
        total, tumour = volumes.region(remnant)
        flr = None if total is None or tumour is None else total - tumour
        sflr = sflr_percent(flr, telv)
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
        rows.append(ResectionFLR(
            name=res.name, label=res.label, resected_segments=res.resected,
            remnant_segments=remnant, remnant_volume_ml=total, remnant_tumour_ml=tumour,
            flr_ml=flr, flr_percent_of_functional_liver=percent_of(flr, functional),
            sflr_percent=sflr, flr_body_weight_percent=flr_bw, missing=tuple(missing),
            flags=tuple(sflr_flags(sflr, flr_bw, config, planner.liver_condition))))
    lobes = config.lobes
    right = volumes.region(lobes["right"])[0] if "right" in lobes else None
    left = volumes.region(lobes["left"])[0] if "left" in lobes else None
    sflr_planned = by_name.get(planner.planned_resection or "")
    return FLRPlan(
        bsa_m2=bsa_m2, bsa_formula=BSA_FORMULAS[config.bsa_formula_telv], telv_ml=telv,
        telv_formula=TELV_FORMULAS[config.telv_formula], functional_liver_ml=functional,
        caudate_rule=("segment 1 is in the remnant unless resected"
                      if config.include_caudate_in_flr else
                      "segment 1 is excluded from every remnant"),
        vessels=VESSEL_NOTE,
        liver_condition=None if planner.liver_condition is None
        else planner.liver_condition.value,
        resections=tuple(rows),
        hypertrophy=hypertrophy(sflr_planned, planner, config,
                                (planner.planned_resection or "") in by_name, study_date),
        left_lobe_share_percent=lobe_share_percent(left, right))
