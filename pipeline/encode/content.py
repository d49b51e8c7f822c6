"""Plain input types of the DICOM writers.

The quantification stage's JSON (``volumes_ml``, ``lesions``, ``flr``, ``sirt``,
``warnings``, ``constants``) maps onto these: structure volumes and lesions have their own
types because the SR links them to SEG segments; everything else is a
:class:`QuantityGroup` of :class:`NamedQuantity` items, each with its own code and UCUM unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from pipeline.encode import codes
from pipeline.encode.worksheet import SirtWorksheet
from pipeline.segment.confidence import Confidence
from pipeline.structures import Code, Structure


@dataclass(frozen=True)
class AlgorithmInfo:
    """The segmentation algorithm that produced the label map.

    Parameters
    ----------
    name : str
        Model name (SEG AlgorithmName, SR algorithm identification).
    version : str
        Model version.
    is_demo : bool
        True for the bundled demo model: outputs then say "Demo model, not for clinical use".
    weights_sha256 : str
        Hash of the weights file(s), written as an algorithm parameter; empty if unknown.
    """

    name: str
    version: str
    is_demo: bool
    weights_sha256: str = ""


@dataclass(frozen=True)
class SegmentationContent:
    """A label map on the CT volume's grid and what its labels mean.

    Parameters
    ----------
    labelmap : ndarray of uint8, shape (z, y, x)
        Label values in the :class:`~pipeline.volume.CTVolume`'s slice order; 0 is
        background.
    labels : dict[int, Structure]
        Label value -> structure.
    algorithm : AlgorithmInfo
        The model that produced the label map.
    lesion_map : ndarray of int, shape (z, y, x), optional
        Connected-component id of each metastasis voxel (0 elsewhere; non-zero only where
        the label map holds a metastasis label); lesion ``n`` is reported as "Lesion n".
    regions : dict[Structure, ndarray of bool]
        Planning regions of a learned FLR model (:data:`pipeline.structures.
        PLANNING_REGIONS`), masks (z, y, x) that overlap the label map's structures.
    """

    labelmap: NDArray[np.uint8]
    labels: dict[int, Structure]
    algorithm: AlgorithmInfo
    lesion_map: NDArray[np.integer] | None = None
    regions: dict[Structure, NDArray[np.bool_]] = field(default_factory=dict)


@dataclass(frozen=True)
class NamedQuantity:
    """One numeric result with its coded concept and UCUM unit.

    Parameters
    ----------
    concept : Code
        What was measured (standard code, or one of the private scheme).
    value : float
        The value, in ``unit``.
    unit : Code
        UCUM unit (see :func:`pipeline.encode.codes.unit`).
    label : str
        Display name in the PDF; empty uses the concept's meaning.
    """

    concept: Code
    value: float
    unit: Code
    label: str = ""

    @property
    def display_name(self) -> str:
        """Name shown in the PDF tables."""
        return self.label or self.concept.meaning


@dataclass(frozen=True)
class CodedEvaluation:
    """A coded statement (a TID 1501 qualitative evaluation), e.g. microspheres = resin.

    Parameters
    ----------
    name : Code
        What is stated (e.g. :data:`codes.MICROSPHERES`, or a guideline rule's code).
    value : Code
        Its value (e.g. :data:`codes.RESIN`, or :data:`codes.RULE_MET`).
    label : str
        Text shown in the PDF; empty uses ``"name: value"`` meanings.
    """

    name: Code
    value: Code
    label: str = ""

    @property
    def display_text(self) -> str:
        """Text shown in the PDF."""
        return self.label or f"{self.name.meaning}: {self.value.meaning}"


@dataclass(frozen=True)
class QuantityGroup:
    """A titled group of quantities (one TID 1501 measurement group in the SR).

    Parameters
    ----------
    title : str
        Group title, also its SR Tracking Identifier (64 characters at most).
    concept : Code
        Finding type of the group (e.g. :data:`codes.SIRT_PLAN`, or the region a SIRT dose
        belongs to such as :data:`codes.TERRITORY_NORMAL_LIVER`).
    quantities : tuple[NamedQuantity, ...]
        Its results.
    notes : tuple[str, ...]
        Free-text remarks (method, formula, threshold rule cited) shown in the PDF.
    finding_sites : tuple[Code, ...]
        Anatomic sites of the group (e.g. the territory's Couinaud segments).
    segments : tuple[str, ...]
        Tracking IDs of the SEG segments its figures were computed on; each measurement
        references them (those the SEG holds).
    evaluations : tuple[CodedEvaluation, ...]
        Coded statements: inputs (microspheres, territory), their source, method, formula,
        and guideline checks (rule -> met / not met / not evaluable / depends).
    time_point : str
        TID 1502 Time Point of the group (the time its activities refer to, e.g.
        ``"administration 2026-03-05T09:00:00"``); empty for none.
    roi_segment : str
        Tracking ID of the one SEG segment the group measures: the SR writes it as a TID 1411
        volumetric ROI group on that segment (tracking identifier and UID the segment's)
        when the SEG holds it; empty: a TID 1501 group titled ``title``.
    """

    title: str
    concept: Code
    quantities: tuple[NamedQuantity, ...]
    notes: tuple[str, ...] = ()
    finding_sites: tuple[Code, ...] = ()
    segments: tuple[str, ...] = ()
    evaluations: tuple[CodedEvaluation, ...] = ()
    time_point: str = ""
    roi_segment: str = ""


@dataclass(frozen=True)
class StructureMeasurement:
    """Volume of one structure.

    Parameters
    ----------
    structure : Structure
        The structure (its SEG segment is referenced by the SR).
    volume_ml : float
        Volume in mL (voxel count x voxel volume on the native grid).
    incomplete_coverage : bool
        The structure touches the edge of the field of view: the volume is a lower bound.
    """

    structure: Structure
    volume_ml: float
    incomplete_coverage: bool = False


@dataclass(frozen=True)
class LesionMeasurement:
    """Size of one metastasis (a connected component of the lesion map).

    Parameters
    ----------
    lesion_id : int
        Component id in the lesion map (>= 1).
    volume_ml : float
        Lesion volume in mL.
    longest_diameter_mm : float or None
        RECIST 1.1 longest axial diameter in mm.
    short_axis_mm : float or None
        Short axis perpendicular to it, same slice, in mm.
    segment : Structure or None
        Couinaud segment holding most of the lesion.
    """

    lesion_id: int
    volume_ml: float
    longest_diameter_mm: float | None = None
    short_axis_mm: float | None = None
    segment: Structure | None = None

    @property
    def tracking_id(self) -> str:
        """Tracking Identifier shared by its SEG segment and SR group."""
        return lesion_tracking_id(self.lesion_id)


def lesion_tracking_id(lesion_id: int) -> str:
    """Tracking Identifier of lesion ``lesion_id`` ("Lesion 3")."""
    return f"Lesion {lesion_id}"


@dataclass(frozen=True)
class FLRMeasurement:
    """Future liver remnant for one planned resection.

    Parameters
    ----------
    resection : str
        Procedure name, e.g. "Right hepatectomy".
    remnant : tuple[Structure, ...]
        Couinaud segments left in place.
    flr_ml : float
        Remnant volume minus tumour inside it, mL.
    flr_percent : float
        FLR / non-tumoral liver volume (liver - total tumour volume) x 100, %.
    sflr_percent : float or None
        FLR / TELV x 100, %; None where height or weight is missing.
    telv_ml : float or None
        Total estimated liver volume, mL.
    flr_body_weight_percent : float or None
        FLR[mL] / (weight[kg] x 1000) x 100, % (mL taken as g).
    caudate_included : bool
        Whether segment I counts as remnant.
    notes : tuple[str, ...]
        Formulas used (TELV, BSA) and how vessels were treated.
    evaluations : tuple[CodedEvaluation, ...]
        TELV and BSA formulas, and the FLR guideline checks (rule -> status).
    """

    resection: str
    remnant: tuple[Structure, ...]
    flr_ml: float
    flr_percent: float
    sflr_percent: float | None = None
    telv_ml: float | None = None
    flr_body_weight_percent: float | None = None
    caudate_included: bool = True
    notes: tuple[str, ...] = ()
    evaluations: tuple[CodedEvaluation, ...] = ()

    def quantities(self) -> tuple[NamedQuantity, ...]:
        """The results as coded quantities, leaving out those not computed."""
        pct = codes.unit("%")
        items: list[tuple[Code, float | None, Code]] = [
            (codes.FUTURE_LIVER_REMNANT, self.flr_ml, codes.unit("mL")),
            (codes.FLR_PERCENT, self.flr_percent, pct),
            (codes.STANDARDISED_FLR, self.sflr_percent, pct),
            (codes.TOTAL_ESTIMATED_LIVER_VOLUME, self.telv_ml, codes.unit("mL")),
            (codes.FLR_BODY_WEIGHT_RATIO, self.flr_body_weight_percent, pct),
        ]
        return tuple(NamedQuantity(c, float(v), u) for c, v, u in items if v is not None)


class Severity(StrEnum):
    """How much a quality flag matters to the reader."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class QualityFlag:
    """A quality-assurance finding or warning.

    Parameters
    ----------
    code : str
        Stable machine code, e.g. ``"INCOMPLETE_COVERAGE"`` (16 characters at most: it
        becomes a Code Value of the private scheme).
    message : str
        Human-readable explanation (the PDF shows it in full).
    severity : Severity
        Info, warning or error.
    """

    code: str
    message: str
    severity: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        if not 0 < len(self.code) <= 16:
            raise ValueError(f"quality flag code must have 1-16 characters: {self.code!r}")


@dataclass(frozen=True)
class SeriesChoice:
    """The CT series that was analysed and why.

    Parameters
    ----------
    series_instance_uid : str
        Its Series Instance UID.
    description : str
        Its Series Description.
    reasons : tuple[str, ...]
        Why it was chosen over the others (phase, slice thickness, coverage ...).
    """

    series_instance_uid: str
    description: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class DosimetryReport:
    """The PDF's dosimetry page (image-based SIRT dosimetry, :mod:`pipeline.run.dosimetry`).

    Parameters
    ----------
    lines : tuple of str
        Summary lines (LSF, T/N, sources, registration quality, what failed).
    rows : tuple of tuple of str
        Table rows: source, region, volume (mL), mean (Gy), D70 (Gy), V100 (%).
    dvh_png : bytes or None
        Cumulative DVH plot, PNG (None: none, e.g. a re-plan whose folder lost it).
    overlays : tuple of (str, bytes)
        Caption and PNG of each fused dose overlay on the planning CT (none in a re-plan:
        the dose grids are not kept).
    """

    lines: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    dvh_png: bytes | None
    overlays: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class ReportContent:
    """Everything the SR and the PDF report.

    Parameters
    ----------
    series : SeriesChoice
        The analysed series.
    algorithm : AlgorithmInfo
        The segmentation model.
    structures : tuple[StructureMeasurement, ...]
        Volumes per structure (liver, Couinaud segments, vessels, metastases in total).
    lesions : tuple[LesionMeasurement, ...]
        Per-lesion sizes.
    tumour_burden : tuple[NamedQuantity, ...]
        Total tumour volume, tumour fraction and the like.
    flr : tuple[FLRMeasurement, ...]
        One per planned resection.
    flr_model : tuple[QuantityGroup, ...]
        The learned FLR model's FLR, then its difference to each resection's segment-rule
        FLR (empty: no learned FLR model).
    sirt : tuple[QuantityGroup, ...]
        SIRT plans (activities, doses, inputs such as LSF and T/N).
    constants : tuple[NamedQuantity, ...]
        Constants used (energy per GBq, density, half-life ...).
    confidence : Confidence or None
        Segmentation confidence (:mod:`pipeline.segment.confidence`).
    flags : tuple[QualityFlag, ...]
        Quality findings and warnings.
    worksheet : SirtWorksheet or None
        The SIRT plan as the PDF's first page shows it for signing (None: no page).
    dosimetry : tuple[QuantityGroup, ...]
        Image-based dose figures (MAA prediction, Y-90 PET measurement) for the SR.
    dosimetry_report : DosimetryReport or None
        The PDF's dosimetry page (None: no page).
    """

    series: SeriesChoice
    algorithm: AlgorithmInfo
    structures: tuple[StructureMeasurement, ...] = ()
    lesions: tuple[LesionMeasurement, ...] = ()
    tumour_burden: tuple[NamedQuantity, ...] = ()
    flr: tuple[FLRMeasurement, ...] = ()
    flr_model: tuple[QuantityGroup, ...] = ()
    sirt: tuple[QuantityGroup, ...] = ()
    constants: tuple[NamedQuantity, ...] = ()
    confidence: Confidence | None = None
    flags: tuple[QualityFlag, ...] = ()
    worksheet: SirtWorksheet | None = None
    dosimetry: tuple[QuantityGroup, ...] = ()
    dosimetry_report: DosimetryReport | None = None


@dataclass(frozen=True)
class RejectionContent:
    """Why a study was not measured.

    Parameters
    ----------
    reasons : tuple[QualityFlag, ...]
        The named rejection reasons (at least one).
    series_considered : tuple[SeriesChoice, ...]
        The series looked at, each with why it was not usable.
    """

    reasons: tuple[QualityFlag, ...]
    series_considered: tuple[SeriesChoice, ...] = ()

    def __post_init__(self) -> None:
        if not self.reasons:
            raise ValueError("a rejection needs at least one reason")
