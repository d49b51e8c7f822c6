"""What the planner pages show: a result document's SIRT plan, a job's result versions.

A plan, method by method: activities with their time reference, each dose with its region
and the guideline rules that judge it (two versions are shown side by side). A job's
versions: version 1 (its own result) and each approved re-plan, with the delivery of its SR
and PDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomnode.audit.rows import DeliveryRow, JobDetail, JobState, OutputKind, PlanApprovalRow
from dicomnode.planning.inputs import PLAN_FIELDS
from dicomnode.planning.versions import newest_result
from dicomnode.web.context import Dashboard

DOSE_REGIONS = {
    "target_mean_gy": "treated territory",
    "normal_liver_gy": "normal liver of the territory",
    "whole_normal_liver_gy": "whole normal liver",
    "tumour_gy": "tumour in the territory",
    "lung_gy": "lungs (this session)",
    "lung_cumulative_gy": "lungs (cumulative)",
}
"""Region of each dose of ``implied_doses``, in the order shown."""

DOSE_OF_FLAG = {
    "NORMAL_LIVER_DOSE": "normal_liver_gy",
    "WHOLE_NORMAL_LIVER_DOSE": "whole_normal_liver_gy",
    "TUMOUR_DOSE": "tumour_gy",
    "SEGMENTECTOMY_DOSE": "target_mean_gy",
    "LUNG_DOSE_SESSION": "lung_gy",
    "LUNG_DOSE_CUMULATIVE": "lung_cumulative_gy",
}
"""The dose each guideline flag code judges."""

OVERLAY_COUNT = 4
"""Key images of the segmentation the job page shows."""

METHOD_LABELS = {
    "bsa": "BSA method",
    "mird": "Single compartment (MIRD)",
    "partition": "Partition model",
}


@dataclass(frozen=True)
class RuleCheck:
    """One guideline rule applied to one dose."""

    rule_id: str
    rule: str
    status: str
    note: str

    @property
    def text(self) -> str:
        """``RULE-ID: rule: status`` (and the note)."""
        note = f" ({self.note})" if self.note else ""
        return f"{self.rule_id}: {self.rule}: {self.status.replace('_', ' ')}{note}"


@dataclass(frozen=True)
class DoseLine:
    """A dose of a plan with its region and the rules judging it."""

    key: str
    region: str
    gy: float | None
    rules: tuple[RuleCheck, ...]


@dataclass(frozen=True)
class MethodPlan:
    """The activity and doses of one planning method."""

    name: str
    label: str
    computed: bool
    missing: tuple[str, ...]
    injected_gbq: float | None
    reference: str
    vial_at_calibration_gbq: float | None
    decay_factor: float | None
    activity_missing: tuple[str, ...] = ()
    doses: tuple[DoseLine, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class PlanSummary:
    """A result version's SIRT plan as the planner pages show it."""

    version: int
    territory: str
    microspheres: str
    lung_shunt_percent: float | None
    status: str
    methods: tuple[MethodPlan, ...]

    def method(self, name: str) -> MethodPlan | None:
        """The method called ``name``, if the plan has it."""
        return next((m for m in self.methods if m.name == name), None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _method(name: str, data: Mapping[str, Any]) -> MethodPlan:
    doses = data.get("implied_doses") or {}
    activities = data.get("activities") or {}
    rules: dict[str, list[RuleCheck]] = {}
    for flag in data.get("flags") or []:
        key = DOSE_OF_FLAG.get(str(flag.get("code")))
        if key is not None:
            rules.setdefault(key, []).append(
                RuleCheck(
                    str(flag.get("rule_id") or flag.get("code")),
                    str(flag.get("rule") or ""),
                    str(flag.get("status") or ""),
                    str(flag.get("note") or ""),
                )
            )
    lines = tuple(
        DoseLine(key, region, _number(doses.get(key)), tuple(rules.get(key, ())))
        for key, region in DOSE_REGIONS.items()
        if key in doses or key in rules
    )
    injected = _number(data.get("injected_activity_gbq"))
    return MethodPlan(
        name=name,
        label=METHOD_LABELS.get(name, name),
        computed=injected is not None,
        missing=tuple(str(m) for m in data.get("missing") or []),
        injected_gbq=injected,
        reference=str(activities.get("reference") or ""),
        vial_at_calibration_gbq=_number(activities.get("vial_at_calibration_gbq")),
        decay_factor=_number(activities.get("decay_factor")),
        activity_missing=tuple(str(m) for m in activities.get("missing") or []),
        doses=lines,
    )


def plan_summary(doc: Mapping[str, Any]) -> PlanSummary:
    """The SIRT plan of a result document (version 1 when it has no ``result_version``)."""
    sirt = doc.get("sirt") or {}
    target = sirt.get("target") or {}
    territory = str(target.get("territory") or "not given")
    if target.get("segments") and territory not in ("whole", "right", "left"):
        territory = "segments " + ",".join(str(s) for s in target["segments"])
    lsf = _number(sirt.get("lung_shunt_fraction"))
    methods = sirt.get("methods") or {}
    return PlanSummary(
        version=int(doc.get("result_version") or 1),
        territory=territory,
        microspheres=str(sirt.get("microspheres") or "not given"),
        lung_shunt_percent=None if lsf is None else round(lsf * 100, 6),
        status=str(sirt.get("status") or "not computed"),
        methods=tuple(_method(name, methods[name]) for name in METHOD_LABELS if name in methods),
    )


def method_names(*plans: PlanSummary) -> list[str]:
    """Names of the methods any of the plans has, in the usual order."""
    return [name for name in METHOD_LABELS if any(p.method(name) for p in plans)]


def planner_placeholders(doc: Mapping[str, Any]) -> dict[str, str]:
    """The planner inputs of a result version as the form's field texts (shown as the
    values kept when a field is left empty)."""
    given = (doc.get("inputs") or {}).get("planner") or {}
    patient = doc.get("patient") or {}
    out: dict[str, str] = {}
    for name in (
        "tumour_to_normal_ratio",
        "target_dose_gy",
        "bilirubin_mg_dl",
        "prior_lung_dose_gy",
        "calibration_time",
        "administration_time",
        "planned_resection",
        "prior_sflr_percent",
        "pve_date",
    ):
        if given.get(name) is not None:
            out[name] = str(given[name])
    for field_name, key in (
        ("lung_shunt_percent", "lung_shunt_fraction"),
        ("residual_percent", "residual_fraction"),
    ):
        if _number(given.get(key)) is not None:
            out[field_name] = f"{float(given[key]) * 100:g}"
    for field_name, key in (
        ("tumour_dose_gy", "tumour_target_dose_gy"),
        ("normal_limit_gy", "normal_liver_dose_limit_gy"),
    ):
        if given.get(key) is not None:
            out[field_name] = str(given[key])
    for name in ("microspheres", "disease", "liver_condition"):
        if given.get(name):
            out[name] = str(given[name])
    if given.get("pretreated") is not None:
        out["pretreated"] = "yes" if given["pretreated"] else "no"
    territory = str(given.get("territory") or "")
    out.update(zip(("territory", "territory_segments"), territory.split(":", 1), strict=False))
    for name in ("height_m", "weight_kg"):
        if _number(patient.get(name)) is not None:
            out[name] = f"{float(patient[name]):g}"
    return out


@dataclass(frozen=True)
class PlanVersion:
    """One version of a job's result and the delivery of its SR and PDF.

    Parameters
    ----------
    version : int
        N (1: the job's own result).
    approval : PlanApprovalRow or None
        Who approved it (None for version 1).
    deliveries : tuple of DeliveryRow
        Outbox entries of the version's SR and PDF.
    """

    version: int
    approval: PlanApprovalRow | None
    deliveries: tuple[DeliveryRow, ...]


def result_folder(detail: JobDetail) -> Path | None:
    """The folder of a succeeded job's result (its final attempt's SEG's folder), if it is
    still there."""
    if detail.job.state is not JobState.SUCCEEDED:
        return None
    segs = [o for o in detail.outputs if o.kind is OutputKind.SEG]
    if not segs:
        return None
    folder = Path(max(segs, key=lambda o: (o.version, o.id)).path).parent
    return folder if (folder / "result.json").is_file() else None


def plan_versions(detail: JobDetail, approvals: list[PlanApprovalRow]) -> list[PlanVersion]:
    """Every version of the job's result, with the deliveries of its SR and PDF."""
    first_uids = {o.sop_instance_uid for o in detail.outputs if o.kind is not OutputKind.SEG}
    planned = {u for a in approvals for u in (a.sr_sop_instance_uid, a.pdf_sop_instance_uid)}
    first = tuple(d for d in detail.deliveries if d.sop_instance_uid in first_uids - planned)
    return [PlanVersion(1, None, first)] + [
        PlanVersion(
            a.result_version,
            a,
            tuple(
                d
                for d in detail.deliveries
                if d.sop_instance_uid in (a.sr_sop_instance_uid, a.pdf_sop_instance_uid)
            ),
        )
        for a in approvals
    ]


def planning_view(board: Dashboard, detail: JobDetail) -> dict[str, Any]:
    """What the job page shows of planning: versions, the newest plan, the form's hints."""
    folder = result_folder(detail)
    approvals = board.audit.plan_approvals(detail.job.id)
    current: PlanSummary | None = None
    placeholders: dict[str, str] = {}
    if folder is not None:
        try:
            _, doc = newest_result(folder)
        except ValueError:
            folder = None
        else:
            current = plan_summary(doc)
            placeholders = planner_placeholders(doc)
    return {
        "can_plan": folder is not None,
        "overlays": [
            f"/jobs/{detail.job.id}/overlays/v{current.version}/{k}.png"
            for k in range(OVERLAY_COUNT)
        ]
        if folder is not None and current is not None and (folder / "seg.dcm").is_file()
        else [],
        "versions": plan_versions(detail, approvals) if detail.outputs else [],
        "current": current,
        "placeholders": placeholders,
        "fields": PLAN_FIELDS,
    }


@dataclass(frozen=True)
class CompareRow:
    """One line of two plans side by side: a heading, or a quantity with both versions'
    texts (a dose's text lines: the dose, then each rule judging it)."""

    label: str
    old: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    heading: bool = False


def _gbq(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f} GBq"


def _vial(plan: MethodPlan) -> str:
    if plan.decay_factor is None:
        return "no calibration date and time given"
    decay = f"decay factor {plan.decay_factor:.3f}"
    if plan.vial_at_calibration_gbq is None:
        return f"not computed (missing: {', '.join(plan.activity_missing)}); {decay}"
    return f"{_gbq(plan.vial_at_calibration_gbq)} ({decay})"


def _method_lines(plan: MethodPlan | None) -> dict[str, tuple[str, ...]]:
    """Text lines of a method's quantities by row label."""
    if plan is None:
        return {}
    if not plan.computed:
        missing = ", ".join(plan.missing) or "inputs"
        return {"Injected activity": (f"not computed (missing: {missing})",)}
    out: dict[str, tuple[str, ...]] = {
        "Injected activity": (f"{_gbq(plan.injected_gbq)} ({plan.reference})",),
        "Vial activity at calibration": (_vial(plan),),
    }
    for dose in plan.doses:
        value = "not reported" if dose.gy is None else f"{dose.gy:.1f} Gy"
        out[f"Dose: {dose.region}"] = (value, *(rule.text for rule in dose.rules))
    return out


def compare_rows(old: PlanSummary, new: PlanSummary) -> list[CompareRow]:
    """Two plans line by line: territory, device, LSF, then each method's activity and doses."""

    def lsf(plan: PlanSummary) -> tuple[str, ...]:
        return (
            "not given" if plan.lung_shunt_percent is None else f"{plan.lung_shunt_percent:g} %",
        )

    rows = [
        CompareRow("Treated territory", (old.territory,), (new.territory,)),
        CompareRow("Microspheres", (old.microspheres,), (new.microspheres,)),
        CompareRow("Lung shunt fraction", lsf(old), lsf(new)),
        CompareRow("Plan status", (old.status,), (new.status,)),
    ]
    for name in method_names(old, new):
        before, after = _method_lines(old.method(name)), _method_lines(new.method(name))
        rows.append(CompareRow(METHOD_LABELS[name], heading=True))
        labels = list(after) + [label for label in before if label not in after]
        rows += [
            CompareRow(label, before.get(label, ("—",)), after.get(label, ("—",)))
            for label in labels
        ]
    return rows
