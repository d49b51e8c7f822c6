"""Multi-frame CT made from a single-frame CT series, for the tests of multi-frame reading.

:func:`legacy_converted` is highdicom's Legacy Converted Enhanced CT of the series.
:func:`enhanced` is an Enhanced CT as a scanner writes one: geometry, pixel measures and
rescale in the shared or the per-frame functional groups, the kernel in the CT
Reconstruction macro, no unassigned converted attributes, frames in any order, with or
without per-frame positions. Both keep the series' Series and Study Instance UIDs, so the
ground truth of a synthetic study names them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from highdicom.legacy import LegacyConvertedEnhancedCTImage
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
GEOMETRY_MACROS = (
    "PlaneOrientationSequence",
    "PixelMeasuresSequence",
    "PixelValueTransformationSequence",
)
"""Functional group macros :func:`enhanced` can move from the shared to the per-frame groups."""


def legacy_converted(folder: Path) -> Dataset:
    """highdicom's Legacy Converted Enhanced CT of the single-frame CT files of a folder."""
    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    first = datasets[0]
    return LegacyConvertedEnhancedCTImage(
        datasets, series_instance_uid=first.SeriesInstanceUID,
        series_number=first.get("SeriesNumber") or 1, sop_instance_uid=generate_uid(),
        instance_number=1)


def enhanced(folder: Path, *, per_frame: Sequence[str] = (), order: Sequence[int] | None = None,
             positions: bool = True) -> Dataset:
    """An Enhanced CT Image Storage instance of the single-frame CT files of a folder.

    Parameters
    ----------
    folder : Path
        One single-frame CT series.
    per_frame : sequence of str
        Macros of :data:`GEOMETRY_MACROS` written per frame instead of shared.
    order : sequence of int, optional
        Frame order, as indices of the legacy converter's frames (default: its order).
    positions : bool
        Whether each frame keeps its Plane Position Sequence.
    """
    ds = legacy_converted(folder)
    description = pydicom.dcmread(next(folder.iterdir()), stop_before_pixels=True).get(
        "SeriesDescription")
    ds.SeriesDescription = description or ""  # highdicom appends " (enhanced conversion)"
    ds.SOPClassUID = ENHANCED_CT
    ds.file_meta.MediaStorageSOPClassUID = ENHANCED_CT
    shared = ds.SharedFunctionalGroupsSequence[0]
    unassigned = shared.pop("UnassignedSharedConvertedAttributesSequence").value[0]
    reconstruction = Dataset()
    for keyword in ("ConvolutionKernel", "ReconstructionDiameter"):
        if keyword in unassigned:
            reconstruction[keyword] = unassigned[keyword]
    shared.CTReconstructionSequence = DicomSequence([reconstruction])
    frames = list(ds.PerFrameFunctionalGroupsSequence)
    for item in frames:
        item.pop("UnassignedPerFrameConvertedAttributesSequence", None)
        if not positions:
            del item.PlanePositionSequence
        for keyword in per_frame:
            item[keyword] = shared[keyword]
    for keyword in per_frame:
        del shared[keyword]
    pixels = ds.pixel_array
    order = list(range(len(frames))) if order is None else list(order)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence([frames[k] for k in order])
    ds.PixelData = np.ascontiguousarray(pixels[order]).tobytes()
    return ds


def write(ds: Dataset, folder: Path) -> Path:
    """Write one multi-frame instance as ``folder/multiframe.dcm``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "multiframe.dcm", enforce_file_format=True)
    return folder
