"""DICOM-SEG writer (highdicom), BINARY by default.

The SEG is a new series in the source study; highdicom copies the patient and study
modules from the source images. Frames are built only for the slices where a segment has
voxels (highdicom omits empty frames). Each frame's plane position is its source slice's
ImagePositionPatient, so highdicom references exactly the source image of that slice
(single-frame sources: ``source_images[k]`` is slice ``k``), or the source frame of a
multi-frame image at that position (DerivationImageSequence / SourceImageSequence per
frame; :mod:`pipeline.encode.seg_source`). A BINARY SEG's frames are made by
:mod:`pipeline.encode.seg_frames` around an object highdicom builds (the same object as
highdicom's own build, in a fraction of its time); highdicom's own build stays the
reference and the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes as dcm_codes

from pipeline.encode.codes import DEMO_NOTICE, coded
from pipeline.encode.config import EncodeConfig
from pipeline.encode.content import AlgorithmInfo, SegmentationContent
from pipeline.encode.sanitise import sanitised_all
from pipeline.encode.seg_frames import binary_seg, segment_frames
from pipeline.encode.seg_source import seg_sources
from pipeline.encode.segments import (
    SegmentSpec,
    labelmap_array,
    plan_segments,
    stacked_masks,
    union_specs,
)
from pipeline.encode.source import check_source_order
from pipeline.errors import InputDataError
from pipeline.volume import CTVolume

DEMO_SUFFIX = " DEMO-not for clinical use"
"""Appended to SeriesDescription of outputs from the demo model (LO: 64 characters)."""


class EmptySegmentationError(InputDataError):
    """The label map has no voxel of any known structure: there is nothing to encode."""


def series_description(base: str, algorithm: AlgorithmInfo) -> str:
    """SeriesDescription with the demo notice where it applies (64 characters at most)."""
    return (base + DEMO_SUFFIX if algorithm.is_demo else base)[:64]


def algorithm_identification(algorithm: AlgorithmInfo) -> hd.AlgorithmIdentificationSequence:
    """Segment Algorithm Identification: model name, version, weights hash, demo notice.

    Parameters
    ----------
    algorithm : AlgorithmInfo
        The segmentation model.

    Returns
    -------
    highdicom.AlgorithmIdentificationSequence
    """
    parameters = {}
    if algorithm.weights_sha256:
        parameters["weights_sha256"] = algorithm.weights_sha256
    if algorithm.is_demo:
        parameters["notice"] = DEMO_NOTICE
    return hd.AlgorithmIdentificationSequence(
        name=algorithm.name[:64],
        family=dcm_codes.cid7162.ArtificialIntelligence,
        version=algorithm.version[:64],
        source="dicomnode",
        parameters=parameters or None,
    )


def segment_descriptions(
    specs: Sequence[SegmentSpec], algorithm: AlgorithmInfo
) -> list[hd.seg.SegmentDescription]:
    """highdicom segment descriptions with SNOMED codes, colour and tracking identifiers.

    Parameters
    ----------
    specs : sequence of SegmentSpec
        Planned segments.
    algorithm : AlgorithmInfo
        The segmentation model.

    Returns
    -------
    list[highdicom.seg.SegmentDescription]
    """
    ident = algorithm_identification(algorithm)
    liver_region = [CodedConcept("10200004", "SCT", "Liver")]
    out = []
    for spec in specs:
        out.append(
            hd.seg.SegmentDescription(
                segment_number=spec.number,
                segment_label=spec.label[:64],
                segmented_property_category=coded(spec.info.category),
                segmented_property_type=coded(spec.info.type),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=ident,
                tracking_uid=hd.UID(),
                tracking_id=spec.tracking_id[:64],
                anatomic_regions=(
                    liver_region
                    if spec.lesion_id is not None or spec.region is not None
                    else None
                ),
                display_color=hd.color.CIELabColor.from_rgb(*spec.rgb),
            )
        )
    return out


def build_seg(
    volume: CTVolume,
    source_images: Sequence[Dataset],
    segmentation: SegmentationContent,
    config: EncodeConfig | None = None,
    *,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    fast: bool = True,
) -> hd.seg.Segmentation:
    """Build the DICOM-SEG of a label map on a CT volume.

    Parameters
    ----------
    volume : CTVolume
        The segmented volume; ``source_images[k]`` must be the source of slice ``k``.
    source_images : sequence of pydicom.Dataset
        Source CT headers in the volume's slice order (pixel data not needed; the same
        multi-frame image for each of its frames), e.g. from
        :func:`pipeline.encode.source.read_source_headers`; the SEG is built from their
        :func:`~pipeline.encode.sanitise.sanitised` copies.
    segmentation : SegmentationContent
        Label map in the volume's slice order, label meanings, lesion map, algorithm.
    config : EncodeConfig, optional
        Writer settings (defaults: BINARY, lesions as separate segments).
    series_instance_uid, sop_instance_uid : str, optional
        UIDs to use; new ones are generated by default.
    fast : bool, optional
        BINARY: make the frames in :mod:`pipeline.encode.seg_frames` (default). False: give
        highdicom a 3-D array of segment numbers, or one mask per segment where segments
        overlap (the union segments), and let it make the frames: the same object, in
        several times the time and memory (the reference of the tests and benchmarks).
        A LABELMAP SEG and a SEG of one segment are always highdicom's own build.

    Returns
    -------
    highdicom.seg.Segmentation
        The SEG instance (a new series in the source study).

    Raises
    ------
    pipeline.encode.source.SourceMismatchError
        If the source images do not match the volume slice for slice.
    pipeline.encode.sanitise.SourceHeaderError
        If a source header lacks a Type 1 identifier.
    EmptySegmentationError
        If no segment has any voxel.
    ValueError
        If the label map's shape is not the volume's.
    """
    config = config or EncodeConfig()
    if segmentation.labelmap.shape != volume.shape:
        raise ValueError(
            f"label map shape {segmentation.labelmap.shape} is not the volume's {volume.shape}"
        )
    source_images = sanitised_all(source_images)
    check_source_order(volume, source_images)
    specs = plan_segments(segmentation, config)
    if not specs:
        raise EmptySegmentationError("no structure has any voxel")
    # Single-frame sources: every slice goes to highdicom (it omits the empty ones) and it
    # takes each plane's position and source image from source_images[k] itself; given
    # plane positions, highdicom 0.28.2 matches them to the source images in quadratic
    # time (1.5 s for 600 slices). A multi-frame source's frames may be in another order
    # than the slices, so there the slices with voxels get their positions explicitly.
    single_frame = not volume.frame_numbers
    if single_frame:
        z = slice(0, volume.shape[0])
    else:
        nonzero = np.flatnonzero(segmentation.labelmap.reshape(volume.shape[0], -1).any(axis=1))
        if segmentation.lesion_map is not None:
            lesion_z = segmentation.lesion_map.reshape(volume.shape[0], -1).any(axis=1)
            nonzero = np.union1d(nonzero, np.flatnonzero(lesion_z))
        for region in segmentation.regions.values():
            region_z = region.reshape(volume.shape[0], -1).any(axis=1)
            nonzero = np.union1d(nonzero, np.flatnonzero(region_z))
        z = slice(int(nonzero.min()), int(nonzero.max()) + 1)
    seg_type = hd.seg.SegmentationTypeValues(config.segmentation_type.value)
    sources, positions = seg_sources(volume, source_images, range(z.start, z.stop))
    algorithm = segmentation.algorithm
    descriptions = segment_descriptions(specs, algorithm)

    def highdicom_seg(
        pixels: np.ndarray, described: Sequence[hd.seg.SegmentDescription] = descriptions
    ) -> hd.seg.Segmentation:
        return hd.seg.Segmentation(
            source_images=sources,
            pixel_array=pixels,
            segmentation_type=seg_type,
            segment_descriptions=described,
            series_instance_uid=series_instance_uid or hd.UID(),
            series_number=config.seg_series_number,
            sop_instance_uid=sop_instance_uid or hd.UID(),
            instance_number=1,
            manufacturer=config.manufacturer,
            manufacturer_model_name=config.manufacturer_model_name,
            software_versions=config.software_versions,
            device_serial_number=config.device_serial_number,
            content_description=(
                DEMO_NOTICE if algorithm.is_demo else "Automatic liver segmentation"
            )[:64],
            content_label="LIVER_SEG",
            series_description=series_description(config.seg_series_description, algorithm),
            plane_positions=None if single_frame else positions,
            omit_empty_frames=True,
        )

    unions = union_specs(specs)
    if fast and seg_type is hd.seg.SegmentationTypeValues.BINARY and len(specs) > 1:
        frames = segment_frames(specs, segmentation, z)
        if frames is not None:
            shape = (z.stop - z.start, *volume.shape[1:])
            return binary_seg(highdicom_seg, descriptions, frames, shape, positions, bool(unions))
    # A 3-D array of segment numbers ("label-map style", valid for BINARY too) needs far
    # less memory and time than stacked masks, which overlapping segments need.
    if not unions:
        return highdicom_seg(labelmap_array(specs, segmentation, z))
    return highdicom_seg(stacked_masks(specs, segmentation, z))
