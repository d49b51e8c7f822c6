"""The source images of a DICOM-SEG and the plane position of each SEG frame.

A volume read from single-frame CT images has one source image per slice; a volume read
from a multi-frame CT image (Enhanced or Legacy Converted Enhanced CT) has one source image
and a frame of it per slice (``CTVolume.frame_numbers``). highdicom's ``Segmentation``
takes either a list of single-frame images or exactly one multi-frame image. Given the plane
position of each SEG frame, it references the source image (or source frame) at that
position in the frame's Derivation Image Sequence (within 1 µm), whatever the order of the
source frames; so every SEG frame gets its slice's own ImagePositionPatient.

highdicom reads a multi-frame source's orientation and pixel measures from its shared
functional groups only, while the standard also allows them per frame. The SEG is therefore
built from a copy of the image whose shared functional groups hold the Plane Orientation and
Pixel Measures of its first frame where they are per frame; the selection has checked that
every frame has the same orientation and pixel spacing. The source header is not changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from pipeline.encode.source import SourceMismatchError
from pipeline.select.frames import frame_headers
from pipeline.volume import CTVolume

SHARED_FOR_HIGHDICOM = ("PlaneOrientationSequence", "PixelMeasuresSequence")
"""Functional group macros highdicom reads from a multi-frame source's shared groups."""


def seg_sources(
    volume: CTVolume, source_images: Sequence[Dataset], slices: range
) -> tuple[list[Dataset], list[hd.PlanePositionSequence]]:
    """Source images for highdicom's ``Segmentation`` and the plane positions of the slices.

    Parameters
    ----------
    volume : CTVolume
        The segmented volume.
    source_images : sequence of pydicom.Dataset
        Source headers in the volume's slice order (one per slice; the same multi-frame
        image for each of its frames), already checked against the volume.
    slices : range
        The slices that become SEG frames (indices into the volume, ascending).

    Returns
    -------
    sources : list of pydicom.Dataset
        The single-frame images, or the one multi-frame image (geometry macros shared).
    positions : list of highdicom.PlanePositionSequence
        ImagePositionPatient (mm, patient LPS) of each slice in ``slices``.

    Raises
    ------
    SourceMismatchError
        If the slices come from several multi-frame images.
    """
    if not volume.frame_numbers:
        positions = [_position(source_images[k].ImagePositionPatient) for k in slices]
        return list(source_images), positions
    images = list({str(ds.SOPInstanceUID): ds for ds in source_images}.values())
    if len(images) != 1 or 0 in volume.frame_numbers:
        raise SourceMismatchError(
            "a SEG references the frames of one multi-frame image; the volume's slices come "
            f"from {len(images)} images")
    frames = frame_headers(images[0])
    positions = [_position(frames[volume.frame_numbers[k] - 1].ImagePositionPatient)
                 for k in slices]
    return [shared_geometry(images[0])], positions


def _position(image_position: Sequence[float]) -> hd.PlanePositionSequence:
    return hd.PlanePositionSequence(hd.CoordinateSystemNames.PATIENT, image_position)


def shared_geometry(image: Dataset) -> Dataset:
    """A copy of a multi-frame image whose shared functional groups hold
    :data:`SHARED_FOR_HIGHDICOM` (from the first frame where they are per frame).

    Parameters
    ----------
    image : pydicom.Dataset
        A multi-frame image header; not changed (elements are shared, not copied).

    Returns
    -------
    pydicom.Dataset
        The image itself where nothing needs to move, otherwise the copy.
    """
    shared_items = image.get("SharedFunctionalGroupsSequence") or [Dataset()]
    first_frame = (image.get("PerFrameFunctionalGroupsSequence") or [Dataset()])[0]
    moving = [k for k in SHARED_FOR_HIGHDICOM if k not in shared_items[0] and k in first_frame]
    if not moving:
        return image
    shared = Dataset()
    for element in shared_items[0]:
        shared.add(element)
    for keyword in moving:
        shared.add(first_frame[keyword])
    out = Dataset()
    for element in image:
        out.add(element)
    out.add(DataElement("SharedFunctionalGroupsSequence", "SQ", DicomSequence([shared])))
    for attribute in ("file_meta", "filename"):
        if hasattr(image, attribute):
            setattr(out, attribute, getattr(image, attribute))
    return out
