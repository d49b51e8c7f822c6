"""Key images of a job's segmentation with the planned SIRT territory highlighted.

The planner sees what was measured before signing: axial CT slices through the territory
(radiological view, as the PDF's key images) with every segment of the job's DICOM-SEG
blended in its colour and the territory's Couinaud segments (the whole liver for a
whole-liver plan) in green, lesions drawn
over it in their own colour (yellow). Only the slices shown are decoded: they are picked from
the SEG's frame headers (evenly through the territory's extent along the slice normal) and
their CT images read from the job's stored instances.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pydicom
from numpy.typing import NDArray

from pipeline.encode.overlay import display_transform
from pipeline.structures import CATALOGUE, COUINAUD_SEGMENTS, Structure
from pipeline.validate.labelmaps import segment_structures

TERRITORY_RGB = (50, 230, 50)
"""Colour of the highlighted territory (green: no segment of the catalogue has it)."""
TERRITORY_ALPHA = 0.55
"""Opacity of the territory colour over the CT."""
SEGMENT_ALPHA = 0.3
"""Opacity of the other segments' colours."""


@dataclass(frozen=True)
class KeySlice:
    """One CT image through the territory.

    Parameters
    ----------
    sop_instance_uid : str
        The CT image's SOP Instance UID (a source image of the SEG).
    position_mm : float
        Its position along the slice normal, mm.
    """

    sop_instance_uid: str
    position_mm: float


def territory_structures(segments: Sequence[int]) -> set[Structure]:
    """The structures of a territory: its Couinaud segments, or the liver when none."""
    if not segments:
        return {Structure.LIVER, *COUINAUD_SEGMENTS}
    return {COUINAUD_SEGMENTS[n - 1] for n in segments if 1 <= n <= len(COUINAUD_SEGMENTS)}


def key_slices(seg: hd.seg.Segmentation, numbers: set[int], count: int) -> list[KeySlice]:
    """``count`` source images spread evenly through the frames of segments ``numbers``."""
    shared = seg.SharedFunctionalGroupsSequence[0]
    orientation = np.asarray(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    normal = np.cross(orientation[:3], orientation[3:])
    positions: dict[str, float] = {}
    for frame in seg.PerFrameFunctionalGroupsSequence:
        number = int(frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        if number not in numbers:
            continue
        source = frame.DerivationImageSequence[0].SourceImageSequence[0]
        position = np.asarray(frame.PlanePositionSequence[0].ImagePositionPatient, float)
        positions[str(source.ReferencedSOPInstanceUID)] = float(position @ normal)
    ordered = sorted(positions.items(), key=lambda item: item[1])
    if not ordered:
        return []
    picks = sorted({int((k + 0.5) * len(ordered) / count) for k in range(count)})
    return [KeySlice(*ordered[i]) for i in picks]


def _hu(image: pydicom.Dataset) -> NDArray[np.float64]:
    slope = float(getattr(image, "RescaleSlope", 1) or 1)
    intercept = float(getattr(image, "RescaleIntercept", 0) or 0)
    return np.asarray(image.pixel_array, float) * slope + intercept


def _blend(
    rgb: NDArray[np.float64],
    mask: NDArray[np.bool_],
    colour: tuple[float, float, float] | tuple[int, int, int],
    alpha: float,
) -> None:
    """Blend ``colour`` (0-1 floats, or 0-255 integers) into ``rgb`` where ``mask``."""
    value = np.asarray(colour, float)
    value = value / 255.0 if value.max() > 1 else value
    rgb[mask] = (1 - alpha) * rgb[mask] + alpha * value


def _png(rgb: NDArray[np.float64], title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(3.4, 3.6), dpi=100)
    ax.imshow(rgb, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()
    for x, y, text in ((0.5, 0.96, "A"), (0.5, 0.04, "P"), (0.03, 0.5, "R"), (0.97, 0.5, "L")):
        ax.text(
            x,
            y,
            text,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="white",
            fontweight="bold",
        )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def territory_overlays(
    seg_path: Path,
    ct_paths: Mapping[str, str],
    territory: Sequence[int],
    territory_name: str,
    count: int,
    window: tuple[float, float] = (60.0, 400.0),
) -> list[bytes]:
    """PNG key images of the segmentation with the territory highlighted.

    Parameters
    ----------
    seg_path : Path
        The job's DICOM-SEG.
    ct_paths : mapping of str to str
        SOP Instance UID -> file of the job's stored CT images.
    territory : sequence of int
        Couinaud segments (1-8) of the territory; empty for the whole liver.
    territory_name : str
        How the captions name it (e.g. ``right``).
    count : int
        Number of images wanted.
    window : tuple of float
        Window centre and width, HU.

    Returns
    -------
    list of bytes
        PNG images, feet to head; empty when the SEG has no frame of the territory or the
        CT images are no longer stored.
    """
    seg = hd.seg.segread(str(seg_path))
    structures = segment_structures(seg)
    wanted = territory_structures(territory)
    highlight = {n for n, s in structures.items() if s in wanted}
    slices = [s for s in key_slices(seg, highlight, count) if s.sop_instance_uid in ct_paths]
    if not slices:
        return []
    numbers = sorted(structures)
    masks = seg.get_pixels_by_source_instance(
        [s.sop_instance_uid for s in slices],
        segment_numbers=numbers,
        ignore_spatial_locations=True,
        dtype=bool,
    )
    centre, width = window
    images = []
    for index, key in enumerate(slices):
        ct = pydicom.dcmread(ct_paths[key.sop_instance_uid])
        orientation = [float(v) for v in ct.ImageOrientationPatient]
        transform = display_transform(
            (orientation[0], orientation[1], orientation[2]),
            (orientation[3], orientation[4], orientation[5]),
        )
        grey = np.clip((_hu(ct) - (centre - width / 2)) / width, 0, 1)
        rgb = np.repeat(grey[..., None], 3, axis=2)
        territory_mask = np.zeros(grey.shape, bool)
        for channel, number in enumerate(numbers):
            mask = masks[index, :, :, channel]
            if number in highlight:
                territory_mask |= mask
            elif structures[number] is not Structure.LIVER:
                _blend(rgb, mask, CATALOGUE[structures[number]].rgb, SEGMENT_ALPHA)
        _blend(rgb, territory_mask, TERRITORY_RGB, TERRITORY_ALPHA)
        for channel, number in enumerate(numbers):  # lesions stay visible inside it
            if structures[number] is Structure.METASTASIS:
                lesion = CATALOGUE[Structure.METASTASIS].rgb
                _blend(rgb, masks[index, :, :, channel], lesion, TERRITORY_ALPHA)
        shown = np.stack([transform.apply(rgb[..., c]) for c in range(3)], axis=2)
        images.append(
            _png(
                shown,
                f"{index + 1}/{len(slices)}: {key.position_mm:.1f} mm; "
                f"territory {territory_name} in green",
            )
        )
    return images
