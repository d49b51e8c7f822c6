"""Real-world oddities derived from a small synthetic CT series, for the corpus tests.

Each deriver copies the base series (a folder of single-frame CT files) into a new folder
and changes it the way scanners, archives and anonymisers do. Pixel values are changed only
where the oddity is about them (rescale, padding, RGB); compressed and big-endian copies
hold the same pixels in another transfer syntax.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from pydicom.valuerep import format_number_as_ds

CT_TYPE2 = (
    "AccessionNumber", "AcquisitionNumber", "ClinicalTrialCoordinatingCenterName",
    "ClinicalTrialProtocolName", "ClinicalTrialSiteID", "ClinicalTrialSiteName",
    "ClinicalTrialTimePointID", "ContainerTypeCodeSequence", "ContrastBolusAgent",
    "InstanceNumber", "IssuerOfTheContainerIdentifierSequence", "KVP", "Manufacturer",
    "PatientBirthDate", "PatientID", "PatientName", "PatientSex", "PositionReferenceIndicator",
    "ReferringPhysicianName", "SeriesNumber", "SliceThickness", "StudyDate", "StudyID",
    "StudyTime",
)
"""Every top-level Type 2 attribute of the CT Image IOD (PS3.3 A.3, as highdicom tables it)."""

Change = Callable[[Dataset, int], Dataset | None]
"""Changes one file (the data set and its index in slice order); None drops the file."""


def files(folder: Path) -> list[Path]:
    """The DICOM files of a folder, in order of position along z (slice order)."""
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    return sorted(paths, key=lambda p: float(
        pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]))


def derive(base: Path, out: Path, change: Change) -> Path:
    """Write ``change`` of every file of ``base`` into ``out``; returns ``out``."""
    out.mkdir(parents=True)
    for k, path in enumerate(files(base)):
        ds = change(pydicom.dcmread(path), k)
        if ds is not None:
            ds.save_as(out / f"{k:04d}.dcm", enforce_file_format=ds.file_meta.get(
                "TransferSyntaxUID") != ExplicitVRBigEndian)
    return out


def empty_sop_class(ds: Dataset, k: int) -> Dataset:
    """SOP Class UID emptied by an anonymiser (the file meta keeps CT Image Storage)."""
    ds.SOPClassUID = ""
    return ds


def strip_type2(ds: Dataset, k: int) -> Dataset:
    """Every Type 2 attribute of the CT Image IOD absent."""
    for keyword in CT_TYPE2:
        if keyword in ds:
            del ds[keyword]
    return ds


def no_numbers(ds: Dataset, k: int) -> Dataset:
    """No Series Number, Instance Number, Slice Thickness or Patient's Sex."""
    for keyword in ("SeriesNumber", "InstanceNumber", "SliceThickness", "PatientSex"):
        if keyword in ds:
            del ds[keyword]
    return ds


def gantry_tilt(ds: Dataset, k: int) -> Dataset:
    """A 15 degree gantry tilt: each slice shifted along y by tan(15 deg) x its z."""
    ds.GantryDetectorTilt = 15.0
    x, y, z = (float(v) for v in ds.ImagePositionPatient)
    ds.ImagePositionPatient = [x, format_number_as_ds(y + np.tan(np.radians(15.0)) * z), z]
    return ds


def non_square_pixels(ds: Dataset, k: int) -> Dataset:
    """Rows 1.5 times as far apart as columns."""
    row, col = (float(v) for v in ds.PixelSpacing)
    ds.PixelSpacing = [row * 1.5, col]
    return ds


def duplicate_positions(ds: Dataset, k: int) -> Dataset:
    """Every tenth slice repeated at the position of the one before (a new SOP Instance)."""
    if k % 10 == 9:
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        thickness = float(ds.SliceThickness)
        ds.ImagePositionPatient = [x, y, z - thickness]
    return ds


def second_acquisition(ds: Dataset, k: int) -> Dataset:
    """A second acquisition of the same positions under the same Series Instance UID."""
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
        entropy_srcs=[str(ds.SOPInstanceUID), "second"])
    ds.AcquisitionNumber = int(ds.get("AcquisitionNumber") or 0) + 1
    return ds


