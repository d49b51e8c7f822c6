"""Reading DICOM headers and deciding which images may become a volume.

Headers are read with ``stop_before_pixels``; pixel data is read later, only for the slices
that need it (:mod:`pipeline.select.volume`).
"""

from __future__ import annotations

import mmap
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
from numpy.typing import NDArray
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID

from pipeline.dicomio import Part10Error, PixelDataError, StructureError, check_part10
from pipeline.select.assumptions import Assumption, complete_from_file_meta
from pipeline.select.config import CandidateConfig
from pipeline.select.frames import FrameHeader, frame_headers, is_multiframe_ct, number_of_frames
from pipeline.select.native import native_pixels
from pipeline.select.reasons import CandidateReason

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

_WORD = re.compile(r"[^\w]+|_", re.UNICODE)


@dataclass(frozen=True)
class Unreadable:
    """A file that could not be read as DICOM.

    Parameters
    ----------
    path : str
        The file.
    error : str
        Why it could not be read.
    """

    path: str
    error: str


def read_headers(
    paths: Iterable[Path | str],
) -> tuple[list[Dataset], list[Unreadable], list[Assumption]]:
    """Read the header of every file, without pixel data, after the same strict check of the
    whole file as the node's at receive (:func:`pipeline.dicomio.check_part10`).

    An empty or missing SOP Class / Instance UID is taken from the file meta
    (:func:`pipeline.select.assumptions.complete_from_file_meta`) and recorded. A multi-frame
    CT image becomes one header per frame (:func:`pipeline.select.frames.frame_headers`).

    Parameters
    ----------
    paths : iterable of path
        Files; folders are searched recursively.

    Returns
    -------
    datasets : list of Dataset
        Headers (``filename`` set to the file path), in path order, frames in frame order.
    unreadable : list of Unreadable
        Files that are not DICOM, not readable or fail the strict check, with the reason.
    assumptions : list of Assumption
        What was taken from elsewhere, one entry per attribute and file.
    """
    datasets: list[Dataset] = []
    unreadable: list[Unreadable] = []
    assumptions: list[Assumption] = []
    for path in _expand(paths):
        try:
            ds = _read_checked(path)
        except (Part10Error, StructureError, PixelDataError) as exc:
            unreadable.append(Unreadable(str(path), str(exc)))
            continue
        except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
            unreadable.append(Unreadable(str(path), f"{type(exc).__name__}: {exc}"))
            continue
        assumed = complete_from_file_meta(ds)
        if not str(ds.get("SOPClassUID") or "").strip():
            unreadable.append(Unreadable(str(path), "no SOPClassUID (not a composite image)"))
            continue
        assumptions.extend(assumed)
        datasets.extend(frame_headers(ds))
    return datasets, unreadable, assumptions


def _read_checked(path: Path) -> Dataset:
    """Check the whole file (:func:`pipeline.dicomio.check_part10`), then read its header.

    Both read a read-only memory map of the file: the check walks every element but skips
    over the Pixel Data's value, so the pixels are neither copied nor read from the disk.
    A file must not be cut short while it is read (the node's spool files never change once
    written). Where the walk found native little-endian Pixel Data, the header keeps where
    its value lies as ``native_pixels`` (:func:`pipeline.select.native.native_pixels`), so
    that its pixels can be read without parsing the file again.
    """
    with path.open("rb") as file:
        if os.fstat(file.fileno()).st_size == 0:  # an empty file cannot be mapped
            check_part10(b"")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            layout = check_part10(mapped)
            mapped.seek(0)
            ds = dcmread(cast(BinaryIO, mapped), stop_before_pixels=True)  # reads like a file
    ds.buffer = None  # the map is closed: the header is read from the file, as by path
    ds.fileobj_type = open
    ds.filename = str(path)
    ds.native_pixels = native_pixels(layout)
    return ds


