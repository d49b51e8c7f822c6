"""Quality gates: the documented rules that withhold a figure or put a warning on it.

Each gate yields a :class:`Finding` (code, message, the output figures it affects, and the
action taken) and, for the action ``withheld``, the measurement *atoms* that are not reported:
``liver``, ``tumour``, ``segment:N`` or a structure name (``lung``, ``portal_vein``...). Every
figure built from a withheld atom is reported as null. The rules are listed in
``docs/quantification.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.quantify.config import QualityGates
from pipeline.quantify.inputs import PatientInfo, QualityContext
from pipeline.structures import COUINAUD_SEGMENTS, Structure

LIVER = "liver"
TUMOUR = "tumour"


def segment_atom(number: int) -> str:
    """Atom name of Couinaud segment ``number``."""
    return f"segment:{number}"


ALL_LIVER_ATOMS = frozenset({LIVER, TUMOUR, *(segment_atom(n) for n in range(1, 9))})


@dataclass(frozen=True)
class Finding:
    """A warning in the output.

    Parameters
    ----------
    code : str
        Stable machine code (documented).
    message : str
        Human-readable explanation.
    affects : list of str
        Output figures concerned (JSON paths, ``*`` for all).
    action : str
        ``withheld`` (figures not reported), ``warning`` (reported with warning) or
        ``not_computable`` (an input is missing) or ``note`` (how a figure is defined).
    stage : str
        ``measurement`` (from the image and segmentation; kept by a re-plan) or ``planning``
        (from patient and planner inputs; recomputed by a re-plan); other stages of the run
        name themselves (``select``, ``segment``).
    """

    code: str
    message: str
    affects: list[str]
    action: str
    stage: str = "measurement"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"code": self.code, "message": self.message, "affects": list(self.affects),
                "action": self.action, "stage": self.stage}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Read back :meth:`to_dict` (an earlier ``result.json``; extra keys ignored)."""
        return cls(code=str(data.get("code", "WARNING")), message=str(data.get("message", "")),
                   affects=[str(a) for a in data.get("affects") or []],
                   action=str(data.get("action", "warning")),
                   stage=str(data.get("stage", "measurement")))


@dataclass
class GateResult:
    """Findings and the atoms they withhold."""

    findings: list[Finding] = field(default_factory=list)
    withheld: set[str] = field(default_factory=set)


def _coverage_atoms(name: str) -> set[str]:
    if name == LIVER or name == Structure.LIVER.value:
        return {LIVER, *(segment_atom(n) for n in range(1, 9))}
    segments = [s.value for s in COUINAUD_SEGMENTS]
    if name in segments:
        return {LIVER, segment_atom(segments.index(name) + 1)}
    if name == Structure.METASTASIS.value:
        return {LIVER, TUMOUR}
    return {name}


def coverage_gates(incomplete: set[str], rules: QualityGates) -> GateResult:
    """Structures touching the field of view: their volumes are lower bounds.

    ``withhold``: not reported (nor anything built from them); ``warn``: reported with a
    warning.
    """
    result = GateResult()
    for name in sorted(incomplete):
        atoms = _coverage_atoms(name)
        withhold = rules.incomplete_coverage_action == "withhold"
        what = "not reported" if withhold else "reported as a lower bound"
        result.findings.append(Finding(
            code="INCOMPLETE_COVERAGE",
            message=f"{name} touches the edge of the field of view: its volume and every "
                    f"figure derived from it are {what}.",
            affects=sorted(atoms), action="withheld" if withhold else "warning"))
        if withhold:
            result.withheld |= atoms
    return result


def image_gates(quality: QualityContext, slice_spacing_mm: float, rules: QualityGates,
                structure_names: set[str]) -> GateResult:
    """Thick slices and low segmentation confidence."""
    result = GateResult()
    thickness = quality.slice_thickness_mm or slice_spacing_mm
    if thickness > rules.thick_slice_mm:
        result.findings.append(Finding(
            code="THICK_SLICES",
            message=f"Slice thickness {thickness:g} mm exceeds {rules.thick_slice_mm:g} mm: "
                    "small lesions may be missed, diameters and volumes are less accurate.",
            affects=["volumes_ml", "lesions", "tumour_burden"], action="warning"))
    if quality.slice_thickness_mm is None:
        result.findings.append(Finding(
            code="SLICE_THICKNESS_UNKNOWN",
            message=f"SliceThickness not given; the slice spacing {slice_spacing_mm:g} mm is "
                    "used for the RECIST measurability rule.",
            affects=["lesions"], action="warning"))
    if quality.review_recommended:
        withhold = rules.low_confidence_action == "withhold"
        reasons = "; ".join(quality.review_reasons) or "no reason given"
        result.findings.append(Finding(
            code="LOW_CONFIDENCE",
            message=f"Segmentation review recommended ({reasons}); every figure derived from "
                    f"the segmentation is {'not reported' if withhold else 'to be checked'}.",
            affects=["*"], action="withheld" if withhold else "warning"))
        if withhold:
            result.withheld |= ALL_LIVER_ATOMS | structure_names
    return result


def usable_patient(patient: PatientInfo, rules: QualityGates) -> tuple[PatientInfo, GateResult]:
    """Drop missing or implausible height/weight, with a finding for each.

    Returns
    -------
    tuple
        The usable body size (implausible values set to None) and the findings.
    """
    result = GateResult()
    height, weight = patient.height_m, patient.weight_kg
    checks = (("height", "height_m", height, rules.height_range_m, "m"),
              ("weight", "weight_kg", weight, rules.weight_range_kg, "kg"))
    usable: dict[str, float | None] = {}
    for word, key, value, (low, high), unit in checks:
        tag = "PatientSize" if key == "height_m" else "PatientWeight"
        affects = ["patient.bsa", "flr.telv_ml", "flr.resections.sflr_percent",
                   "sirt.methods.bsa"]
        if key == "weight_kg":
            affects.append("flr.resections.flr_body_weight_percent")
        if value is None:
            result.findings.append(Finding(
                code=f"PATIENT_{word.upper()}_MISSING",
                message=f"Body {word} unknown (no {tag} and none given): figures that need "
                        "it are not computed.",
                affects=affects, action="not_computable", stage="planning"))
            usable[key] = None
        elif not low <= value <= high:
            result.findings.append(Finding(
                code=f"PATIENT_{word.upper()}_IMPLAUSIBLE",
                message=f"Body {word} {value:g} {unit} is outside {low:g}-{high:g} {unit} "
                        "(wrong unit?): not used.",
                affects=affects, action="not_computable", stage="planning"))
            usable[key] = None
        else:
            usable[key] = value
    return PatientInfo(**usable), result
