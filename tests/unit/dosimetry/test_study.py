"""Reading NM RECON TOMO geometry and the PET decay reference (hand-built headers)."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, NuclearMedicineImageStorage, generate_uid

from pipeline.dosimetry.study import (
    EmissionSeriesError,
    nm_tomo_image,
    pet_hours_since_administration,
    pet_image,
)


def _nm(frames: np.ndarray, spacing_between_slices: float,
        image_type: str = "RECON TOMO") -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = NuclearMedicineImageStorage, generate_uid()
    ds.ImageType = ["ORIGINAL", "PRIMARY", image_type, "EMISSION"]
    ds.NumberOfFrames = frames.shape[0]
    ds.Rows, ds.Columns = frames.shape[1:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelSpacing = [3.0, 2.0]                       # between rows, between columns
    ds.SpacingBetweenSlices = spacing_between_slices
    detector = Dataset()
    detector.ImagePositionPatient = [-10.0, -20.0, -30.0]
    detector.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.DetectorInformationSequence = [detector]
    ds.PixelData = frames.astype(np.uint16).tobytes()
    return ds


def test_nm_frames_follow_the_normal() -> None:
    frames = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    image = nm_tomo_image(_nm(frames, 4.0))
    assert image.GetSize() == (5, 4, 3) and image.GetSpacing() == (2.0, 3.0, 4.0)
    # Frame 2, row 3, column 4 lies at IPP + 4 x 2 mm in x, 3 x 3 mm in y, 2 x 4 mm in z.
    assert image.TransformIndexToPhysicalPoint((4, 3, 2)) == (-2.0, -11.0, -22.0)
    assert image[4, 3, 2] == frames[2, 3, 4]


def test_nm_negative_spacing_puts_the_frames_in_ascending_order() -> None:
    frames = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    image = nm_tomo_image(_nm(frames, -4.0))
    # The frames ran towards -z: the last frame (index 2) is the lowest, at z = -38.
    assert image.GetSpacing()[2] == 4.0
    assert image.TransformIndexToPhysicalPoint((0, 0, 0)) == (-10.0, -20.0, -38.0)
    assert image[0, 0, 0] == frames[2, 0, 0] and image[0, 0, 2] == frames[0, 0, 0]


def test_nm_planar_or_incomplete_is_refused() -> None:
    with pytest.raises(EmissionSeriesError, match="not a tomographic"):
        nm_tomo_image(_nm(np.zeros((2, 4, 5)), 4.0, image_type="STATIC"))
    ds = _nm(np.zeros((2, 4, 5)), 4.0)
    del ds.SpacingBetweenSlices
    with pytest.raises(EmissionSeriesError, match="spacing between slices"):
        nm_tomo_image(ds)


def test_pet_decay_reference() -> None:
    ds = Dataset()
    ds.DecayCorrection = "ADMIN"
    assert pet_hours_since_administration(ds) == 0.0
    ds.DecayCorrection = "START"
    item = Dataset()
    item.RadiopharmaceuticalStartDateTime = "20250401093000"
    ds.RadiopharmaceuticalInformationSequence = [item]
    ds.SeriesDate, ds.SeriesTime = "20250402", "113000.000000"
    assert pet_hours_since_administration(ds) == 26.0        # 09:30 -> 11:30 next day
    ds.DecayCorrection = "NONE"
    with pytest.raises(EmissionSeriesError, match="NONE"):
        pet_hours_since_administration(ds)


def test_pet_other_than_bqml_is_refused() -> None:
    ds = Dataset()
    ds.Units = "CNTS"
    with pytest.raises(EmissionSeriesError, match="CNTS"):
        pet_image([ds])
