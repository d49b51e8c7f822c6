"""Small synthetic CT series written with pydicom, for the encode tests.

Shared by the unit and integration tests of ``pipeline.encode`` (the integration conftest
loads this file by path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import format_number_as_ds

from pipeline.encode.content import AlgorithmInfo, SegmentationContent
from pipeline.structures import DEMO_LABELS, Structure
from pipeline.volume import CTVolume

SHAPE = (10, 32, 30)
"""(z, y, x) size of the unit tests' series."""


@dataclass(frozen=True)
class Geometry:
    """Orientation and spacing of a synthetic series.

    Parameters
    ----------
    row_cosine, column_cosine : tuple of float
        ImageOrientationPatient halves.
    spacing_mm : tuple of float
        (slice, row, column) spacing, mm.
    origin_mm : tuple of float
        Position of the first slice's first pixel, mm.
    reverse_instances : bool
        Number instances (and list files) against the slice order, as a feet-first
        acquisition would.
    """

    row_cosine: tuple[float, float, float] = (1.0, 0.0, 0.0)
    column_cosine: tuple[float, float, float] = (0.0, 1.0, 0.0)
    spacing_mm: tuple[float, float, float] = (2.5, 0.8, 0.7)
    origin_mm: tuple[float, float, float] = (-100.0, -120.0, -300.0)
    reverse_instances: bool = False


def write_series(
    folder: Path, shape: tuple[int, int, int], geometry: Geometry = Geometry(), seed: int = 0
) -> tuple[CTVolume, list[Dataset]]:
    """Write a CT series and return its volume and headers in slice order.

    Parameters
    ----------
    folder : Path
        Output folder (created).
    shape : tuple of int
        (z, y, x) size.
    geometry : Geometry
        Orientation, spacing and origin.
    seed : int
        Seed of the noise in the pixel data.

    Returns
    -------
    tuple[CTVolume, list[pydicom.Dataset]]
        The volume (slices ascending along the normal) and the written datasets.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    hu = (rng.normal(40, 20, size=shape)).astype(np.float32)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rc, cc = np.asarray(geometry.row_cosine), np.asarray(geometry.column_cosine)
    normal = np.cross(rc, cc)
    dz, dy, dx = geometry.spacing_mm
    datasets: list[Dataset] = []
    paths: list[str] = []
    uids: list[str] = []
    for k in range(nz):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        uid = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, uid
        ds.PatientName, ds.PatientID = "Synthetic^Encode", "ENC001"
        ds.PatientBirthDate, ds.PatientSex = "19600101", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame, ""
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20260101", "120000", "1"
        ds.AccessionNumber, ds.ReferringPhysicianName = "A1", ""
        ds.Modality, ds.Manufacturer, ds.SeriesNumber = "CT", "Synth", 3
        ds.SeriesDescription = "Portal venous 2.5mm"
        ds.InstanceNumber = nz - k if geometry.reverse_instances else k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.KVP, ds.AcquisitionNumber = 120, 1
        ds.ImageOrientationPatient = [
            format_number_as_ds(float(v)) for v in (*geometry.row_cosine, *geometry.column_cosine)]
        ds.ImagePositionPatient = [
            format_number_as_ds(float(v)) for v in np.asarray(geometry.origin_mm) + normal * dz * k]
        ds.SliceThickness, ds.PixelSpacing = dz, [dy, dx]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = ny, nx
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        ds.PixelData = (hu[k] + 1024).astype(np.int16).tobytes()
        path = folder / f"ct_{ds.InstanceNumber:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        datasets.append(ds)
        paths.append(str(path))
        uids.append(uid)
    volume = CTVolume(
        hu=hu, spacing_mm=geometry.spacing_mm, origin_mm=geometry.origin_mm,
        row_cosine=geometry.row_cosine, column_cosine=geometry.column_cosine,
        sop_instance_uids=uids, series_instance_uid=series, study_instance_uid=study,
        frame_of_reference_uid=frame, slice_thickness_mm=dz, source_paths=paths,
    )
    return volume, [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]


def phantom_labels(shape: tuple[int, int, int]) -> tuple[NDArray[np.uint8], NDArray[np.int32]]:
    """An asymmetric label map with all demo labels and two lesions.

    Parameters
    ----------
    shape : tuple of int
        (z, y, x), at least (8, 24, 24).

    Returns
    -------
    tuple[ndarray, ndarray]
        Label map (uint8, DEMO_LABELS values) and lesion map (int32: 1, 2).
    """
    nz, ny, nx = shape
    lab = np.zeros(shape, np.uint8)
    lz, ly, lx = slice(1, nz - 2), slice(2, ny * 3 // 4), slice(3, nx * 5 // 6)
    lab[lz, ly, lx] = 5
    # Eight Couinaud segments as blocks of an asymmetric liver.
    xs = np.linspace(lx.start, lx.stop, 5).astype(int)
    zs = np.linspace(lz.start, lz.stop, 3).astype(int)
    label = 1
    for iz in range(2):
        for ix in range(4):
            lab[zs[iz]:zs[iz + 1], ly, xs[ix]:xs[ix + 1]] = label
            label += 1
    lesions = np.zeros(shape, np.int32)
    lesions[2:4, 4:7, 5:9] = 1
    lesions[nz - 4:nz - 3, ny // 2:ny // 2 + 3, nx // 2:nx // 2 + 2] = 2
    lab[lesions > 0] = 9
    lab[1:nz - 1, ny - 4:ny - 2, 1:3] = 12
    lab[2:5, ny - 6, nx - 3] = 10
    lab[3, 1, 1] = 11
    return lab, lesions


def demo_segmentation(shape: tuple[int, int, int], is_demo: bool = True) -> SegmentationContent:
    """The phantom as :class:`SegmentationContent` with demo labels."""
    lab, lesions = phantom_labels(shape)
    algorithm = AlgorithmInfo("dicomnode-demo-nnunet", "0.1", is_demo, "ab" * 32)
    labels: dict[int, Structure] = dict(DEMO_LABELS)
    return SegmentationContent(lab, labels, algorithm, lesions)
