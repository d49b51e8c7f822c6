"""Clinical structures the pipeline segments, measures and encodes.

One catalogue shared by every stage: the synthetic generator labels its ground truth with
these label values, segmentation models map their own labels onto these structures, the
quantification reads masks by structure, and the DICOM writers take codes and colours from
here. SNOMED CT codes are those of ``docs/clinical-sources.md`` §7.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Structure(StrEnum):
    """A clinical structure; the value is its stable machine name (used in JSON and config)."""

    LIVER = "liver"
    COUINAUD_1 = "couinaud_1"
    COUINAUD_2 = "couinaud_2"
    COUINAUD_3 = "couinaud_3"
    COUINAUD_4 = "couinaud_4"
    COUINAUD_5 = "couinaud_5"
    COUINAUD_6 = "couinaud_6"
    COUINAUD_7 = "couinaud_7"
    COUINAUD_8 = "couinaud_8"
    METASTASIS = "metastasis"
    PORTAL_VEIN = "portal_vein"
    HEPATIC_VEIN = "hepatic_vein"
    IVC = "ivc"
    LUNG = "lung"
    FUTURE_LIVER_REMNANT = "future_liver_remnant"
    RESECTED_LIVER = "resected_liver"


COUINAUD_SEGMENTS: tuple[Structure, ...] = tuple(Structure(f"couinaud_{i}") for i in range(1, 9))
"""Couinaud segments I..VIII in order."""

PLANNING_REGIONS: tuple[Structure, ...] = (Structure.FUTURE_LIVER_REMNANT,
                                           Structure.RESECTED_LIVER)
"""Regions of a resection plan segmented by a learned FLR model. They overlap the liver's
parts (a remnant holds segments, tumour and vessels), so they are never values of the
exclusive label map: the engine keeps them as masks of their own, they count in no liver,
segment or tumour volume, and only a BINARY SEG holds them (segments may overlap there)."""

PRIVATE_SCHEME = "99DCMNODE"
"""Coding Scheme Designator of dicomnode's private concepts (``docs/sr-private-codes.md``)."""


@dataclass(frozen=True)
class Code:
    """A coded concept (DICOM Code Sequence item).

    Parameters
    ----------
    value : str
        Code Value.
    scheme : str
        Coding Scheme Designator (``SCT``, ``DCM``, ``UCUM`` or a private scheme).
    meaning : str
        Code Meaning.
    """

    value: str
    scheme: str
    meaning: str


ANATOMICAL_STRUCTURE = Code("91723000", "SCT", "Anatomical Structure")
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = Code("49755003", "SCT", "Morphologically Abnormal Structure")


@dataclass(frozen=True)
class StructureInfo:
    """What the DICOM writers and reports need to know about a structure.

    Parameters
    ----------
    structure : Structure
        The structure.
    label : str
        Human-readable name (used as SEG Segment Label and in reports).
    category : Code
        SEG Segmented Property Category.
    type : Code
        SEG Segmented Property Type (SNOMED CT).
    rgb : tuple[int, int, int]
        Recommended display colour, 0-255 per channel.
    """

    structure: Structure
    label: str
    category: Code
    type: Code
    rgb: tuple[int, int, int]


_SEGMENT_CODES = ("71133005", "277956007", "277957003", "277958008",
                  "277959000", "277960005", "277961009", "277962002")
_SEGMENT_COLOURS = ((255, 224, 130), (255, 160, 122), (240, 128, 128), (219, 112, 147),
                    (186, 85, 211), (123, 104, 238), (100, 149, 237), (72, 209, 204))
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")


def _catalogue() -> dict[Structure, StructureInfo]:
    anat = ANATOMICAL_STRUCTURE
    info = {
        Structure.LIVER: StructureInfo(Structure.LIVER, "Liver", anat,
                                       Code("10200004", "SCT", "Liver"), (221, 130, 101)),
        Structure.METASTASIS: StructureInfo(
            Structure.METASTASIS, "Liver metastasis", MORPHOLOGICALLY_ABNORMAL_STRUCTURE,
            Code("14799000", "SCT", "Neoplasm, secondary"), (255, 255, 0)),
        Structure.PORTAL_VEIN: StructureInfo(Structure.PORTAL_VEIN, "Portal vein", anat,
                                             Code("32764006", "SCT", "Portal vein"),
                                             (0, 151, 206)),
        Structure.HEPATIC_VEIN: StructureInfo(Structure.HEPATIC_VEIN, "Hepatic vein", anat,
                                              Code("8993003", "SCT", "Hepatic vein"),
                                              (0, 80, 180)),
        Structure.IVC: StructureInfo(Structure.IVC, "Inferior vena cava", anat,
                                     Code("64131007", "SCT", "Inferior vena cava"),
                                     (0, 0, 139)),
        Structure.LUNG: StructureInfo(Structure.LUNG, "Lung", anat,
                                      Code("39607008", "SCT", "Lung"), (197, 165, 145)),
        # No SNOMED CT concept names a planned remnant or resected part of the liver
        # (docs/sr-private-codes.md): private types; the SEG adds anatomic region SCT Liver.
        Structure.FUTURE_LIVER_REMNANT: StructureInfo(
            Structure.FUTURE_LIVER_REMNANT, "Future liver remnant", anat,
            Code("FLRREGION", PRIVATE_SCHEME, "Future liver remnant region"), (46, 139, 87)),
        Structure.RESECTED_LIVER: StructureInfo(
            Structure.RESECTED_LIVER, "Resected liver", anat,
            Code("RESECTREGION", PRIVATE_SCHEME, "Planned resected liver region"),
            (178, 34, 34)),
    }
    rows = zip(COUINAUD_SEGMENTS, _SEGMENT_CODES, _SEGMENT_COLOURS, _ROMAN, strict=True)
    for i, (s, code, rgb, roman) in enumerate(rows):
        meaning = "Caudate lobe" if i == 0 else f"Hepatic segment {roman}"
        info[s] = StructureInfo(s, f"Couinaud segment {roman}", anat,
                                Code(code, "SCT", meaning), rgb)
    return info


CATALOGUE: dict[Structure, StructureInfo] = _catalogue()
"""Every structure's codes and colour."""

DEMO_LABELS: dict[int, Structure] = {
    **{i: COUINAUD_SEGMENTS[i - 1] for i in range(1, 9)},
    9: Structure.METASTASIS,
    10: Structure.PORTAL_VEIN,
    11: Structure.HEPATIC_VEIN,
    12: Structure.IVC,
}
"""Label values of the synthetic ground truth and of the bundled demo model.

0 is background. The liver is not a label of its own: it is the union of the eight
segments and the metastases inside them (see :func:`liver_labels`). Voxels labelled as a
vessel are not liver parenchyma, whether inside the liver or not.
"""


def liver_labels(labels: dict[int, Structure]) -> list[int]:
    """Label values whose union is the liver (segments and metastases, or an explicit liver).

    Parameters
    ----------
    labels : dict[int, Structure]
        A label map's value -> structure mapping.

    Returns
    -------
    list[int]
        The label values that make up the liver, sorted.
    """
    parts = {*COUINAUD_SEGMENTS, Structure.METASTASIS, Structure.LIVER}
    return sorted(v for v, s in labels.items() if s in parts)
