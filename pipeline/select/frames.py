"""Multi-frame CT images read as slices: Enhanced CT and Legacy Converted Enhanced CT.

A multi-frame CT image keeps what a single-frame slice holds at the top level in functional
groups: the Shared Functional Groups Sequence for what every frame shares, the Per-Frame
Functional Groups Sequence for the rest. Each frame becomes a :class:`FrameHeader`: the
image's top-level attributes (without pixel data, frame count and functional groups) with
the item of every functional group macro of that frame flattened into it, shared first, then
per frame. So ImagePositionPatient comes from PlanePositionSequence, ImageOrientationPatient
from PlaneOrientationSequence, PixelSpacing and SliceThickness from PixelMeasuresSequence,
RescaleSlope and RescaleIntercept from PixelValueTransformationSequence, ConvolutionKernel
from CTReconstructionSequence, TemporalPositionIndex from FrameContentSequence, and a Legacy
Converted image's unassigned attributes from its Unassigned Converted Attributes Sequences.
Where a frame has no Acquisition Date and Time of its own, they are the date and time parts
of its Frame Acquisition DateTime (or the image's Acquisition DateTime), as a single-frame
image of the same acquisition would hold them.

From there on a frame is a slice like any other (the same grouping, sorting along the
normal and geometry checks); its reference is the image's SOP Instance UID and the frame
number (1-based). highdicom 0.28 reads the same functional groups, but only through private
functions (``highdicom.spatial._get_spatial_information``), one attribute at a time.

A multi-frame image whose frames do not each carry their own PlanePositionSequence has no
known frame positions and is not expanded (:func:`frame_positions_known`): the selection
rejects it with a named reason instead of guessing an order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from numpy.typing import NDArray
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.pixels import iter_pixels

ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
LEGACY_CONVERTED_ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.2"
MULTIFRAME_CT_CLASSES = frozenset(
    {ENHANCED_CT_IMAGE_STORAGE, LEGACY_CONVERTED_ENHANCED_CT_IMAGE_STORAGE}
)
"""SOP Classes read frame by frame."""

_NOT_COPIED = frozenset(
    {
        "SharedFunctionalGroupsSequence",
        "PerFrameFunctionalGroupsSequence",
        "NumberOfFrames",
        "PixelData",
        "FloatPixelData",
        "DoubleFloatPixelData",
    }
)


class FrameHeader(Dataset):
    """The header of one frame of a multi-frame CT image, as a single-frame slice's.

    Attributes
    ----------
    frame_number : int
        The frame's number in the image (1-based, as Referenced Frame Number).
    image : pydicom.Dataset
        The multi-frame image (header, or whole data set where it was read with pixels).
    """

    frame_number: int
    image: Dataset


def is_multiframe_ct(ds: Dataset) -> bool:
    """Whether ``ds`` is an Enhanced or Legacy Converted Enhanced CT image."""
    return str(ds.get("SOPClassUID", "")) in MULTIFRAME_CT_CLASSES


def number_of_frames(ds: Dataset) -> int:
    """NumberOfFrames of an image (1 when absent or not a number)."""
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def _macro_item(group: Dataset | None, keyword: str) -> Dataset | None:
    seq = group.get(keyword) if group is not None else None
    return seq[0] if seq else None


def _groups(ds: Dataset) -> tuple[Dataset | None, list[Dataset]]:
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    return (shared[0] if shared else None), list(per_frame or [])


def frame_positions_known(ds: Dataset) -> bool:
    """Whether every frame of a multi-frame image has its own ImagePositionPatient.

    A single frame may take its position from the shared functional groups; several frames
    need one PlanePositionSequence per frame, or their positions (and order) are unknown.
    """
    shared, per_frame = _groups(ds)
    n = number_of_frames(ds)
    if per_frame and len(per_frame) != n:
        return False
    for k in range(n):
        item = _macro_item(per_frame[k] if per_frame else None, "PlanePositionSequence")
        if item is None and n == 1:
            item = _macro_item(shared, "PlanePositionSequence")
        if item is None or item.get("ImagePositionPatient") in (None, ""):
            return False
    return True


def _flatten(out: Dataset, group: Dataset | None) -> None:
    if group is None:
        return
    for macro in group:
        if macro.VR == "SQ" and macro.value:
            for element in macro.value[0]:
                out.add(element)


def _acquisition_date_time(frame: Dataset) -> None:
    if frame.get("AcquisitionTime"):
        return
    value = str(frame.get("FrameAcquisitionDateTime") or frame.get("AcquisitionDateTime") or "")
    moment = value.split("+")[0].split("-")[0]
    if len(moment) > 8 and moment[:8].isdigit():
        frame.add(DataElement("AcquisitionTime", "TM", moment[8:]))  # replaces, never edits
        if not frame.get("AcquisitionDate"):
            frame.add(DataElement("AcquisitionDate", "DA", moment[:8]))


def frame_headers(ds: Dataset) -> list[Dataset]:
    """The slices of an image: one :class:`FrameHeader` per frame of a multi-frame CT image
    whose frame positions are known, otherwise ``[ds]`` itself.

    Parameters
    ----------
    ds : pydicom.Dataset
        An image header as read (pixel data not needed); not modified. Its elements are
        shared with the frame headers, not copied: a frame header is read, never edited.

    Returns
    -------
    list[pydicom.Dataset]
        Frame headers in frame order (``filename`` and ``file_meta`` of the image), or the
        image alone.
    """
    if isinstance(ds, FrameHeader) or not is_multiframe_ct(ds) or not frame_positions_known(ds):
        return [ds]
    shared, per_frame = _groups(ds)
    top = [element for element in ds if element.keyword not in _NOT_COPIED]
    out: list[Dataset] = []
    for k in range(number_of_frames(ds)):
        frame = FrameHeader()
        for element in top:
            frame.add(element)
        _flatten(frame, shared)
        _flatten(frame, per_frame[k] if per_frame else None)
        _acquisition_date_time(frame)
        frame.frame_number = k + 1
        frame.image = ds
        if hasattr(ds, "file_meta"):
            frame.file_meta = ds.file_meta
        filename = getattr(ds, "filename", None)
        if filename is not None:
            frame.filename = filename
        out.append(frame)
    return out


def frame_number(ds: Dataset) -> int | None:
    """Frame number (1-based) of a frame header; None for a single-frame image."""
    return ds.frame_number if isinstance(ds, FrameHeader) else None


def several_images(slices: Sequence[Dataset]) -> str | None:
    """Why the slices of one stack cannot be the source of one DICOM-SEG, or None.

    A SEG references either single-frame images or the frames of one multi-frame image
    (highdicom's ``Segmentation``), so a stack must not draw frames from several
    multi-frame images, nor mix frames with single-frame images.

    Parameters
    ----------
    slices : sequence of Dataset
        The stack's slices (single-frame images or frame headers).

    Returns
    -------
    str or None
        The problem in words, or None when the stack has one kind of source.
    """
    frames = [ds for ds in slices if isinstance(ds, FrameHeader)]
    if not frames:
        return None
    images = {str(ds.get("SOPInstanceUID", "")) for ds in frames}
    if len(images) > 1:
        return f"frames of {len(images)} multi-frame images in one stack"
    if len(frames) < len(slices):
        return (f"{len(frames)} frames of a multi-frame image and "
                f"{len(slices) - len(frames)} single-frame images in one stack")
    return None


def iter_stored_frames(frames: Sequence[FrameHeader]) -> Iterator[tuple[int, NDArray[Any]]]:
    """Stored values of frames, each multi-frame image decoded once, requested frames only.

    Parameters
    ----------
    frames : sequence of FrameHeader
        Frames, of one or several images, in any order.

    Yields
    ------
    (int, ndarray of shape (Rows, Columns))
        Index into ``frames`` and that frame's stored pixel values (no rescale), image by
        image, as they are decoded.

    Raises
    ------
    Exception
        Whatever pydicom raises for pixel data it cannot decode.
    """
    by_image: dict[int, list[int]] = defaultdict(list)
    for k, frame in enumerate(frames):
        by_image[id(frame.image)].append(k)
    for positions in by_image.values():
        image = frames[positions[0]].image
        where: dict[int, list[int]] = defaultdict(list)
        for k in positions:
            where[frames[k].frame_number - 1].append(k)
        indices = sorted(where)
        source = image if "PixelData" in image else image.filename
        for index, array in zip(indices, iter_pixels(source, indices=indices), strict=True):
            for k in where[index]:
                yield k, array
