"""Paying the writers' one-time start-up before the first study.

The first SEG and SR a process builds cost about 0.8 s more than the next ones: highdicom
loads its tables of the standard (IODs, modules, attributes; JSON) on first use, pydicom
its code dictionaries. :func:`warm_up` builds a SEG (two segments and a derived union, so
that the BINARY fast path of :mod:`pipeline.encode.seg_frames` runs), SR and PDF of a tiny
synthetic volume in memory, through the same public functions as a study, encodes the SEG
and SR as files (:func:`pipeline.encode.writer.file_bytes`) and discards them, so that a
warm job worker (:mod:`dicomnode.jobs.warm`) pays this when it starts, not in its first
job.
"""

from __future__ import annotations

import time

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, generate_uid

from pipeline.encode.content import (
    AlgorithmInfo,
    ReportContent,
    SegmentationContent,
    SeriesChoice,
    StructureMeasurement,
)
from pipeline.encode.pdf import build_encapsulated_pdf, build_pdf
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_sr
from pipeline.encode.writer import file_bytes
from pipeline.structures import Structure
from pipeline.volume import CTVolume

SLICES, SIZE = 2, 16
"""Shape of the synthetic volume (slices, rows = columns)."""


def _tiny_study() -> tuple[CTVolume, list[Dataset]]:
    """A 2-slice 16 x 16 CT volume and its source headers (no pixel data)."""
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    headers = []
    for k in range(SLICES):
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID, ds.Modality = frame, "CT"
        ds.PatientName, ds.PatientID = "Warm^Up", "WARMUP"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.PixelSpacing, ds.SliceThickness = [1.0, 1.0], 1.0
        ds.Rows = ds.Columns = SIZE
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        headers.append(ds)
    volume = CTVolume(
        hu=np.zeros((SLICES, SIZE, SIZE), np.float32),
        spacing_mm=(1.0, 1.0, 1.0),
        origin_mm=(0.0, 0.0, 0.0),
        row_cosine=(1.0, 0.0, 0.0),
        column_cosine=(0.0, 1.0, 0.0),
        sop_instance_uids=[str(h.SOPInstanceUID) for h in headers],
        series_instance_uid=series,
        study_instance_uid=study,
        frame_of_reference_uid=frame,
        slice_thickness_mm=1.0,
    )
    return volume, headers


def warm_up() -> float:
    """Build and encode (and discard) a SEG, SR and PDF of a tiny synthetic volume.

    Returns
    -------
    float
        Seconds it took.
    """
    started = time.perf_counter()
    volume, headers = _tiny_study()
    labelmap = np.zeros(volume.shape, np.uint8)
    labelmap[:, 4:12, 4:12] = 1
    labelmap[:, 6:8, 6:8] = 2
    algorithm = AlgorithmInfo("warm-up", "0", True)
    labels = {1: Structure.COUINAUD_4, 2: Structure.COUINAUD_5}  # the liver: their union
    segmentation = SegmentationContent(labelmap, labels, algorithm)
    content = ReportContent(
        series=SeriesChoice(volume.series_instance_uid, "warm-up", ()),
        algorithm=algorithm,
        structures=(StructureMeasurement(Structure.LIVER, np.count_nonzero(labelmap) / 1000.0),),
    )
    seg = build_seg(volume, headers, segmentation)
    file_bytes(seg)
    file_bytes(build_sr(seg, headers, content))
    build_encapsulated_pdf(
        build_pdf(volume, headers[0], segmentation, content), headers[0], algorithm
    )
    return time.perf_counter() - started