def _expand(paths: Iterable[Path | str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        else:
            files.append(p)
    return files


def group_by_series(datasets: Iterable[Dataset]) -> dict[str, list[Dataset]]:
    """Group datasets by SeriesInstanceUID, keeping input order within a series."""
    series: dict[str, list[Dataset]] = defaultdict(list)
    for ds in datasets:
        series[str(ds.get("SeriesInstanceUID", ""))].append(ds)
    return dict(series)


def attribute_text(ds: Dataset, keyword: str) -> str:
    """Text of an attribute; values of a multi-valued attribute joined by a backslash."""
    value = ds.get(keyword, "")
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value or "")


def fold(text: str) -> str:
    """Case-folded text without accents (``"Spät"`` -> ``"spat"``, ``"é"`` -> ``"e"``), so
    that descriptions written with or without diacritics match the same keywords."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Folded (:func:`fold`) whole words of a text (letters and digits, any language)."""
    return [w for w in _WORD.split(fold(text)) if w]


def description_words(ds: Dataset) -> list[str]:
    """Words of SeriesDescription and ProtocolName."""
    return words(f"{ds.get('SeriesDescription', '')} {ds.get('ProtocolName', '')}")


def slice_normal(orientation: Iterable[float]) -> NDArray[np.float64]:
    """Unit slice normal (row cosine x column cosine) of an ImageOrientationPatient."""
    iop = np.asarray([float(v) for v in orientation], dtype=np.float64)
    n = np.cross(iop[:3], iop[3:])
    return np.asarray(n / np.linalg.norm(n), dtype=np.float64)


def axial_angle_deg(orientation: Iterable[float]) -> float:
    """Angle (degrees, 0-90) between the slice normal and the patient's head-foot axis."""
    cos = abs(float(slice_normal(orientation)[2]))
    return float(np.degrees(np.arccos(min(1.0, cos))))


def instance_exclusion(ds: Dataset, config: CandidateConfig) -> tuple[CandidateReason, str] | None:
    """Why an image cannot be part of a candidate volume, or None when it can.

    Parameters
    ----------
    ds : Dataset
        Header of one image.
    config : CandidateConfig
        Candidate rules.

    Returns
    -------
    (CandidateReason, str) or None
        The reason and a human-readable detail.
    """
    sop_class = str(ds.get("SOPClassUID", ""))
    if is_multiframe_ct(ds) and not isinstance(ds, FrameHeader):
        return CandidateReason.ENHANCED_CT_NO_FRAME_POSITIONS, (
            f"{UID(sop_class).name} with {number_of_frames(ds)} frame(s) and no Plane Position "
            "Sequence per frame: the frames' positions and order are unknown")
    if sop_class != CT_IMAGE_STORAGE and not is_multiframe_ct(ds):
        return CandidateReason.NOT_CT_IMAGE_STORAGE, f"SOPClassUID {sop_class}"
    image_type = [str(v).upper() for v in ds.get("ImageType", [])]
    image_type_text = "ImageType " + "\\".join(image_type)
    desc = set(description_words(ds))
    localizer_words = {fold(w) for w in config.localizer_keywords}
    if "LOCALIZER" in image_type or desc & localizer_words:
        return CandidateReason.LOCALIZER, image_type_text
    if desc & {fold(w) for w in config.dose_screen_keywords}:
        return CandidateReason.DOSE_SCREEN, f"SeriesDescription {ds.get('SeriesDescription', '')!r}"
    if image_type[:1] == ["DERIVED"] and not config.allow_derived:
        return CandidateReason.DERIVED, image_type_text
    if image_type[1:2] == ["SECONDARY"] and not config.allow_secondary:
        return CandidateReason.SECONDARY, image_type_text
    iop = ds.get("ImageOrientationPatient")
    if iop is not None and len(iop) == 6 and not config.allow_non_axial:
        angle = axial_angle_deg(iop)
        if angle > config.max_axial_angle_deg:
            return CandidateReason.NON_AXIAL, f"slice normal {angle:.1f} deg from head-foot axis"
    return None


def number(ds: Dataset, keyword: str) -> float | None:
    """Numeric value of a DS/IS attribute; None when absent, empty or not a number.

    Parameters
    ----------
    ds : Dataset
        A header.
    keyword : str
        The attribute (e.g. ``SliceThickness`` in mm, ``SeriesNumber``).

    Returns
    -------
    float or None
        The value (the first one of a multi-valued attribute).
    """
    value = ds.get(keyword)
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        result = float(str(value)) if value not in (None, "") else None
    except ValueError:
        return None
    return result if result is not None and np.isfinite(result) else None


def tm_seconds(value: object) -> float | None:
    """Seconds since midnight of a DICOM TM value (``HHMMSS.FFFFFF``), None when absent."""
    text = str(value or "").strip().replace(":", "")
    if len(text) < 2 or not text[:2].isdigit():
        return None
    try:
        hours = int(text[0:2])
        minutes = int(text[2:4]) if len(text) >= 4 else 0
        seconds = float(text[4:]) if len(text) > 4 else 0.0
    except ValueError:
        return None
    return hours * 3600.0 + minutes * 60.0 + seconds
