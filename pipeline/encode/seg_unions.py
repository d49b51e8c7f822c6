"""The frames of the overlapping union segments, added to a SEG that highdicom built.

highdicom's ``Segmentation`` takes either a 3-D array of segment numbers (segments may not
overlap) or one mask per segment stacked on a fourth axis. The derived liver and the
all-lesions segment overlap the segments they are made of, so they would need the stack:
one byte per voxel per segment (2.9 GB for 600 slices of 512 x 512 and 19 segments), a
sum over it to detect the overlap and a strided copy of every frame — three quarters of
the SEG's build time (``bench/outputs.py``).

Instead highdicom builds the SEG from the 3-D array of the segments that never overlap,
with the descriptions of all segments (the union segments then get no frame), and this
module adds the union segments' frames the way highdicom orders and describes them:

- frames are grouped by Segment Number, ascending; within a segment, in the order of
  the planes (the DimensionIndexValues of the plane);
- the per-frame functional groups of a union frame are those of a frame highdicom wrote
  for the same plane (plane position, derivation and source image references, shared
  with that frame), with the segment's number in DimensionIndexValues and in a new
  Segment Identification Sequence;
- a BINARY frame is its mask packed 8 pixels a byte, first pixel in the lowest bit
  (``pydicom.pixels.pack_bits``); frames of Rows x Columns a multiple of 8 start on a
  byte, so frames are moved as whole byte strings;
- SegmentsOverlap is YES.

That this gives the same object as highdicom's own build from stacked masks, element by
element and in PixelData, is checked in ``tests/unit/encode/test_seg_unions.py``. The
caller falls back to highdicom's stacked masks where the conditions do not hold
(:func:`union_frames` returns None): a union voxel on a plane where no other segment has
one (highdicom omits planes empty in its array, so the plane would have no dimension
index), or frames whose pixel count is not a multiple of 8.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from pipeline.encode.content import SegmentationContent
from pipeline.encode.segments import SegmentSpec, union_mask

_SLAB = 32
"""Slices whose union masks are built and packed at a time."""


@dataclass(frozen=True)
class UnionFrames:
    """The packed frames of one union segment.

    Parameters
    ----------
    number : int
        Segment Number.
    planes : tuple[int, ...]
        Indices (into the array given to highdicom) of the planes with voxels, ascending.
    packed : bytes
        One packed frame per plane, concatenated (Rows x Columns / 8 bytes each).
    """

    number: int
    planes: tuple[int, ...]
    packed: bytes


def union_frames(
    unions: Sequence[SegmentSpec],
    segmentation: SegmentationContent,
    z: slice,
    base_planes: NDArray[np.bool_],
) -> list[UnionFrames] | None:
    """Pack the frames of the union segments over slices ``z``.

    Parameters
    ----------
    unions : sequence of SegmentSpec
        The union segments (label-value segments).
    segmentation : SegmentationContent
        Label map.
    z : slice
        The slices given to highdicom (plane ``i`` is slice ``z.start + i``).
    base_planes : ndarray of bool, shape (nz,)
        Whether the array of the other segments has a voxel on each plane.

    Returns
    -------
    list[UnionFrames] or None
        The frames in Segment Number order; None where highdicom's stacked masks are
        needed instead (see the module docstring).
    """
    rows, columns = segmentation.labelmap.shape[1:]
    if (rows * columns) % 8:
        return None
    out = []
    for spec in unions:
        planes: list[int] = []
        packed: list[bytes] = []
        for start in range(z.start, z.stop, _SLAB):  # a slab's masks at a time, not a volume's
            slab = slice(start, min(start + _SLAB, z.stop))
            mask = union_mask(spec, segmentation, slab).reshape(slab.stop - slab.start, -1)
            found = np.flatnonzero(mask.any(axis=1))
            if found.size:
                packed.append(np.packbits(mask[found], axis=1, bitorder="little").tobytes())
                planes.extend(int(p) + start - z.start for p in found)
        if not base_planes[planes].all():
            return None
        out.append(UnionFrames(spec.number, tuple(planes), b"".join(packed)))
    return out


def with_union_frames(
    seg: hd.seg.Segmentation,
    unions: Sequence[UnionFrames],
    positions: Sequence[hd.PlanePositionSequence],
) -> hd.seg.Segmentation:
    """Add the union segments' frames to a BINARY SEG built without them.

    Parameters
    ----------
    seg : highdicom.seg.Segmentation
        Built by highdicom from the other segments' numbers, with all segments described;
        changed in place.
    unions : sequence of UnionFrames
        From :func:`union_frames`, for the same planes.
    positions : sequence of highdicom.PlanePositionSequence
        The plane positions given to highdicom, one per plane.

    Returns
    -------
    highdicom.seg.Segmentation
        ``seg``, with every segment's frames (highdicom's frame look-up tables rebuilt).
    """
    frame_bytes = seg.Rows * seg.Columns // 8
    items = list(seg.PerFrameFunctionalGroupsSequence)
    pixel_data = seg.PixelData
    of_plane: dict[tuple[float, ...], Dataset] = {}
    frames_of: dict[int, list[tuple[Dataset, bytes]]] = {}
    for k, item in enumerate(items):
        of_plane.setdefault(_key(item.PlanePositionSequence[0].ImagePositionPatient), item)
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        frames_of.setdefault(number, []).append(
            (item, pixel_data[k * frame_bytes : (k + 1) * frame_bytes])
        )
    for union in unions:
        frames_of[union.number] = [
            (
                _union_item(of_plane[_key(positions[p][0].ImagePositionPatient)], union.number),
                union.packed[i * frame_bytes : (i + 1) * frame_bytes],
            )
            for i, p in enumerate(union.planes)
        ]
        frames_of[union.number].sort(
            key=lambda f: int(f[0].FrameContentSequence[0].DimensionIndexValues[1])
        )
    ordered = [f for number in sorted(frames_of) for f in frames_of[number]]
    data = b"".join(f[1] for f in ordered)
    seg.PerFrameFunctionalGroupsSequence = [f[0] for f in ordered]
    seg.PixelData = data + b"\x00" * (len(data) % 2)
    seg.NumberOfFrames = len(ordered)
    seg.SegmentsOverlap = "YES" if unions else seg.SegmentsOverlap
    # The frame look-up tables behind get_volume() and friends, as the constructor builds
    # them (highdicom 0.28.2; from_dataset would also rebuild them, after converting
    # every item once more: twice the time).
    seg._build_luts()
    return seg


def _key(image_position: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in image_position)


def _union_item(template: Dataset, number: int) -> Dataset:
    """Per-frame functional groups of a union frame on the template frame's plane.

    The plane's own macros (Derivation Image, Plane Position) are the template's elements,
    shared rather than copied (they are not changed afterwards); the Frame Content and
    Segment Identification macros are new.
    """
    item = Dataset()
    for element in template:
        item.add(element)
    content = Dataset()
    for element in template.FrameContentSequence[0]:
        content.add(element)
    indices = template.FrameContentSequence[0].DimensionIndexValues
    content.add(DataElement("DimensionIndexValues", "UL", [number, *indices[1:]]))
    item.add(DataElement("FrameContentSequence", "SQ", [content]))
    identification = Dataset()
    identification.add(DataElement("ReferencedSegmentNumber", "US", number))
    item.add(DataElement("SegmentIdentificationSequence", "SQ", [identification]))
    return item
