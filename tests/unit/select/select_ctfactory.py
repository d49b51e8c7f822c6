"""Small CT series written with pydicom for the selection tests.

A phantom abdomen is evaluated at each pixel's patient coordinates (so any orientation
works): a fat body ellipse, a liver ellipsoid on the patient's right with a portal vein,
the vertebral body, the aorta in front of it, lungs above the liver dome. HU of aorta,
portal vein and liver follow the phase. Geometry faults are made by editing the slice list
(:class:`SliceSpec`) before writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

PHASE_HU = {
    "native": (40.0, 40.0, 60.0),
    "arterial": (320.0, 110.0, 75.0),
    "portal_venous": (175.0, 195.0, 115.0),
    "delayed": (100.0, 100.0, 95.0),
}
"""(aorta, portal vein, liver) HU per phase."""

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class SliceSpec:
    """One slice: position, orientation, matrix, rescale and header extras."""

    position: tuple[float, float, float]
    orientation: tuple[float, ...] = AXIAL
    rows: int = 96
    columns: int = 96
    pixel_spacing: tuple[float, float] = (4.0, 4.0)
    slope: float = 1.0
    intercept: float = -1024.0
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SeriesSpec:
    """Series-level header values."""

    description: str = "Abdomen 1.0 B30f"
    phase: str = "portal_venous"
    series_number: int = 3
    thickness: float = 1.0
    kernel: str = "B30f"
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "AXIAL")
    sop_class: UID = CTImageStorage
    extra: dict[str, object] = field(default_factory=dict)
    liver_z: tuple[float, float] = (-60.0, 60.0)


def axial_slices(
    n: int = 40, spacing: float = 5.0, z0: float = -100.0, **kw: object
) -> list[SliceSpec]:
    """``n`` axial slices centred in-plane, ``spacing`` mm apart from ``z0``."""
    rows = int(kw.get("rows", 96))  # type: ignore[call-overload]
    cols = int(kw.get("columns", 96))  # type: ignore[call-overload]
    ps = kw.get("pixel_spacing", (4.0, 4.0))
    x0 = -cols * ps[1] / 2  # type: ignore[index]
    y0 = -rows * ps[0] / 2  # type: ignore[index]
    return [SliceSpec((x0, y0, z0 + k * spacing), **kw) for k in range(n)]  # type: ignore[arg-type]


def phantom_hu(
    x: NDArray[np.float64], y: NDArray[np.float64], z: NDArray[np.float64], phase: str,
    liver_z: tuple[float, float],
) -> NDArray[np.float64]:
    """Phantom HU at patient coordinates (mm, LPS)."""
    aorta, portal, liver = PHASE_HU[phase]
    hu = np.full(x.shape, -1000.0)
    body = (x / 170.0) ** 2 + (y / 130.0) ** 2 <= 1
    hu[body] = -90.0
    lo, hi = liver_z
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    taper = np.clip(1 - ((z - mid) / half) ** 2, 0, None)
    liver_mask = ((x + 65) / 85.0) ** 2 + ((y + 5) / 75.0) ** 2 <= taper
    hu[liver_mask] = liver
    hu[liver_mask & ((x + 45) ** 2 + y**2 <= 9.0**2)] = portal
    hu[body & (z > hi - 10) & (((np.abs(x) - 70) / 55.0) ** 2 + ((y - 20) / 70.0) ** 2 <= 1)
       & ~liver_mask] = -850.0
    spine_r2 = x**2 + (y - 75) ** 2
    hu[spine_r2 <= 20.0**2] = 700.0  # cortex
    hu[spine_r2 <= 17.0**2] = 210.0  # marrow
    hu[((x - 22) ** 2 + (y - 30) ** 2) <= 13.0**2] = aorta
    return hu


def write_series(
    out: Path,
    slices: Sequence[SliceSpec],
    series: SeriesSpec | None = None,
    seed: int = 0,
    study_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
) -> list[Path]:
    """Write one CT series, one file per slice; returns the paths in slice-list order."""
    spec = series or SeriesSpec()
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    study = study_uid or generate_uid()
    frame = frame_of_reference_uid or generate_uid()
    paths = []
    for k, s in enumerate(slices):
        iop = np.asarray(s.orientation, float)
        r, c = np.mgrid[0 : s.rows, 0 : s.columns].astype(float)
        pts = (np.asarray(s.position)[:, None, None] + iop[:3, None, None] * c * s.pixel_spacing[1]
               + iop[3:, None, None] * r * s.pixel_spacing[0])
        hu = phantom_hu(pts[0], pts[1], pts[2], spec.phase, spec.liver_z)
        hu += rng.normal(0, 8.0, hu.shape)
        stored = np.clip(np.round((hu - s.intercept) / s.slope), 0, 65535).astype(np.uint16)
        ds = _header(spec, s, k, series_uid, study, frame)
        ds.PixelData = stored.tobytes()
        path = out / f"{series_uid[-12:]}_{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _header(
    spec: SeriesSpec, s: SliceSpec, k: int, series_uid: str, study: str, frame: str
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = spec.sop_class
    sop_uid = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.SOPClassUID = spec.sop_class
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "CT"
    ds.PatientID = "SELECT-TEST"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame
    ds.SeriesNumber = spec.series_number
    ds.InstanceNumber = k + 1
    ds.SeriesDescription = spec.description
    ds.ImageType = list(spec.image_type)
    ds.ConvolutionKernel = spec.kernel
    ds.SliceThickness = spec.thickness
    ds.ImagePositionPatient = [round(v, 4) for v in s.position]
    ds.ImageOrientationPatient = list(s.orientation)
    ds.PixelSpacing = list(s.pixel_spacing)
    ds.Rows, ds.Columns = s.rows, s.columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope = s.slope
    ds.RescaleIntercept = s.intercept
    for key, value in {**spec.extra, **s.extra}.items():
        setattr(ds, key, value)
    return ds


def with_changes(slices: Sequence[SliceSpec], index: int, **changes: object) -> list[SliceSpec]:
    """Copy of the slice list with one slice changed."""
    out = list(slices)
    out[index] = replace(out[index], **changes)  # type: ignore[arg-type]
    return out
