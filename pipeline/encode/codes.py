"""Coded concepts and units used by the DICOM writers.

Standard concepts come from SNOMED CT (``SCT``), DICOM (``DCM``) and UCUM; concepts with no
standard code use the private coding scheme ``99DCMNODE`` documented in
``docs/sr-private-codes.md`` (every code here is listed there, and a unit test keeps the
two in step).
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.sr.coding import Code as PydicomCode

from pipeline.structures import PRIVATE_SCHEME as PRIVATE_SCHEME  # re-exported
from pipeline.structures import Code

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


# Standard concepts (docs/clinical-sources.md §7).
VOLUME = Code("118565006", "SCT", "Volume")
LONG_AXIS = Code("103339001", "SCT", "Long Axis")
SHORT_AXIS = Code("103340004", "SCT", "Short Axis")
MEAN_ABSORBED_DOSE = Code("128533", "DCM", "Mean absorbed dose")
BODY_WEIGHT = Code("29463-7", "LN", "Body weight")
BODY_HEIGHT = Code("8302-2", "LN", "Body height")
BODY_SURFACE_AREA = Code("8277-6", "LN", "Body surface area")
YES = Code("373066001", "SCT", "Yes")
NO = Code("373067005", "SCT", "No")
LIVER = Code("10200004", "SCT", "Liver")
LUNG = Code("39607008", "SCT", "Lung")
NEOPLASM = Code("108369006", "SCT", "Neoplasm")
SERUM_BILIRUBIN = Code("1975-2", "LN", "Bilirubin.total [Mass/volume] in Serum or Plasma")
CT_PROCEDURE = PydicomCode("25045-6", "LN", "CT unspecified body region")
"""Procedure Reported of the measurement report (CID 100)."""

# Private concepts (docs/sr-private-codes.md).
FUTURE_LIVER_REMNANT = _private("FLR", "Future liver remnant volume")
FLR_PERCENT = _private("FLRPCTNTL", "Future liver remnant fraction of non-tumoral liver")
STANDARDISED_FLR = _private("SFLR", "Standardized future liver remnant")
TOTAL_ESTIMATED_LIVER_VOLUME = _private("TELV", "Total estimated liver volume")
FLR_BODY_WEIGHT_RATIO = _private("FLRBWR", "Future liver remnant to body weight ratio")
FLR_ASSESSMENT = _private("FLRASSESS", "Future liver remnant assessment")
CAUDATE_INCLUDED = _private("CAUDINCL", "Caudate lobe included in remnant")
FLR_MODEL_ASSESSMENT = _private("FLRMODEL", "Future liver remnant by learned model")
FLR_REGION_VOLUME = _private("FLRREGIONVOL", "Future liver remnant region volume")
FLR_REGION_TUMOUR = _private("FLRREGIONTUM", "Tumor volume in future liver remnant region")
RESECTED_REGION_VOLUME = _private("RESECTVOL", "Planned resected liver region volume")
SEGMENT_RULE_FLR = _private("FLRSEGRULE", "Future liver remnant by Couinaud segments")
FLR_DIFFERENCE = _private("FLRDIFF", "FLR difference, learned model minus segment rule")
FLR_DIFFERENCE_PERCENT = _private("FLRDIFFPCT",
                                  "FLR difference relative to the segment-rule FLR")
TUMOUR_BURDEN = _private("TUMBURDEN", "Liver tumor burden")
TOTAL_TUMOUR_VOLUME = _private("TTV", "Total tumor volume")
TUMOUR_FRACTION = _private("TUMFRAC", "Tumor fraction of liver volume")
LUNG_SHUNT_FRACTION = _private("LSF", "Lung shunt fraction")
TUMOUR_TO_NORMAL_RATIO = _private("TNR", "Tumor to normal liver uptake ratio")
IMAGE_DOSIMETRY = _private("IMGDOSIMETRY", "Radioembolization dosimetry from SPECT or PET images")
DOSE_D50 = _private("D50GY", "Minimum absorbed dose to the hottest 50 % of the volume")
DOSE_D70 = _private("D70GY", "Minimum absorbed dose to the hottest 70 % of the volume")
DOSE_D90 = _private("D90GY", "Minimum absorbed dose to the hottest 90 % of the volume")
DOSE_D95 = _private("D95GY", "Minimum absorbed dose to the hottest 95 % of the volume")
VOLUME_V70 = _private("V70GY", "Volume percentage receiving at least 70 Gy")
VOLUME_V100 = _private("V100GY", "Volume percentage receiving at least 100 Gy")
VOLUME_V120 = _private("V120GY", "Volume percentage receiving at least 120 Gy")
VOLUME_V205 = _private("V205GY", "Volume percentage receiving at least 205 Gy")
DOSE_SOURCE = _private("DOSESOURCE", "Source of the absorbed dose distribution")
MAA_SPECT_PREDICTION = _private("MAASPECTPRED", "Predicted from Tc-99m MAA SPECT")
Y90_PET_MEASUREMENT = _private("Y90PETMEAS", "Measured on Y-90 PET")
GROWTH_RATE = _private("KGR", "Kinetic growth rate of future liver remnant")
DEGREE_OF_HYPERTROPHY = _private("DH", "Degree of hypertrophy")
SIRT_PLAN = _private("SIRTPLAN", "Radioembolization activity plan")
SIRT_CONSTANTS = _private("CONSTANTS", "Calculation constants")
Y90_DOSE_CONSTANT = _private("Y90C", "Y-90 absorbed dose per activity per mass")
LIVER_DENSITY = _private("LIVERDENS", "Liver tissue density")
Y90_HALF_LIFE = _private("Y90HALFLIFE", "Y-90 physical half-life")
VIAL_RESIDUAL_FRACTION = _private("RESIDUAL", "Activity fraction left in vial")
LUNG_MASS = _private("LUNGMASS", "Lung mass")
PRESCRIBED_DOSE = _private("PRESCDOSE", "Prescribed mean absorbed dose")
# SIRT plans (docs/sr-private-codes.md, "SIRT plan groups").
PLANNED_INJECTED_ACTIVITY = _private("PLANACTINJ", "Planned activity to inject into the patient")
PLANNED_VIAL_ACTIVITY = _private("PLANACTVIAL", "Planned vial activity including residual")
DECAY_FACTOR = _private("DECAYFACTOR", "Y-90 decay factor, calibration to administration")
DECAY_INTERVAL = _private("DECAYHOURS", "Time from calibration to administration")
ACTIVITY_BEFORE_LSF_RULE = _private("ACTBEFORELSF", "Activity before lung shunt reduction")
LSF_REDUCTION = _private("LSFREDUCTION", "Lung shunt activity reduction")
TUMOUR_DOSE_GOAL = _private("TUMDOSEGOAL", "Tumour mean absorbed dose goal")
NORMAL_LIVER_DOSE_CAP = _private("NORMDOSECAP", "Normal liver mean absorbed dose cap")
PRIOR_LUNG_DOSE = _private("PRIORLUNGDOSE", "Lung mean absorbed dose of earlier sessions")
CUMULATIVE_LUNG_DOSE = _private("LUNGCUMDOSE", "Cumulative lung mean absorbed dose")
TREATED_TERRITORY = _private("TREATTERR", "Treated territory")
TERRITORY_NORMAL_LIVER = _private("TERRNORMLIVER", "Non-tumoral liver of the treated territory")
WHOLE_NORMAL_LIVER = _private("WHOLENORMLIVER", "Whole non-tumoral liver")
TUMOUR_IN_TERRITORY = _private("TERRTUMOUR", "Tumour in the treated territory")
SIRT_INPUTS = _private("SIRTINPUTS", "Radioembolization planning inputs")
INPUT_SOURCE = _private("INPUTSOURCE", "Source of the input values")
FROM_PLANNER = _private("PLANNER", "Entered by the planner")
FROM_SITE_DEFAULT = _private("SITEDEFAULT", "Site default value (configuration)")
FROM_HEADER = _private("DICOMHEADER", "DICOM header of the analysed CT")
FROM_CT = _private("CTDERIVED", "Measured on the CT images")
LUNG_MASS_SOURCE = _private("LUNGMASSSRC", "Source of the lung mass")
MICROSPHERES = _private("MICROSPHERES", "Y-90 microsphere type")
RESIN = _private("RESIN", "Y-90 resin microspheres")
GLASS = _private("GLASS", "Y-90 glass microspheres")
TERRITORY_EXTENT = _private("TERREXTENT", "Extent of the treated territory")
WHOLE_LIVER_TERRITORY = _private("WHOLELIVER", "Whole liver (bilobar)")
RIGHT_LOBE = _private("RIGHTLOBE", "Right lobe")
LEFT_LOBE = _private("LEFTLOBE", "Left lobe")
SEGMENTAL = _private("SEGMENTAL", "Selected Couinaud segments")
BILOBAR = _private("BILOBAR", "Territory in both lobes")
SIRT_METHOD = _private("SIRTMETHOD", "Activity planning method")
BSA_METHOD = _private("BSAMETHOD", "Body surface area method (resin)")
MIRD_METHOD = _private("MIRDMETHOD", "Single-compartment MIRD model")
PARTITION_METHOD = _private("PARTITION", "Partition model")
BSA_FORMULA = _private("BSAFORMULA", "Body surface area formula")
TELV_FORMULA = _private("TELVFORMULA", "Total estimated liver volume formula")
DISEASE = _private("DISEASE", "Tumour type selecting dose thresholds")
HCC = _private("HCC", "Hepatocellular carcinoma")
MCRC = _private("MCRC", "Colorectal cancer liver metastases")
PRETREATED = _private("PRETREATED", "Liver pretreated or compromised")
UNKNOWN_INPUT = _private("UNKNOWNINPUT", "Input unknown, threshold depends on it")
RULE_MET = _private("RULEMET", "Guideline threshold met")
RULE_NOT_MET = _private("RULENOTMET", "Guideline threshold not met")
RULE_NOT_EVALUABLE = _private("NOTEVALUABLE", "Not evaluable: figure unknown")
RULE_DEPENDS = _private("DEPENDSUNKNOWN", "Met or not depending on an unknown input")
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

FORMULAS: dict[str, Code] = {
    "dubois": _private("DUBOIS", "DuBois: 0.20247 x H[m]^0.725 x W[kg]^0.425"),
    "mosteller": _private("MOSTELLER", "Mosteller: sqrt(H[cm] x W[kg] / 3600)"),
    "vauthey": _private("VAUTHEY", "Vauthey 2002: -794.41 + 1267.28 x BSA[m2]"),
    "urata": _private("URATA", "Urata 1995: 706.2 x BSA[m2] + 2.4"),
    "heinemann": _private("HEINEMANN", "Heinemann 1999: 1072.8 x BSA[m2] - 345.7"),
}
"""BSA and TELV formulas by their configuration name (values of BSAFORMULA / TELVFORMULA)."""

RULES: dict[str, str] = {
    "EANM2022-RESIN-NL-UNILOBAR": "Resin unilobar: territory normal liver <= 40 Gy",
    "EANM2022-RESIN-NL-BILOBAR": "Resin bilobar, not pretreated: normal liver <= 40 Gy",
    "EANM2022-RESIN-NL-BILOBAR-PRE": "Resin bilobar, pretreated/compromised: normal liver <= 30 Gy",
    "EANM2022-RESIN-TUMOUR-MCRC": "Resin mCRC: tumour > 100 Gy",
    "EANM2022-RESIN-SEGMENTECTOMY": "Resin segmentectomy: perfused territory > 150 Gy",
    "EANM2022-GLASS-WNL": "Glass: whole normal liver <= 75 Gy",
    "EANM2022-GLASS-WNL-BILIRUBIN": "Glass, bilirubin > 1.1 mg/dL: whole normal liver <= 50 Gy",
    "EANM2022-GLASS-TUMOUR-HCC": "Glass HCC: tumour >= 205 Gy",
    "EANM2022-GLASS-TUMOUR-MCRC": "Glass mCRC: tumour >= 189 Gy",
    "EANM2022-GLASS-SEGMENTECTOMY": "Glass segmentectomy: perfused territory > 400 Gy",
    "EANM2022-LUNG-SESSION": "Lungs <= 30 Gy per session",
    "EANM2022-LUNG-CUMULATIVE": "Lungs <= 50 Gy cumulative",
    "CLIN4-SFLR-NORMAL": "sFLR >= 20 % (normal liver)",
    "CLIN4-SFLR-CHEMOTHERAPY": "sFLR >= 30 % (after extensive chemotherapy)",
    "CLIN4-SFLR-CIRRHOSIS": "sFLR >= 40 % (cirrhosis)",
    "TRUANT2007-FLR-BW": "FLR / body weight > 0.5 % (<= 0.5 % at risk)",
    "CLIN4-DH": "Degree of hypertrophy >= 5 percentage points",
    "SHINDOH2013-KGR": "KGR after PVE >= 2 %/week",
}
"""Rule identifiers (``pipeline.quantify.limits`` and ``flr``) -> Code Meaning at the default
thresholds. Each is a code of the private scheme (Long Code Value when over 16 characters);
a check is a qualitative evaluation whose name is the rule and whose value its status."""


def rule_code(rule_id: str) -> Code:
    """The private code of a guideline rule (meaning from :data:`RULES`).

    Raises
    ------
    KeyError
        For a rule that is not documented in :data:`RULES`.
    """
    return _private(rule_id, RULES[rule_id])

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
    "mg/dL": _ucum("mg/dL", "milligram per deciliter"),
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
