"""Coded concepts and units used by the DICOM writers.

Standard concepts come from SNOMED CT (``SCT``), DICOM (``DCM``) and UCUM; concepts with no
standard code use the private coding scheme ``99DCMNODE`` documented in
``docs/sr-private-codes.md`` (every code here is listed there, and a unit test keeps the
two in step).
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.sr.coding import Code as PydicomCode

from pipeline.structures import Code

PRIVATE_SCHEME = "99DCMNODE"
"""Coding Scheme Designator of the private scheme ("99" prefix: a local scheme)."""

PRIVATE_SCHEME_NAME = "dicomnode liver analysis concepts"
"""Coding Scheme Name written into the SR's Coding Scheme Identification Sequence."""

DEMO_NOTICE = "Demo model, not for clinical use"
"""Text carried by every output derived from the bundled demo model."""


def coded(code: Code) -> CodedConcept:
    """Convert a catalogue :class:`~pipeline.structures.Code` to a highdicom concept.

    Parameters
    ----------
    code : Code
        Code value, scheme designator and meaning.

    Returns
    -------
    highdicom.sr.CodedConcept
        The same concept for highdicom constructors.
    """
    return CodedConcept(value=code.value, scheme_designator=code.scheme, meaning=code.meaning)


def _private(value: str, meaning: str) -> Code:
    return Code(value, PRIVATE_SCHEME, meaning)


def _ucum(value: str, meaning: str) -> Code:
    return Code(value, "UCUM", meaning)


# Standard concepts (CLINICAL.md section 7).
VOLUME = Code("118565006", "SCT", "Volume")
LONG_AXIS = Code("103339001", "SCT", "Long Axis")
SHORT_AXIS = Code("103340004", "SCT", "Short Axis")
ADMINISTERED_ACTIVITY = Code("113507", "DCM", "Administered activity")
MEAN_ABSORBED_DOSE = Code("128533", "DCM", "Mean absorbed dose")
BODY_WEIGHT = Code("29463-7", "LN", "Body weight")
BODY_HEIGHT = Code("8302-2", "LN", "Body height")
BODY_SURFACE_AREA = Code("8277-6", "LN", "Body surface area")
YES = Code("373066001", "SCT", "Yes")
NO = Code("373067005", "SCT", "No")
LIVER = Code("10200004", "SCT", "Liver")
CT_PROCEDURE = PydicomCode("25045-6", "LN", "CT unspecified body region")
"""Procedure Reported of the measurement report (CID 100)."""

# Private concepts (docs/sr-private-codes.md).
FUTURE_LIVER_REMNANT = _private("FLR", "Future liver remnant volume")
FLR_PERCENT = _private("FLRPCT", "Future liver remnant fraction of total liver")
STANDARDISED_FLR = _private("SFLR", "Standardized future liver remnant")
TOTAL_ESTIMATED_LIVER_VOLUME = _private("TELV", "Total estimated liver volume")
FLR_BODY_WEIGHT_RATIO = _private("FLRBWR", "Future liver remnant to body weight ratio")
FLR_ASSESSMENT = _private("FLRASSESS", "Future liver remnant assessment")
CAUDATE_INCLUDED = _private("CAUDINCL", "Caudate lobe included in remnant")
TUMOUR_BURDEN = _private("TUMBURDEN", "Liver tumor burden")
TOTAL_TUMOUR_VOLUME = _private("TTV", "Total tumor volume")
TUMOUR_FRACTION = _private("TUMFRAC", "Tumor fraction of liver volume")
LUNG_SHUNT_FRACTION = _private("LSF", "Lung shunt fraction")
TUMOUR_TO_NORMAL_RATIO = _private("TNR", "Tumor to normal liver uptake ratio")
GROWTH_RATE = _private("KGR", "Kinetic growth rate of future liver remnant")
DEGREE_OF_HYPERTROPHY = _private("DH", "Degree of hypertrophy")
SIRT_PLAN = _private("SIRTPLAN", "Radioembolization activity plan")
SIRT_CONSTANTS = _private("CONSTANTS", "Calculation constants")
Y90_DOSE_CONSTANT = _private("Y90C", "Y-90 absorbed dose per activity per mass")
LIVER_DENSITY = _private("LIVERDENS", "Liver tissue density")
Y90_HALF_LIFE = _private("Y90HALFLIFE", "Y-90 physical half-life")
VIAL_RESIDUAL_FRACTION = _private("RESIDUAL", "Activity fraction left in vial")
LUNG_MASS = _private("LUNGMASS", "Lung mass")
VIAL_ACTIVITY = _private("VIALACT", "Activity to order in vial")
PRESCRIBED_DOSE = _private("PRESCDOSE", "Prescribed mean absorbed dose")
CONFIDENCE_ASSESSMENT = _private("CONFASSESS", "Segmentation confidence assessment")
CONFIDENCE_SCORE = _private("CONFSCORE", "Segmentation confidence score")
STRUCTURE_CONFIDENCE = _private("STRUCTCONF", "Structure segmentation confidence")
REVIEW_REQUIRED = _private("REVIEW", "Manual review required")
QUALITY_FLAG = _private("QAFLAG", "Quality assurance flag")
QUALITY_ASSESSMENT = _private("QAASSESS", "Quality assurance findings")
INCOMPLETE_COVERAGE = _private("INCOMPLETE", "Incomplete coverage of structure")
STRUCTURE_NOT_FOUND = _private("NOTFOUND", "Structure not found")
ANALYSIS_NOT_PERFORMED = _private("NOTPERFORMED", "Analysis not performed")
REJECTION_REASON = _private("REJECTREASON", "Reason analysis not performed")
COMMENT = Code("121106", "DCM", "Comment")
QUALITATIVE_EVALUATIONS = Code("C0034375", "UMLS", "Qualitative Evaluations")

PRIVATE_CODES: tuple[Code, ...] = tuple(
    c for c in globals().values() if isinstance(c, Code) and c.scheme == PRIVATE_SCHEME
)
"""Every private concept defined here (the documentation test checks each is listed)."""

# UCUM units.
UNITS: dict[str, Code] = {
    "mL": _ucum("mL", "milliliter"),
    "cm3": _ucum("cm3", "cubic centimeter"),
    "mm": _ucum("mm", "millimeter"),
    "%": _ucum("%", "percent"),
    "%/wk": _ucum("%/wk", "percent per week"),
    "GBq": _ucum("GBq", "gigabecquerel"),
    "MBq": _ucum("MBq", "megabecquerel"),
    "Gy": _ucum("Gy", "gray"),
    "kg": _ucum("kg", "kilogram"),
    "g/mL": _ucum("g/mL", "gram per milliliter"),
    "m2": _ucum("m2", "square meter"),
    "m": _ucum("m", "meter"),
    "h": _ucum("h", "hour"),
    "Gy.kg/GBq": _ucum("Gy.kg/GBq", "gray kilogram per gigabecquerel"),
    "1": _ucum("1", "no units"),
    "{ratio}": _ucum("{ratio}", "ratio"),
}
"""UCUM unit codes by their UCUM code value (``mL``: ``codes.UCUM.Milliliter`` does not exist)."""


def unit(ucum: str) -> Code:
    """The UCUM unit code for a UCUM code value.

    Parameters
    ----------
    ucum : str
        UCUM code value, e.g. ``"mL"``, ``"GBq"``, ``"%"``.

    Returns
    -------
    Code
        The unit concept.

    Raises
    ------
    KeyError
        If the unit is not one the writers know (add it to :data:`UNITS`).
    """
    return UNITS[ucum]
