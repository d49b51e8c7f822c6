"""A sanitised copy of a source image header, for the writers (strict writing).

Real scanners' and anonymised data sets lack Type 2 attributes (Patient's Birth Date,
Referring Physician's Name, Accession Number...), carry an empty SOP Class UID (the file
meta has it) or values that are not valid for their VR (a Patient's Sex of ``"MALE"``). The
writers, highdicom's constructors among them, read those attributes from the source header.
They are given a copy in which:

- SOP Class UID and SOP Instance UID, when empty or missing, come from the file meta
  (:func:`pipeline.select.assumptions.complete_from_file_meta`);
- every patient and study attribute the outputs copy is present: Type 2 attributes that are
  absent or whose value is not valid for their VR (or, for Patient's Sex, not M, F or O) are
  empty; invalid patient attributes of Type 3 (group 0010) are left out;
- a header that lacks a Type 1 identifier (SOP Class, SOP Instance, Study Instance or Series
  Instance UID) cannot be the source of an output: :class:`SourceHeaderError`.

The source header itself is never changed; elements are shared with it, not copied. The
copy is a :class:`SanitisedHeader`; sanitising it again returns it as it is (the writers
each sanitise what they are given, and are often given the same copies).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom import config
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.valuerep import PersonName, validate_value

from pipeline.errors import InputDataError
from pipeline.select.assumptions import complete_from_file_meta

TYPE2_PATIENT_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)
"""Type 2 attributes of the Patient and General Study modules that the outputs copy."""

TYPE1_IDENTIFIERS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
"""Identifiers without which a header cannot be the source of an output."""

PATIENT_SEX_VALUES = frozenset({"M", "F", "O"})
"""Enumerated values of Patient's Sex (0010,0040)."""

_PATIENT_GROUP = 0x0010


class SourceHeaderError(InputDataError):
    """A source header lacks a Type 1 identifier that no other source provides."""


class SanitisedHeader(Dataset):
    """A header made by :func:`sanitised` (sanitising it again gives it back unchanged)."""


def _valid(element: DataElement) -> bool:
    if element.VR in ("SQ", "UN") or element.value is None:
        return True
    values = element.value if element.VM > 1 else [element.value]
    try:
        for value in values:
            text = value if isinstance(value, str | bytes | PersonName) else str(value)
            validate_value(element.VR, text, config.RAISE)
    except (ValueError, TypeError):
        return False
    return not (element.keyword == "PatientSex" and str(element.value) not in PATIENT_SEX_VALUES)


def _empty(keyword: str) -> DataElement:
    return DataElement(keyword, dictionary_VR(keyword), None)


def sanitised(header: Dataset) -> SanitisedHeader:
    """A copy of one source header that the writers may rely on (see the module docstring).

    Parameters
    ----------
    header : pydicom.Dataset
        A source image header as read (pixel data not needed); not modified.

    Returns
    -------
    SanitisedHeader
        The copy, with ``file_meta`` and ``filename`` of the source where it had them;
        ``header`` itself where it is already such a copy.

    Raises
    ------
    SourceHeaderError
        If SOP Class, SOP Instance, Study Instance or Series Instance UID is absent and the
        file meta does not provide it.
    """
    if isinstance(header, SanitisedHeader):
        return header
    kept = {}
    for element in header.elements():  # as read: only the patient group is converted here
        if element.tag.group == _PATIENT_GROUP:
            element = header[element.tag]
            if element.keyword not in TYPE2_PATIENT_STUDY and not _valid(element):
                continue
        kept[element.tag] = element
    out = SanitisedHeader(kept)
    meta = getattr(header, "file_meta", None)
    if meta is not None:
        out.file_meta = meta
        complete_from_file_meta(out)
    filename = getattr(header, "filename", None)
    if filename is not None:
        out.filename = filename
    missing = [k for k in TYPE1_IDENTIFIERS if not str(out.get(k) or "").strip()]
    if missing:
        raise SourceHeaderError(
            f"source image {header.get('SOPInstanceUID', '?')} has no {', '.join(missing)}"
        )
    for keyword in TYPE2_PATIENT_STUDY:
        if keyword not in out or not _valid(out[keyword]):
            out.add(_empty(keyword))
    return out


def sanitised_all(headers: Sequence[Dataset]) -> list[Dataset]:
    """:func:`sanitised` of each header, in the same order; one copy per header object (the
    frames of a multi-frame image, given as the same header, share theirs)."""
    copies: dict[int, Dataset] = {}
    for header in headers:
        if id(header) not in copies:
            copies[id(header)] = sanitised(header)
    return [copies[id(h)] for h in headers]
