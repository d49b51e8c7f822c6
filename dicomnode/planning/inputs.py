"""Planner inputs from raw text (a web form, command-line options), checked field by field.

:data:`PLAN_FIELDS` lists every field a planner may give, with its label, unit and range;
:func:`plan_inputs` turns a mapping of field name -> text into the
:class:`~pipeline.quantify.inputs.PlannerInputs` and
:class:`~pipeline.quantify.inputs.PatientInfo` of a re-plan, or raises
:class:`PlanInputError` with one message per field that is wrong. An empty or absent value
means "not given" (the earlier version's value, then the site default, applies).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from pipeline.quantify.inputs import (
    Disease,
    LiverCondition,
    Microspheres,
    PatientInfo,
    PlannerInputs,
    Territory,
)


class FieldKind(StrEnum):
    """How a field's text is read."""

    NUMBER = "number"
    CHOICE = "choice"
    DATETIME = "datetime"
    DATE = "date"
    TEXT = "text"


@dataclass(frozen=True)
class PlanField:
    """One planner input as a form or the command line gives it.

    Parameters
    ----------
    name : str
        Field name (the key in the mapping given to :func:`plan_inputs`).
    label : str
        What a person reads.
    kind : FieldKind
        How its text is read.
    unit : str
        Unit of the number ("" for none or for non-numbers).
    minimum, maximum : float or None
        Range of a number, in ``unit``.
    minimum_inclusive, maximum_inclusive : bool
        Whether the range's ends are allowed.
    choices : tuple of str
        Allowed values of a choice ("" is always allowed: not given).
    help : str
        One line of guidance.
    """

    name: str
    label: str
    kind: FieldKind
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    minimum_inclusive: bool = True
    maximum_inclusive: bool = True
    choices: tuple[str, ...] = field(default_factory=tuple)
    help: str = ""

    def range_text(self) -> str:
        """The allowed range in words, e.g. ``0 <= value < 100 %``."""
        low = (
            ""
            if self.minimum is None
            else f"{self.minimum:g} {'<=' if self.minimum_inclusive else '<'} "
        )
        high = (
            ""
            if self.maximum is None
            else f" {'<=' if self.maximum_inclusive else '<'} {self.maximum:g}"
        )
        return f"{low}value{high} {self.unit}".strip()


_N = FieldKind.NUMBER
PLAN_FIELDS: tuple[PlanField, ...] = (
    PlanField(
        "microspheres",
        "Microspheres",
        FieldKind.CHOICE,
        choices=tuple(m.value for m in Microspheres),
        help="Y-90 device type.",
    ),
    PlanField(
        "territory",
        "Treated territory",
        FieldKind.CHOICE,
        choices=("whole", "right", "left", "segments"),
        help="Whole liver, a lobe (hemiliver), or the Couinaud segments below.",
    ),
    PlanField(
        "territory_segments",
        "Territory segments",
        FieldKind.TEXT,
        help="Couinaud segments 1-8 of a segmental territory, e.g. 5,6.",
    ),
    PlanField(
        "lung_shunt_percent",
        "Lung shunt fraction",
        _N,
        "%",
        0.0,
        100.0,
        maximum_inclusive=False,
        help="From the Tc-99m MAA scan.",
    ),
    PlanField(
        "tumour_to_normal_ratio",
        "Tumour-to-normal ratio (T/N)",
        _N,
        "",
        0.0,
        100.0,
        minimum_inclusive=False,
        help="Activity concentration tumour / normal liver.",
    ),
    PlanField(
        "target_dose_gy",
        "Target dose to the territory (MIRD)",
        _N,
        "Gy",
        0.0,
        1000.0,
        minimum_inclusive=False,
        help="Single-compartment mean absorbed dose.",
    ),
    PlanField(
        "tumour_dose_gy",
        "Tumour dose goal (partition)",
        _N,
        "Gy",
        0.0,
        1000.0,
        minimum_inclusive=False,
    ),
    PlanField(
        "normal_limit_gy",
        "Normal-liver dose limit (partition)",
        _N,
        "Gy",
        0.0,
        200.0,
        minimum_inclusive=False,
        help="Empty: the applicable EANM 2022 limit.",
    ),
    PlanField(
        "residual_percent",
        "Residual in vial and lines",
        _N,
        "%",
        0.0,
        100.0,
        maximum_inclusive=False,
    ),
    PlanField(
        "calibration_time",
        "Vial calibration date and time",
        FieldKind.DATETIME,
        help="The time the vial's stated activity refers to, e.g. 2026-03-02T12:00.",
    ),
    PlanField(
        "administration_time",
        "Planned administration date and time",
        FieldKind.DATETIME,
        help="e.g. 2026-03-05T12:00.",
    ),
    PlanField("bilirubin_mg_dl", "Total bilirubin", _N, "mg/dL", 0.0, 50.0),
    PlanField("prior_lung_dose_gy", "Lung dose of earlier sessions", _N, "Gy", 0.0, 200.0),
    PlanField(
        "pretreated",
        "Liver pretreated or compromised",
        FieldKind.CHOICE,
        choices=("yes", "no"),
        help="Selects the bilobar resin normal-liver limit (30 Gy instead of 40 Gy).",
    ),
    PlanField(
        "disease",
        "Tumour type",
        FieldKind.CHOICE,
        choices=tuple(d.value for d in Disease),
        help="Selects the tumour-dose threshold.",
    ),
    PlanField(
        "liver_condition",
        "Background liver",
        FieldKind.CHOICE,
        choices=tuple(c.value for c in LiverCondition),
    ),
    PlanField(
        "planned_resection",
        "Planned resection",
        FieldKind.TEXT,
        help="e.g. right_hepatectomy (the hypertrophy figures refer to it).",
    ),
    PlanField(
        "custom_resections",
        "Custom resections",
        FieldKind.TEXT,
        help="NAME:SEGMENTS; ..., e.g. posterior:6,7.",
    ),
    PlanField("prior_sflr_percent", "sFLR on the prior study", _N, "%", 0.0, 100.0),
    PlanField(
        "pve_date",
        "Portal-vein embolisation date",
        FieldKind.DATE,
        help="KGR = DH / weeks since this date.",
    ),
    PlanField("height_m", "Height", _N, "m", 0.3, 2.5),
    PlanField("weight_kg", "Weight", _N, "kg", 2.0, 400.0),
)
"""Every planner input, in the order a form shows them."""

