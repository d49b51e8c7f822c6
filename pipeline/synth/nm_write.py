"""DICOM files of synthetic nuclear-medicine acquisitions: NM Image (SPECT reconstruction,
planar static views) and PET Image Storage.

- SPECT: one NM Image Storage instance (1.2.840.10008.5.1.4.1.1.20), multi-frame, ImageType
  ORIGINAL\\PRIMARY\\RECON TOMO\\EMISSION, one frame per axial slice (Slice Vector 1..N,
  slices ascending along z; the Detector Information Sequence item holds the IOP and the
  IPP of the first slice), pixel values = counts (uint16, no rescale: the counts are the
  stored values).
- Planar: one NM Image Storage instance, ImageType ORIGINAL\\PRIMARY\\STATIC\\EMISSION,
  two frames (Detector Vector 1, 2); detector 1 is the anterior view, detector 2 the
  posterior view (View Code Sequence of each Detector Information Sequence item).
- PET: PET Image Storage (1.2.840.10008.5.1.4.1.1.128), one file per axial slice, Units
  BQML, Decay Correction ADMIN (values are the activity concentration at the
  RadiopharmaceuticalStartDateTime), per-slice RescaleSlope.

Files are written in Explicit VR Little Endian; ImageComments says "synthetic phantom".
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import UID, NuclearMedicineImageStorage, PositronEmissionTomographyImageStorage

from .dicom_write import (
    SeriesContext,
    StudyContext,
    base_dataset,
    deterministic_uid,
    dicom_date,
    dicom_time,
    ds_float,
    set_monochrome_pixels,
)
from .render import Grid

Y90_HALF_LIFE_S = 230760.0
"""Y-90 half-life written into RadionuclideHalfLife, s (64.1 h)."""
Y90_POSITRON_FRACTION = 3.186e-5
"""Y-90 internal pair production branching ratio (RadionuclidePositronFraction)."""


def _code(value: str, meaning: str, scheme: str = "SCT") -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _patient_orientation(ds: Dataset) -> None:
    """NM/PET Patient Orientation: recumbent, supine, head first."""
    orientation = _code(codes.SCT.RecumbentBodyPosition.value, "recumbent")
    orientation.PatientOrientationModifierCodeSequence = Sequence(
        [_code(codes.SCT.Supine.value, "supine")])
    ds.PatientOrientationCodeSequence = Sequence([orientation])
    ds.PatientGantryRelationshipCodeSequence = Sequence(
        [_code(codes.SCT.Headfirst.value, "headfirst")])


def _pixels16(ds: Dataset, frames: NDArray[np.integer]) -> None:
    if int(frames.max(initial=0)) > 65535:
        raise ValueError("counts exceed 16 bits; lower the total counts")
    set_monochrome_pixels(ds, np.asarray(frames, dtype=np.uint16))


def _detector(view: Code | None) -> Dataset:
    """A Detector Information Sequence item (LEHR parallel-hole collimator)."""
    detector = Dataset()
    detector.CollimatorGridName = "LEHR"
    detector.CollimatorType = "PARA"
    detector.FieldOfViewShape = "RECTANGLE"
    detector.FieldOfViewDimensions = [540, 400]
    detector.FocalDistance = [0]
    detector.XFocusCenter = [0]
    detector.YFocusCenter = [0]
    detector.ZoomFactor = ["1", "1"]
    if view is not None:
        detector.ImagePositionPatient = None  # Type 2, empty for planar views
        detector.ImageOrientationPatient = None
        item = _code(view.value, view.meaning)
        item.ViewModifierCodeSequence = Sequence()
        detector.ViewCodeSequence = Sequence([item])
    return detector


def _nm_common(study: StudyContext, series: SeriesContext, image_type: list[str],
               n_frames: int, isotope: Dataset, energy: tuple[str, float, float],
               duration_ms: int) -> Dataset:
    sop_uid = deterministic_uid(series.series_instance_uid, 1)
    ds = base_dataset(study, series, NuclearMedicineImageStorage, sop_uid, modality="NM")
    ds.ImageType = image_type
    ds.AcquisitionDate = dicom_date(series.acquisition_time)
    ds.AcquisitionTime = dicom_time(series.acquisition_time)
    ds.ContentDate = dicom_date(series.acquisition_time)
    ds.ContentTime = dicom_time(series.acquisition_time)
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.NumberOfFrames = n_frames
    ds.CountsAccumulated = 0
    ds.ActualFrameDuration = duration_ms
    ds.AcquisitionContextSequence = Sequence()
    ds.LossyImageCompression = "00"
    window = Dataset()
    limits = Dataset()
    limits.EnergyWindowLowerLimit = ds_float(energy[1])
    limits.EnergyWindowUpperLimit = ds_float(energy[2])
    window.EnergyWindowRangeSequence = Sequence([limits])
    window.EnergyWindowName = energy[0]
    ds.EnergyWindowInformationSequence = Sequence([window])
    ds.RadiopharmaceuticalInformationSequence = Sequence([isotope])
    _patient_orientation(ds)
    return ds


def tc99m_maa(injected_mbq: float, start: datetime) -> Dataset:
    """Radiopharmaceutical Information Sequence item of a Tc-99m MAA injection (NM: MBq)."""
    item = Dataset()
    item.RadionuclideCodeSequence = Sequence([_code("72454006", "^99m^Technetium")])
    item.RadiopharmaceuticalRoute = "intra-arterial"
    item.RadiopharmaceuticalStartTime = dicom_time(start)
    item.RadionuclideTotalDose = ds_float(injected_mbq)
    item.Radiopharmaceutical = "Tc-99m MAA"
    item.RadiopharmaceuticalCodeSequence = Sequence(
        [_code(codes.SCT.TechnetiumTc99mAggregatedAlbumin.value,
               "Technetium Tc^99m^ aggregated albumin")])
    item.AdministrationRouteCodeSequence = Sequence(
        [_code(codes.SCT.IntraArterialRoute.value, "Intra-arterial route")])
    return item


def spect_dataset(study: StudyContext, series: SeriesContext, counts: NDArray[np.integer],
                  grid: Grid, *, fwhm_mm: float, injected_mbq: float,
                  injection_time: datetime) -> Dataset:
    """A reconstructed SPECT (NM Image, RECON TOMO), one frame per slice of ``grid``.

    Parameters
    ----------
    counts : ndarray, shape ``grid.shape_zyx``
        Counts per voxel (stored as they are).
    grid : Grid
        Axial grid in the NM frame (slices ascending along the normal).
    fwhm_mm : float
        System resolution, written in the series description and ImageComments only.
    injected_mbq : float
        Tc-99m MAA activity (RadionuclideTotalDose, MBq).
    injection_time : datetime
        Radiopharmaceutical start.
    """
    n = grid.shape_zyx[0]
    ds = _nm_common(study, series, ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"], n,
                    tc99m_maa(injected_mbq, injection_time), ("Tc99m", 126.0, 154.0), 20000)
    ds.ImageComments += f"; SPECT, Gaussian resolution FWHM {fwhm_mm:g} mm; pixel = counts"
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    del ds.ActualFrameDuration  # only for STATIC / WHOLE BODY images
    ds.FrameIncrementPointer = 0x00540080
    ds.NumberOfEnergyWindows = 1
    ds.NumberOfDetectors = 1
    ds.NumberOfRotations = 1
    ds.SliceVector = list(range(1, n + 1))
    ds.NumberOfSlices = n
    dz, dy, dx = grid.spacing_zyx_mm
    ds.PixelSpacing = [ds_float(dy), ds_float(dx)]
    ds.SliceThickness = ds_float(dz)
    ds.SpacingBetweenSlices = ds_float(dz)
    ds.ReconstructionDiameter = ds_float(dx * grid.shape_zyx[2])
    ds.ConvolutionKernel = "GAUSS12"
    detector = _detector(None)
    detector.ImagePositionPatient = [ds_float(v) for v in grid.origin_mm]
    detector.ImageOrientationPatient = [ds_float(v) for v in
                                        (*grid.row_cosine, *grid.column_cosine)]
    ds.DetectorInformationSequence = Sequence([detector])
    rotation = Dataset()
    rotation.StartAngle = "0"
    rotation.AngularStep = "3"
    rotation.RotationDirection = "CW"
    rotation.ScanArc = "360"
    rotation.ActualFrameDuration = 20000
    rotation.NumberOfFramesInRotation = 60
    rotation.TableTraverse = "0"
    rotation.RadialPosition = ["250"]
    ds.RotationInformationSequence = Sequence([rotation])
    ds.TypeOfDetectorMotion = "STEP AND SHOOT"
    ds.CountsAccumulated = int(np.sum(counts))
    _pixels16(ds, counts)
    return ds


def planar_dataset(study: StudyContext, series: SeriesContext, anterior: NDArray[np.integer],
                   posterior: NDArray[np.integer], pixel_mm: tuple[float, float], *,
                   injected_mbq: float, injection_time: datetime,
                   duration_ms: int = 300000) -> Dataset:
    """Anterior and posterior static planar views (NM Image, STATIC), two frames.

    Parameters
    ----------
    anterior, posterior : ndarray, shape (rows, columns)
        Counts; frame 1 (detector 1) anterior, frame 2 (detector 2) posterior.
    pixel_mm : tuple of float
        Row and column pixel spacing, mm.
    """
    ds = _nm_common(study, series, ["ORIGINAL", "PRIMARY", "STATIC", "EMISSION"], 2,
                    tc99m_maa(injected_mbq, injection_time), ("Tc99m", 126.0, 154.0),
                    duration_ms)
    ds.ImageComments += "; planar static, frame 1 anterior, frame 2 posterior"
    ds.FrameIncrementPointer = [0x00540010, 0x00540020]
    ds.EnergyWindowVector = [1, 1]
    ds.NumberOfEnergyWindows = 1
    ds.DetectorVector = [1, 2]
    ds.NumberOfDetectors = 2
    ds.PixelSpacing = [ds_float(pixel_mm[0]), ds_float(pixel_mm[1])]
    ds.DetectorInformationSequence = Sequence(
        [_detector(codes.SCT.AnteriorProjection), _detector(codes.SCT.PosteriorProjection)])
    ds.CountsAccumulated = int(np.sum(anterior) + np.sum(posterior))
    _pixels16(ds, np.stack([anterior, posterior]))
    return ds


def y90_microspheres(administered_gbq: float, start: datetime) -> Dataset:
    """Radiopharmaceutical Information Sequence item of a Y-90 microsphere administration
    (PET: RadionuclideTotalDose in Bq)."""
    item = Dataset()
    item.RadionuclideCodeSequence = Sequence([_code("14691008", "^90^Yttrium")])
    item.RadiopharmaceuticalRoute = "intra-arterial"
    item.RadiopharmaceuticalStartTime = dicom_time(start)
    item.RadiopharmaceuticalStartDateTime = start.strftime("%Y%m%d%H%M%S")
    item.RadionuclideTotalDose = ds_float(administered_gbq * 1e9)
    item.RadionuclideHalfLife = ds_float(Y90_HALF_LIFE_S)
    item.RadionuclidePositronFraction = ds_float(Y90_POSITRON_FRACTION)
    item.Radiopharmaceutical = "Y-90 microspheres"
    item.RadiopharmaceuticalCodeSequence = Sequence(
        [_code(codes.SCT.Yttrium90Microspheres.value, "Yttrium^90^ microspheres")])
    item.AdministrationRouteCodeSequence = Sequence(
        [_code(codes.SCT.IntraArterialRoute.value, "Intra-arterial route")])
    return item


def pet_series(study: StudyContext, series: SeriesContext, bq_per_ml: NDArray[np.floating],
               grid: Grid, *, fwhm_mm: float, administered_gbq: float,
               administration: datetime, duration_s: float) -> list[Dataset]:
    """One PET Image Storage dataset per slice, BQML decay-corrected to the administration.

    Parameters
    ----------
    bq_per_ml : ndarray, shape ``grid.shape_zyx``
        Activity concentration at the administration time, Bq/mL (>= 0).
    grid : Grid
        Axial grid in the PET frame.
    fwhm_mm : float
        System resolution (ImageComments only).
    administered_gbq : float
        RadionuclideTotalDose (written in Bq).
    administration : datetime
        RadiopharmaceuticalStartDateTime.
    duration_s : float
        Acquisition duration (ActualFrameDuration).
    """
    start = series.acquisition_time
    elapsed = (start - administration).total_seconds()
    decay_factor = math.exp(math.log(2.0) * elapsed / Y90_HALF_LIFE_S)
    isotope = y90_microspheres(administered_gbq, administration)
    out = []
    n = grid.shape_zyx[0]
    dz, dy, dx = grid.spacing_zyx_mm
    for k in range(n):
        sop_uid = deterministic_uid(series.series_instance_uid, k)
        ds = base_dataset(study, series, PositronEmissionTomographyImageStorage, sop_uid,
                          modality="PT")
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.ImageComments += f"; Y-90 PET, Gaussian resolution FWHM {fwhm_mm:g} mm"
        ds.AcquisitionDate = dicom_date(start)
        ds.AcquisitionTime = dicom_time(start)
        ds.ContentDate = dicom_date(start)
        ds.ContentTime = dicom_time(start)
        ds.InstanceNumber = k + 1
        ds.ImageIndex = k + 1
        ds.FrameOfReferenceUID = study.frame_of_reference_uid
        ds.PositionReferenceIndicator = ""
        ds.Units = "BQML"
        ds.CountsSource = "EMISSION"
        ds.SeriesType = ["STATIC", "IMAGE"]
        ds.CorrectedImage = ["DECY", "ATTN", "SCAT", "RAN", "NORM"]
        ds.DecayCorrection = "ADMIN"
        ds.DecayFactor = ds_float(decay_factor)
        ds.FrameReferenceTime = "0"
        ds.ActualFrameDuration = round(duration_s * 1000)
        ds.ReconstructionMethod = "OSEM synthetic Gaussian"
        ds.AttenuationCorrectionMethod = "CT"
        ds.NumberOfSlices = n
        ds.CollimatorType = "NONE"
        ds.RadiopharmaceuticalInformationSequence = Sequence([isotope])
        _patient_orientation(ds)
        ipp = grid.slice_position(k)
        ds.ImagePositionPatient = [ds_float(v) for v in ipp]
        ds.ImageOrientationPatient = [ds_float(v) for v in
                                      (*grid.row_cosine, *grid.column_cosine)]
        ds.PixelSpacing = [ds_float(dy), ds_float(dx)]
        ds.SliceThickness = ds_float(dz)
        ds.SliceLocation = ds_float(float(ipp @ grid.normal))
        plane = np.clip(np.asarray(bq_per_ml[k], float), 0.0, None)
        peak = float(plane.max(initial=0.0))
        slope = peak / 32767.0 if peak > 0 else 1.0
        set_monochrome_pixels(ds, np.rint(plane / slope).astype(np.int16))
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = f"{slope:.10g}"[:16]
        ds.LossyImageCompression = "00"
        ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_uid)
        out.append(ds)
    return out
