"""Source CT headers in the volume's slice order."""

from __future__ import annotations

from collections.abc import Sequence

import pydicom
from pydicom.dataset import Dataset

from pipeline.encode.sanitise import sanitised, sanitised_all
from pipeline.select.frames import FrameHeader
from pipeline.volume import CTVolume


class SourceMismatchError(ValueError):
    """The source datasets do not correspond slice by slice to the volume."""


def read_source_headers(volume: CTVolume) -> list[Dataset]:
    """Read the source image headers (no pixel data) in slice order, sanitised for the
    writers (:func:`pipeline.encode.sanitise.sanitised`).

    Parameters
    ----------
    volume : CTVolume
        Volume whose ``source_paths[k]`` is the file of slice ``k``.

    Returns
    -------
    list[pydicom.Dataset]
        One header per slice, in the volume's slice order; each file is read once, so the
        frames of a multi-frame image share one header object.

    Raises
    ------
    SourceMismatchError
        If the volume has no source paths or a file's SOP Instance UID is not the one the
        volume expects for that slice.
    pipeline.encode.sanitise.SourceHeaderError
        If a header lacks a Type 1 identifier.
    """
    if len(volume.source_paths) != volume.shape[0]:
        raise SourceMismatchError(
            f"volume has {volume.shape[0]} slices but {len(volume.source_paths)} source paths"
        )
    read: dict[str, Dataset] = {}
    for path in volume.source_paths:
        if path not in read:
            read[path] = sanitised(pydicom.dcmread(path, stop_before_pixels=True))
    headers = [read[p] for p in volume.source_paths]
    check_source_order(volume, headers)
    return headers


def selected_source_headers(volume: CTVolume, headers: Sequence[Dataset]) -> list[Dataset]:
    """The source image headers of a volume from the headers the selection read, sanitised
    for the writers: what :func:`read_source_headers` returns, without reading the files
    again.

    Parameters
    ----------
    volume : CTVolume
        The chosen volume.
    headers : sequence of pydicom.Dataset
        ``SelectionResult.chosen_headers``: the headers of its slices in slice order, read
        without pixel data (a frame of a multi-frame image as its
        :class:`~pipeline.select.frames.FrameHeader`, whose ``image`` is the image header).

    Returns
    -------
    list[pydicom.Dataset]
        One sanitised header per slice, in the volume's slice order; the frames of a
        multi-frame image share the one sanitised copy of its image header.

    Raises
    ------
    SourceMismatchError
        If the headers do not correspond slice by slice to the volume.
    pipeline.encode.sanitise.SourceHeaderError
        If a header lacks a Type 1 identifier.
    """
    out = sanitised_all([source_image(ds) for ds in headers])
    check_source_order(volume, out)
    return out


def source_image(header: Dataset) -> Dataset:
    """The image header a slice's header comes from: the multi-frame image of a
    :class:`~pipeline.select.frames.FrameHeader`, otherwise the header itself."""
    return header.image if isinstance(header, FrameHeader) else header


def check_source_order(volume: CTVolume, source_images: Sequence[Dataset]) -> None:
    """Check that ``source_images[k]`` is the source of slice ``k`` of ``volume``.

    Parameters
    ----------
    volume : CTVolume
        The volume.
    source_images : sequence of pydicom.Dataset
        Candidate source images, one per slice.

    Raises
    ------
    SourceMismatchError
        On a count, SOP Instance UID, series or frame-of-reference mismatch.
    """
    if len(source_images) != volume.shape[0]:
        raise SourceMismatchError(
            f"{len(source_images)} source images for {volume.shape[0]} slices"
        )
    for k, (ds, uid) in enumerate(zip(source_images, volume.sop_instance_uids, strict=True)):
        if ds.SOPInstanceUID != uid:
            raise SourceMismatchError(
                f"slice {k}: source image {ds.SOPInstanceUID} is not the expected {uid}"
            )
        if ds.SeriesInstanceUID != volume.series_instance_uid:
            raise SourceMismatchError(f"slice {k}: source image from another series")
        if ds.FrameOfReferenceUID != volume.frame_of_reference_uid:
            raise SourceMismatchError(f"slice {k}: source image in another frame of reference")