FIELDS_BY_NAME = {f.name: f for f in PLAN_FIELDS}
TEXT_MAX = 200
"""Longest text accepted in any field, characters."""

_PLANNER_FIELD = {
    "lung_shunt_fraction": "lung_shunt_percent",
    "tumour_target_dose_gy": "tumour_dose_gy",
    "normal_liver_dose_limit_gy": "normal_limit_gy",
    "residual_fraction": "residual_percent",
}
"""PlannerInputs attribute -> form field, where the names differ."""


class PlanInputError(ValueError):
    """Planner inputs that cannot be used; ``errors`` holds one message per field name."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


def _number(spec: PlanField, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {text[:32]!r}") from exc
    if not value.is_finite():
        raise ValueError("not a finite number")
    low_ok = spec.minimum is None or (
        value >= Decimal(str(spec.minimum))
        if spec.minimum_inclusive
        else value > Decimal(str(spec.minimum))
    )
    high_ok = spec.maximum is None or (
        value <= Decimal(str(spec.maximum))
        if spec.maximum_inclusive
        else value < Decimal(str(spec.maximum))
    )
    if not (low_ok and high_ok):
        raise ValueError(f"{f'{text} {spec.unit}'.strip()} is out of range ({spec.range_text()})")
    return value


def _segments(text: str) -> list[int]:
    try:
        numbers = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise ValueError("Couinaud segment numbers 1-8 separated by commas, e.g. 5,6") from exc
    if not numbers or any(n < 1 or n > 8 for n in numbers):
        raise ValueError("Couinaud segment numbers 1-8 separated by commas, e.g. 5,6")
    return numbers


def _resections(text: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        name, colon, segments = item.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"{item[:40]!r}: expected NAME:SEGMENTS, e.g. posterior:6,7")
        found[name.strip()] = _segments(segments)
    return found


def _read(spec: PlanField, text: str) -> Any:
    """The value of one non-empty field; ValueError with a message for a person."""
    if len(text) > TEXT_MAX:
        raise ValueError(f"at most {TEXT_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("control characters are not allowed")
    if spec.kind is FieldKind.NUMBER:
        return _number(spec, text)
    if spec.kind is FieldKind.CHOICE:
        if text.lower() not in spec.choices:
            raise ValueError(f"one of {', '.join(spec.choices)}")
        return text.lower()
    if spec.kind is FieldKind.DATETIME:
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError("a date and time, e.g. 2026-03-02T12:00") from exc
    if spec.kind is FieldKind.DATE:
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError("a date, e.g. 2026-01-15") from exc
    return text


def _fraction(percent: Decimal | None) -> float | None:
    """A percentage as an exact fraction (8 % -> 0.08, no binary drift)."""
    return None if percent is None else float(percent / 100)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def plan_inputs(values: Mapping[str, str]) -> tuple[PlannerInputs, PatientInfo]:
    """Read raw planner inputs, field by field, with units and ranges.

    Parameters
    ----------
    values : mapping of str to str
        Field name (:data:`PLAN_FIELDS`) -> text as typed; empty or absent means not given.
        Names outside :data:`PLAN_FIELDS` are ignored (a form's other fields).

    Returns
    -------
    planner : PlannerInputs
        LSF and residual as fractions, times as given (naive or with offset).
    patient : PatientInfo
        Height (m) and weight (kg), where given.

    Raises
    ------
    PlanInputError
        With a message for every field that is wrong (nothing is computed or written).
    """
    errors: dict[str, str] = {}
    got: dict[str, Any] = {}
    for spec in PLAN_FIELDS:
        text = (values.get(spec.name) or "").strip()
        if not text:
            continue
        try:
            got[spec.name] = _read(spec, text)
        except ValueError as exc:
            errors[spec.name] = str(exc)
    territory = got.get("territory")
    segments_text = got.get("territory_segments")
    if territory == "segments" and "territory_segments" not in errors:
        if segments_text is None:
            errors["territory_segments"] = "give the segments of a segmental territory, e.g. 5,6"
        else:
            try:
                territory = str(
                    Territory.parse(
                        "segments:" + ",".join(str(n) for n in _segments(segments_text))
                    )
                )
            except ValueError as exc:
                errors["territory_segments"] = str(exc)
    elif segments_text is not None and territory != "segments":
        errors["territory_segments"] = "segments are given only with territory 'segments'"
    custom: dict[str, list[int]] = {}
    if "custom_resections" in got:
        try:
            custom = _resections(got["custom_resections"])
        except ValueError as exc:
            errors["custom_resections"] = str(exc)
    pretreated = got.get("pretreated")
    if errors:
        raise PlanInputError(errors)
    try:
        planner = PlannerInputs(
            lung_shunt_fraction=_fraction(got.get("lung_shunt_percent")),
            tumour_to_normal_ratio=_float(got.get("tumour_to_normal_ratio")),
            territory=territory,
            microspheres=got.get("microspheres"),
            target_dose_gy=_float(got.get("target_dose_gy")),
            tumour_target_dose_gy=_float(got.get("tumour_dose_gy")),
            normal_liver_dose_limit_gy=_float(got.get("normal_limit_gy")),
            residual_fraction=_fraction(got.get("residual_percent")),
            bilirubin_mg_dl=_float(got.get("bilirubin_mg_dl")),
            prior_lung_dose_gy=_float(got.get("prior_lung_dose_gy")),
            pretreated=None if pretreated is None else pretreated == "yes",
            disease=got.get("disease"),
            calibration_time=got.get("calibration_time"),
            administration_time=got.get("administration_time"),
            liver_condition=got.get("liver_condition"),
            planned_resection=got.get("planned_resection"),
            custom_resections=custom,
            prior_sflr_percent=_float(got.get("prior_sflr_percent")),
            pve_date=got.get("pve_date"),
        )
        patient = PatientInfo(
            height_m=_float(got.get("height_m")), weight_kg=_float(got.get("weight_kg"))
        )
    except ValidationError as exc:
        raise PlanInputError(_model_errors(exc)) from exc
    return planner, patient


def _model_errors(exc: ValidationError) -> dict[str, str]:
    """The model's complaints by form field (a cross-field one under the first time)."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = str(error["loc"][0]) if error.get("loc") else "calibration_time"
        name = _PLANNER_FIELD.get(location, location)
        errors.setdefault(
            name if name in FIELDS_BY_NAME else "calibration_time",
            str(error["msg"]).removeprefix("Value error, "),
        )
    return errors


def given_inputs(planner: PlannerInputs, patient: PatientInfo) -> dict[str, Any]:
    """The inputs given (``None`` left out) as JSON-ready values, for the audit record."""
    return {
        "planner": planner.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
        "patient": patient.model_dump(mode="json", exclude_none=True),
    }
