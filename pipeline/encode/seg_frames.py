"""Fast path of the BINARY DICOM-SEG: highdicom's object, its frames made here.

highdicom 0.28.2's ``Segmentation`` constructor makes, for every segment and every plane,
the segment's mask of the plane, a per-frame functional groups item and the packed frame;
and it takes overlapping segments (the derived liver, all lesions, planning regions) only
as one mask per segment stacked on a fourth axis. For 15-19 segments over 300-600 slices
that is 2,000-2,700 frames out of 6,000-11,000 plane/segment pairs: most of the SEG's time.
Here highdicom builds the object with one segment, and the frames of all segments are made
by this module the way highdicom makes them:

1. highdicom builds the SEG of a *marker* array with only the first two segments described
   (with one, highdicom moves the Segment Identification to the shared functional groups):
   one voxel of segment 1 on each plane where any segment has a voxel. This gives every
   attribute that highdicom derives from the source images and the planes (patient, study
   and general image modules, shared functional groups, Dimension Index and Organization
   with the DimensionOrganizationType of those planes, the referenced series and
   instances) and one per-frame item per plane (plane position, derivation and source
   image references, DimensionIndexValues ``[1, plane index]``).
2. The Segment Sequence becomes the list of all segment descriptions (what highdicom
   assigns for a BINARY SEG).
3. Frames are grouped by Segment Number, ascending; within a segment in the order of the
   planes' dimension index. The per-frame item of a frame holds the marker frame's plane
   macros (shared, not copied: Plane Position, Derivation Image) and a new Frame Content
   (DimensionIndexValues ``[segment, plane index]``) and Segment Identification macro.
4. A frame is its mask packed 8 pixels a byte, first pixel in the lowest bit
   (``numpy.packbits(..., bitorder="little")``, as pydicom's ``pack_bits`` that highdicom
   uses); PixelData is padded to an even length with ``b"0"`` as highdicom pads it.
5. SegmentsOverlap is YES where there are union segments (highdicom's value for the stacked
   masks they need), NO otherwise (its value for a 3-D array of segment numbers);
   NumberOfFrames and highdicom's frame look-up tables follow the frames.

The masks are made a slab of slices at a time (:func:`segment_frames`).

Where frames of Rows x Columns pixels are not a multiple of 8 pixels, highdicom packs the
frames as one bit stream (a frame does not start on a byte); :func:`segment_frames` returns
None and the caller uses highdicom's own build. That the fast path gives highdicom's own
object, element by element with PixelData, is checked in
``tests/unit/encode/test_seg_frames.py`` (synthetic series, single- and multi-frame
sources, and a series made of pydicom's own test file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from pipeline.encode.content import SegmentationContent
from pipeline.encode.segments import SegmentSpec

_SLAB = 32
"""Slices whose masks are made and packed at a time."""


@dataclass(frozen=True)
class SegmentFrames:
    """The packed frames of one segment.

    Parameters
    ----------
    number : int
        Segment Number.
    planes : tuple[int, ...]
        Indices (into the slices ``z`` given to :func:`segment_frames`) of the planes where
        the segment has voxels, ascending.
    packed : bytes
        One packed frame per plane, concatenated (Rows x Columns / 8 bytes each).
    """

    number: int
    planes: tuple[int, ...]
    packed: bytes


def segment_frames(
    specs: Sequence[SegmentSpec], segmentation: SegmentationContent, z: slice
) -> list[SegmentFrames] | None:
    """Pack the frames of every segment over slices ``z``.

    A slab of slices at a time: each label value that a segment needs is compared with the
    label map once, within the rows and columns where the slab has labels, and packed there;
    a segment of several label values (the derived liver) is the bitwise OR of its values'
    packed masks, a lesion segment one comparison of the lesion map in the same box, a
    planning region its own mask. Only the frames with voxels are kept.

    Parameters
    ----------
    specs : sequence of SegmentSpec
        Planned segments (Segment Numbers 1, 2, ...).
    segmentation : SegmentationContent
        Label map, lesion map and regions.
    z : slice
        The slices of the SEG (plane ``i`` is slice ``z.start + i``; step 1).

    Returns
    -------
    list[SegmentFrames] or None
        One per segment, in Segment Number order (a segment without voxels has no planes);
        None where a frame's pixel count is not a multiple of 8.
    """
    rows, columns = segmentation.labelmap.shape[1:]
    if (rows * columns) % 8:
        return None
    planes: dict[int, list[int]] = {s.number: [] for s in specs}
    packed: dict[int, list[bytes]] = {s.number: [] for s in specs}
    for start in range(z.start, z.stop, _SLAB):
        slab = slice(start, min(start + _SLAB, z.stop))
        for number, mask, (in_rows, in_bytes) in _slab_masks(specs, segmentation, slab):
            found = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
            if found.size:
                layout = _packed_layout(segmentation.labelmap[slab], columns).shape[1:]
                frames = np.zeros((found.size, layout[0], layout[1] // 8), np.uint8)
                frames[:, in_rows, in_bytes] = mask[found]
                packed[number].append(frames.tobytes())
                planes[number].extend(int(p) + start - z.start for p in found)
    return [
        SegmentFrames(s.number, tuple(planes[s.number]), b"".join(packed[s.number]))
        for s in specs
    ]


def _slab_masks(
    specs: Sequence[SegmentSpec], segmentation: SegmentationContent, slab: slice
) -> Iterator[tuple[int, NDArray[np.uint8], tuple[slice, slice]]]:
    """Each segment's packed mask over a slab, within a box of rows and bytes.

    Yields
    ------
    number : int
        Segment Number.
    mask : ndarray of uint8, shape (planes, rows, bytes)
        The packed mask in the box (``_packed_layout``).
    box : tuple of slice
        The box's rows and bytes in the packed frame.
    """
    columns = segmentation.labelmap.shape[2]
    labels = _packed_layout(segmentation.labelmap[slab], columns)
    box = _box(labels)
    whole = (slice(None), slice(None))
    for spec in specs:  # planning regions: their own masks, wherever they are
        if spec.region is not None:
            region = np.asarray(segmentation.regions[spec.region][slab])
            yield spec.number, _pack(_packed_layout(region, columns)), whole
    if box is None:
        return
    in_rows, in_columns = box
    in_bytes = slice(in_columns.start // 8, in_columns.stop // 8)
    inside = labels[:, in_rows, in_columns]
    values = sorted({v for s in specs for v in s.label_values})
    of_value = {v: _pack(inside == v) for v in values}
    lesions = None
    for spec in specs:
        if spec.region is not None:
            continue
        if spec.lesion_id is not None:
            if lesions is None:
                if segmentation.lesion_map is None:
                    raise ValueError(f"segment {spec.label!r} needs a lesion map")
                lesion_map = _packed_layout(segmentation.lesion_map[slab], columns)
                lesions = lesion_map[:, in_rows, in_columns]
            yield spec.number, _pack(lesions == spec.lesion_id), (in_rows, in_bytes)
            continue
        mask = of_value[spec.label_values[0]]
        for v in spec.label_values[1:]:
            mask = mask | of_value[v]
        yield spec.number, mask, (in_rows, in_bytes)


def _packed_layout(array: NDArray[Any], columns: int) -> NDArray[Any]:
    """A slab (k, Rows, Columns) as rows of whole bytes once packed: itself where Columns
    is a multiple of 8, else each frame as one row (k, 1, Rows x Columns)."""
    return array if columns % 8 == 0 else array.reshape(array.shape[0], 1, -1)


def _box(labels: NDArray[Any]) -> tuple[slice, slice] | None:
    """The rows and the columns (whole bytes once packed) where a slab of ``labels`` has
    non-zero values; None where it has none."""
    nonzero = labels != 0
    in_rows = np.flatnonzero(nonzero.any(axis=(0, 2)))
    if not in_rows.size:
        return None
    in_columns = np.flatnonzero(nonzero.any(axis=(0, 1)))
    first, last = int(in_columns[0]) // 8, int(in_columns[-1]) // 8 + 1
    return slice(int(in_rows[0]), int(in_rows[-1]) + 1), slice(8 * first, 8 * last)


def _pack(mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """Pack the last axis 8 pixels a byte, first pixel in the lowest bit (pydicom's
    ``pack_bits``, which highdicom uses)."""
    return np.packbits(mask, axis=-1, bitorder="little")


def binary_seg(
    build: Callable[[NDArray[np.uint8], Sequence[hd.seg.SegmentDescription]], hd.seg.Segmentation],
    descriptions: Sequence[hd.seg.SegmentDescription],
    frames: Sequence[SegmentFrames],
    shape: tuple[int, int, int],
    positions: Sequence[hd.PlanePositionSequence],
    overlap: bool,
) -> hd.seg.Segmentation:
    """highdicom's BINARY SEG of ``frames``, built as the module docstring says.

    Parameters
    ----------
    build : callable
        ``build(pixel_array, segment_descriptions)``: highdicom's ``Segmentation`` of the
        SEG's source images, UIDs and settings (BINARY, empty frames omitted).
    descriptions : sequence of highdicom.seg.SegmentDescription
        All segments, Segment Numbers 1, 2, ... (two at least).
    frames : sequence of SegmentFrames
        From :func:`segment_frames`; at least one frame in all.
    shape : tuple of int
        Planes, Rows, Columns of the array ``build`` is given.
    positions : sequence of highdicom.PlanePositionSequence
        Plane position of each plane (as ``build`` places them).
    overlap : bool
        Whether segments overlap (union segments).

    Returns
    -------
    highdicom.seg.Segmentation

    Raises
    ------
    ValueError
        If fewer than two segments are described.
    """
    if len(descriptions) < 2:
        raise ValueError("the fast path needs two segments at least")
    marker = np.zeros(shape, np.uint8)  # zero pages: memory only for the planes' voxels
    used = sorted({p for f in frames for p in f.planes})
    marker[used, 0, 0] = 1
    seg = build(marker, descriptions[:2])
    del marker
    plane_item = {
        _key(item.PlanePositionSequence[0].ImagePositionPatient): item
        for item in seg.PerFrameFunctionalGroupsSequence
    }
    frame_bytes = seg.Rows * seg.Columns // 8
    items: list[Dataset] = []
    chunks: list[bytes] = []
    for segment in sorted(frames, key=lambda f: f.number):
        of_segment = [
            (plane_item[_key(positions[p][0].ImagePositionPatient)], i)
            for i, p in enumerate(segment.planes)
        ]
        of_segment.sort(key=lambda t: int(t[0].FrameContentSequence[0].DimensionIndexValues[1]))
        identification = DataElement(0x0062000A, "SQ", [_identification(segment.number)])
        for template, i in of_segment:
            items.append(_frame_item(template, segment.number, identification))
            chunks.append(segment.packed[i * frame_bytes : (i + 1) * frame_bytes])
    data = b"".join(chunks)
    del chunks
    seg.PixelData = data + b"0" * (len(data) % 2)
    seg.SegmentSequence = list(descriptions)
    seg.PerFrameFunctionalGroupsSequence = items
    seg.NumberOfFrames = len(items)
    seg.SegmentsOverlap = "YES" if overlap else "NO"
    # The frame look-up tables behind get_volume() and friends, as the constructor builds
    # them (highdicom 0.28.2).
    seg._build_luts()
    return seg


def _key(image_position: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in image_position)


def _identification(number: int) -> Dataset:
    item = Dataset()
    item.add(DataElement(0x0062000B, "US", number))  # ReferencedSegmentNumber
    return item


def _frame_item(template: Dataset, number: int, identification: DataElement) -> Dataset:
    """Per-frame functional groups of segment ``number`` on the template frame's plane.

    The plane's own macros (Derivation Image, Plane Position) are the template's elements,
    shared rather than copied (they are not changed afterwards); the Frame Content macro is
    new and the Segment Identification macro is the segment's (one element for all its
    frames).
    """
    content = {e.tag: e for e in template.FrameContentSequence[0].elements()}
    indices = template.FrameContentSequence[0].DimensionIndexValues
    values = DataElement(0x00209157, "UL", [number, *indices[1:]])  # DimensionIndexValues
    content[values.tag] = values
    frame_content = DataElement(0x00209111, "SQ", [Dataset(content)])  # FrameContentSequence
    item = {e.tag: e for e in template.elements()}
    item[frame_content.tag] = frame_content
    item[identification.tag] = identification
    return Dataset(item)
