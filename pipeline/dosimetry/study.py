"""Dosimetry of one recognised NM/PET study against the planning CT and its segmentation.

Turns what the node holds after recognition (the planning :class:`~pipeline.volume.CTVolume`
and its label map, the emission series' headers with pixels, the emission study's CT as a
``CTVolume``) into images (:func:`ct_image`, :func:`nm_tomo_image`, :func:`pet_image`), runs
:mod:`pipeline.dosimetry.compute`, and writes the RT Dose data set on the emission grid (its
frame of reference is the SPECT/PET's own: SpatialTransformOfDose NONE).

Reading: PET slices go through the CT volume builder (:func:`pipeline.select.volume.
build_volume`: geometry checks, per-slice rescale, so the values are Bq/mL with Units BQML);
an NM RECON TOMO image is one multi-frame instance whose Detector Information Sequence gives
the first frame's position and the orientation, frames following along row x column by
Spacing Between Slices. Planar views (:class:`~pipeline.dosimetry.planar.PlanarFrames`), when
given, add a geometric-mean lung shunt beside the SPECT's (:mod:`pipeline.dosimetry.planar`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from pipeline.dosimetry.compute import DoseOutput, EmissionImages, maa_dosimetry, pet_dosimetry
from pipeline.dosimetry.masks import planning_regions
from pipeline.dosimetry.planar import PlanarFrames
from pipeline.dosimetry.register import RegistrationSettings
from pipeline.dosimetry.rtdose import DoseSummation, build_rt_dose
from pipeline.errors import InputDataError
from pipeline.quantify.constants import DosimetryConstants
from pipeline.select.volume import build_volume
from pipeline.structures import Structure
from pipeline.volume import CTVolume


class EmissionSeriesError(InputDataError):
    """An NM or PET series lacks what the dosimetry relies on; says what."""


@dataclass(frozen=True)
class StudyDose:
    """Dosimetry of one emission study and its RT Dose data set.

    Parameters
    ----------
    output : DoseOutput
        Result, dose grid and regions on the emission grid.
    rtdose : pydicom.Dataset
        RT Dose Storage data set of the dose grid, ready for ``save_as``.
    """

    output: DoseOutput
    rtdose: Dataset


def _image(array: NDArray[np.floating], spacing_zyx: Sequence[float], origin: Sequence[float],
           row: Sequence[float], column: Sequence[float]) -> sitk.Image:
    image = sitk.GetImageFromArray(np.asarray(array, dtype=np.float32))
    image.SetSpacing((float(spacing_zyx[2]), float(spacing_zyx[1]), float(spacing_zyx[0])))
    image.SetOrigin(tuple(float(v) for v in origin))
    r, c = np.asarray(row, float), np.asarray(column, float)
    n = np.cross(r, c)
    image.SetDirection(tuple(np.column_stack([r, c, n]).ravel()))
    return image


def ct_image(volume: CTVolume) -> sitk.Image:
    """A CT volume (or a PET volume built the same way) as a SimpleITK image, float32."""
    return _image(volume.hu, volume.spacing_mm, volume.origin_mm, volume.row_cosine,
                  volume.column_cosine)


def nm_tomo_image(ds: Dataset) -> sitk.Image:
    """An NM RECON TOMO multi-frame instance as an image of counts.

    Raises
    ------
    EmissionSeriesError
        If the instance is not a reconstruction or lacks its geometry.
    """
    image_type = [str(v).upper() for v in ds.get("ImageType", [])]
    if len(image_type) < 3 or image_type[2] not in ("RECON TOMO", "RECON GATED TOMO"):
        raise EmissionSeriesError(f"NM image type {'/'.join(image_type)} is not a "
                                  "tomographic reconstruction")
    detectors = ds.get("DetectorInformationSequence") or []
    geometry = detectors[0] if detectors else ds
    position = geometry.get("ImagePositionPatient") or ds.get("ImagePositionPatient")
    orientation = geometry.get("ImageOrientationPatient") or ds.get("ImageOrientationPatient")
    step = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness")
    if not position or not orientation or not step or "PixelSpacing" not in ds:
        raise EmissionSeriesError("NM reconstruction without position, orientation, pixel "
                                  "spacing or spacing between slices")
    counts = np.asarray(ds.pixel_array, dtype=np.float64)
    if counts.ndim == 2:
        counts = counts[None]
    counts = counts * float(ds.get("RescaleSlope", 1.0)) + float(ds.get("RescaleIntercept", 0.0))
    dz = float(step)
    if dz < 0:  # frames run against the normal
        counts, dz = counts[::-1], -dz
        normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
        position = list(np.asarray(position, float) - normal * dz * (counts.shape[0] - 1))
    dy, dx = (float(v) for v in ds.PixelSpacing)
    return _image(counts, (dz, dy, dx), position, orientation[:3], orientation[3:])


def pet_image(slices: Sequence[Dataset]) -> sitk.Image:
    """A PET series in Bq/mL as an image (slices checked and ordered by the CT builder).

    Raises
    ------
    EmissionSeriesError
        If Units is not BQML.
    """
    units = {str(ds.get("Units", "")).upper() for ds in slices}
    if units != {"BQML"}:
        raise EmissionSeriesError(f"PET Units {sorted(units)}: only BQML is quantitative here")
    return ct_image(build_volume(slices))


def _datetime(text: str) -> datetime:
    return datetime.strptime(text.split("+")[0].split("-")[0][:14].ljust(14, "0"),
                             "%Y%m%d%H%M%S")


def pet_hours_since_administration(ds: Dataset) -> float:
    """Hours from the Y-90 administration to the PET values' decay-correction reference.

    Decay Correction ADMIN: 0 (values already refer to the administration); START: from
    RadiopharmaceuticalStartDateTime to Series Date/Time (the acquisition start).

    Raises
    ------
    EmissionSeriesError
        For Decay Correction NONE or a missing time.
    """
    correction = str(ds.get("DecayCorrection", "")).upper()
    if correction == "ADMIN":
        return 0.0
    items = ds.get("RadiopharmaceuticalInformationSequence") or []
    start = items[0].get("RadiopharmaceuticalStartDateTime") if items else None
    if correction != "START" or not start or not ds.get("SeriesDate") \
            or not ds.get("SeriesTime"):
        raise EmissionSeriesError(
            f"PET Decay Correction {correction or 'absent'} with the times given: cannot refer "
            "the activity to the administration")
    reference = _datetime(str(ds.SeriesDate) + str(ds.SeriesTime).split(".")[0])
    return (reference - _datetime(str(start))).total_seconds() / 3600.0


def maa_study(planning: CTVolume, labelmap: NDArray[np.integer],
              labels: Mapping[int, Structure], spect: Dataset, spect_ct: CTVolume,
              administered_gbq: float, constants: DosimetryConstants, *, demo: bool,
              lung: NDArray[np.bool_] | None = None,
              settings: RegistrationSettings | None = None,
              planar: PlanarFrames | None = None) -> StudyDose:
    """Pre-treatment dosimetry of an MAA SPECT/CT, with its RT Dose.

    Parameters
    ----------
    planning : CTVolume
        The planning CT.
    labelmap, labels : ndarray, mapping
        Its segmentation (``SegmentationResult.labelmap`` and ``.labels``).
    spect : pydicom.Dataset
        The NM RECON TOMO instance, pixels included.
    spect_ct : CTVolume
        The SPECT/CT's CT.
    administered_gbq : float
        Planned injected activity, GBq.
    constants : DosimetryConstants
        ``QuantificationConfig.constants()``.
    demo : bool
        The segmentation is the demo model's (RT Dose says "not for clinical use").
    lung : ndarray of bool, optional
        Lung mask on the planning grid (default: found on the SPECT's CT).
    settings : RegistrationSettings, optional
        Registration settings.
    planar : PlanarFrames, optional
        Anterior/posterior planar views (their LSF is reported beside the SPECT's).
    """
    out = maa_dosimetry(EmissionImages(nm_tomo_image(spect), ct_image(spect_ct)),
                        ct_image(planning), planning_regions(labelmap, labels, lung=lung),
                        administered_gbq, constants, registration_settings=settings,
                        planar=planar)
    comment = f"Predicted from MAA SPECT, {administered_gbq:g} GBq, local deposition"
    rtdose = build_rt_dose(out.dose, spect, [spect], summation=DoseSummation.SIRT_PREDICTED,
                           comment=comment, demo=demo)
    return StudyDose(out, rtdose)


def y90_pet_study(planning: CTVolume, labelmap: NDArray[np.integer],
                  labels: Mapping[int, Structure], pet: Sequence[Dataset], pet_ct: CTVolume,
                  constants: DosimetryConstants, *, demo: bool,
                  administered_gbq: float | None = None, lung: NDArray[np.bool_] | None = None,
                  settings: RegistrationSettings | None = None) -> StudyDose:
    """Post-treatment dosimetry of a Y-90 PET/CT, with its RT Dose.

    Parameters are those of :func:`maa_study`, with ``pet`` the PET slices (pixels
    included) instead of the SPECT, and ``administered_gbq`` only reported.
    """
    hours = pet_hours_since_administration(pet[0])
    out = pet_dosimetry(EmissionImages(pet_image(pet), ct_image(pet_ct)), ct_image(planning),
                        planning_regions(labelmap, labels, lung=lung), hours, constants,
                        administered_gbq=administered_gbq, registration_settings=settings)
    rtdose = build_rt_dose(out.dose, pet[0], pet, summation=DoseSummation.SIRT_MEASURED,
                           comment="Measured on Y-90 PET, local deposition", demo=demo)
    return StudyDose(out, rtdose)
