"""Inputs of the quantification that do not come from the label map.

CT provides volumes; everything else (body size, lung shunt fraction, T/N, planned territory,
microsphere type, target doses, laboratory values) comes from the DICOM header, the site
configuration or the planner. A value left ``None`` is unknown, and every result that needs it
says so instead of assuming a value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Microspheres(StrEnum):
    """Y-90 microsphere device type."""

    RESIN = "resin"
    GLASS = "glass"


class Disease(StrEnum):
    """Tumour type that selects the glass tumour-dose threshold (EANM 2022)."""

    HCC = "hcc"
    MCRC = "mcrc"


class LiverCondition(StrEnum):
    """Background liver state that selects the advisory sFLR threshold."""

    NORMAL = "normal"
    CHEMOTHERAPY = "chemotherapy"
    CIRRHOSIS = "cirrhosis"


class PatientInfo(BaseModel):
    """Body size of the patient (PatientSize and PatientWeight, or from the planner).

    Missing values mean "not computable", never a default person.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    height_m: float | None = Field(default=None, description="Body height, m (PatientSize).")
    weight_kg: float | None = Field(default=None, description="Body weight, kg (PatientWeight).")


@dataclass(frozen=True)
class Territory:
    """A planned SIRT territory: the whole liver, a lobe, or a set of Couinaud segments.

    Parameters
    ----------
    kind : str
        ``whole``, ``right``, ``left`` or ``segments``.
    segments : tuple[int, ...]
        Couinaud segment numbers (1-8) of a ``segments`` territory, sorted; empty otherwise.
    """

    kind: str
    segments: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Territory:
        """Parse ``whole``, ``right``, ``left`` or ``segments:2,3``.

        Raises
        ------
        ValueError
            For any other text or a segment number outside 1-8.
        """
        value = text.strip().lower()
        if value in ("whole", "right", "left"):
            return cls(value)
        if value.startswith("segments:"):
            parts = [p for p in value.split(":", 1)[1].split(",") if p.strip()]
            try:
                segs = tuple(sorted({int(p) for p in parts}))
            except ValueError as exc:
                raise ValueError(f"territory {text!r}: segment numbers must be integers") from exc
            if not segs or any(s < 1 or s > 8 for s in segs):
                raise ValueError(f"territory {text!r}: segments must be Couinaud numbers 1-8")
            return cls("segments", segs)
        raise ValueError(f"territory {text!r}: expected whole, right, left or segments:N,M")

    def __str__(self) -> str:
        if self.kind == "segments":
            return "segments:" + ",".join(str(s) for s in self.segments)
        return self.kind


class PlannerInputs(BaseModel):
    """What the treating team decides or measures outside the CT; every field optional.

    Values left ``None`` fall back to the configuration's planner defaults; still ``None``
    afterwards, they are reported as missing by every result that needs them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lung_shunt_fraction: float | None = Field(
        default=None, ge=0.0, lt=1.0,
        description="Lung shunt fraction from the MAA scan, as a fraction 0-1 (0.08 = 8 %).")
    tumour_to_normal_ratio: float | None = Field(
        default=None, gt=0.0,
        description="T/N: ratio of activity concentrations (per mass) tumour / normal liver.")
    territory: str | None = Field(
        default=None,
        description="Planned treatment territory: whole, right, left or segments:N,M,...")
    microspheres: Microspheres | None = Field(
        default=None, description="Microsphere type: resin or glass.")
    bilirubin_mg_dl: float | None = Field(
        default=None, ge=0.0, description="Serum total bilirubin, mg/dL.")
    target_dose_gy: float | None = Field(
        default=None, gt=0.0,
        description="Single-compartment (MIRD) target mean absorbed dose to the territory, Gy.")
    tumour_target_dose_gy: float | None = Field(
        default=None, gt=0.0, description="Partition model: tumour mean absorbed dose goal, Gy.")
    normal_liver_dose_limit_gy: float | None = Field(
        default=None, gt=0.0,
        description="Partition model: normal-liver mean absorbed dose cap, Gy "
                    "(None: the applicable EANM 2022 limit).")
    residual_fraction: float | None = Field(
        default=None, ge=0.0, lt=1.0,
        description="Fraction of the vial activity expected to stay in vial and lines, 0-1.")
    prior_lung_dose_gy: float | None = Field(
        default=None, ge=0.0, description="Lung absorbed dose of earlier SIRT sessions, Gy.")
    pretreated: bool | None = Field(
        default=None,
        description="Liver pretreated (e.g. extensive chemotherapy) or compromised: selects "
                    "the 30 Gy EANM resin normal-liver limit of a bilobar plan (unilobar: "
                    "40 Gy either way).")
    disease: Disease | None = Field(
        default=None,
        description="Tumour type, hcc or mcrc: selects the glass tumour-dose threshold "
                    "(HCC >= 205 Gy, mCRC >= 189 Gy) and the resin one (mCRC > 100 Gy).")
    calibration_time: dt.datetime | None = Field(
        default=None,
        description="Date and time the vial's stated activity refers to (its calibration).")
    administration_time: dt.datetime | None = Field(
        default=None,
        description="Planned date and time of administration (needed with calibration_time "
                    "for the decay between them).")
    liver_condition: LiverCondition | None = Field(
        default=None, description="Background liver: normal, chemotherapy or cirrhosis.")
    planned_resection: str | None = Field(
        default=None, description="Name of the resection the hypertrophy figures refer to.")
    custom_resections: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Extra resections: name -> resected Couinaud segments (1-8).")
    prior_sflr_percent: float | None = Field(
        default=None, ge=0.0,
        description="sFLR of the planned resection on the prior study of the same patient, %.")
    pve_date: dt.date | None = Field(
        default=None,
        description="Date of the portal-vein embolisation the hypertrophy follows (KGR = DH / "
                    "weeks from this date to the current study).")

    @field_validator("territory")
    @classmethod
    def _territory_parses(cls, value: str | None) -> str | None:
        return None if value is None else str(Territory.parse(value))

    @field_validator("custom_resections")
    @classmethod
    def _segments_valid(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        for name, segs in value.items():
            if not segs or any(s < 1 or s > 8 for s in segs):
                raise ValueError(f"resection {name!r}: segments must be Couinaud numbers 1-8")
        return value

    @model_validator(mode="after")
    def _times_comparable(self) -> PlannerInputs:
        times = [t for t in (self.calibration_time, self.administration_time) if t is not None]
        if len({t.tzinfo is None for t in times}) > 1:
            raise ValueError("calibration_time and administration_time: give both with a "
                             "time-zone offset or both without")
        return self

    def merged_with(self, defaults: PlannerInputs) -> PlannerInputs:
        """These inputs with every ``None`` (and an empty custom set) taken from ``defaults``."""
        data = self.model_dump()
        for key, value in defaults.model_dump().items():
            if key == "custom_resections":
                data[key] = {**value, **data[key]}
            elif data[key] is None:
                data[key] = value
        return PlannerInputs(**data)


class QualityContext(BaseModel):
    """What earlier stages found about the image and the segmentation.

    ``incomplete_coverage`` names structures (``Structure`` values, or ``liver``) that touch
    the edge of the field of view; their volumes are lower bounds only.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    incomplete_coverage: list[str] = Field(
        default_factory=list,
        description="Structures touching the field of view (Structure values or 'liver').")
    slice_thickness_mm: float | None = Field(
        default=None, gt=0.0, description="SliceThickness of the CT series, mm.")
    review_recommended: bool = Field(
        default=False, description="True when the segmentation confidence is low.")
    review_reasons: list[str] = Field(
        default_factory=list, description="Why review is recommended (free text).")