def rgb(sop_class: str) -> Change:
    """An RGB copy of each slice (grey levels of a soft-tissue window) of the given SOP
    class: a secondary capture, or one that claims to be CT Image Storage."""
    def change(ds: Dataset, k: int) -> Dataset:
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        grey = np.clip((hu + 160.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
        ds.PixelData = np.repeat(grey[..., None], 3, axis=2).tobytes()
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit, ds.PixelRepresentation = 7, 0
        for keyword in ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"):
            if keyword in ds:
                del ds[keyword]
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
        return ds
    return change


def transfer_syntax(uid: str) -> Change:
    """The same pixels in another transfer syntax (compressed, deflated or big endian)."""
    def change(ds: Dataset, k: int) -> Dataset:
        if uid in (JPEG2000Lossless, JPEGLSLossless, RLELossless):
            ds.compress(uid)
        elif uid == ExplicitVRBigEndian:
            arr = ds.pixel_array
            ds.file_meta.TransferSyntaxUID = uid
            ds.PixelData = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
            ds.set_original_encoding(False, False)
        else:
            ds.file_meta.TransferSyntaxUID = uid
        return ds
    return change


def _restore(ds: Dataset, hu: np.ndarray, slope: float, intercept: float, signed: bool,
             bits: int) -> Dataset:
    stored = np.round((hu - intercept) / slope)
    dtype = np.int16 if signed else np.uint16
    ds.PixelData = stored.astype(dtype).tobytes()
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit = int(signed), bits, bits - 1
    return ds


def unusual_rescale(signed: bool) -> Change:
    """Stored values with slope 0.5 and an intercept of -2048 HU (signed) or -1024 HU
    (unsigned 12 bit); HU are the same."""
    def change(ds: Dataset, k: int) -> Dataset:
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        hu = np.clip(hu, -1024.0, 1023.0)
        return (_restore(ds, hu, 0.5, -2048.0, True, 16) if signed
                else _restore(ds, hu, 0.5, -1024.0, False, 12))
    return change


def padding(ds: Dataset, k: int) -> Dataset:
    """Air outside the body replaced by Pixel Padding Value -2000 (stored)."""
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    intercept = float(ds.RescaleIntercept)
    stored = np.round(hu - intercept)
    stored[hu < -950.0] = -2000
    ds.PixelData = stored.astype(np.int16).tobytes()
    ds.RescaleSlope, ds.PixelRepresentation = 1.0, 1
    ds.PixelPaddingValue = -2000
    ds["PixelPaddingValue"].VR = "SS"
    return ds


DERIVERS: dict[str, Change] = {
    "empty_sop_class": empty_sop_class,
    "type2_stripped": strip_type2,
    "no_series_instance_number_thickness_sex": no_numbers,
    "gantry_tilt": gantry_tilt,
    "non_square_pixels": non_square_pixels,
    "duplicate_positions": duplicate_positions,
    "rgb_secondary_capture": rgb(SecondaryCaptureImageStorage),
    "rgb_claiming_ct": rgb("1.2.840.10008.5.1.4.1.1.2"),
    "deflate": transfer_syntax(DeflatedExplicitVRLittleEndian),
    "big_endian": transfer_syntax(ExplicitVRBigEndian),
    "jpeg2000": transfer_syntax(JPEG2000Lossless),
    "jpeg_ls": transfer_syntax(JPEGLSLossless),
    "rle": transfer_syntax(RLELossless),
    "signed_unusual_rescale": unusual_rescale(signed=True),
    "unsigned_unusual_rescale": unusual_rescale(signed=False),
    "padding_value": padding,
}
"""Every derived oddity by name (the mixed series is made by :func:`mixed_series`)."""


def mixed_series(base: Path, out: Path) -> Path:
    """The base series and a second acquisition of it under one Series Instance UID."""
    derive(base, out / "first", lambda ds, k: ds)
    derive(base, out / "second", second_acquisition)
    return out
