"""Lung shunt from planar anterior/posterior MAA views, with regions carried from the SPECT.

A planar view's header gives its pixel spacing but no position in the patient, so the lung
and liver regions cannot be drawn on it from the CT directly. They come by registration:

1. the SPECT counts are projected along the anterior-posterior axis (:func:`ap_projection`,
   display orientation: row 0 at the head, columns running to the patient's left);
2. the geometric-mean image of the views, ``sqrt(anterior x posterior mirrored)``, is matched
   to that projection by a 2-D translation (SimpleITK, correlation metric; both are images
   of the same tracer, so only position and scale of the counts differ);
3. the lung and liver regions on the SPECT grid, projected the same way, are resampled
   onto the planar grid with that translation (nearest neighbour) and the lung shunt is the
   geometric mean of the counts in them (:func:`pipeline.dosimetry.maa.lung_shunt_planar`;
   the liver's projection is left out of the lung region at the dome).

Views as stored: the anterior view is taken as seen from the front (columns run to the
patient's left), the posterior view as seen from behind (columns run to the patient's
right), rows from head to feet — the usual way a dual-head camera stores a static pair. A
pair stored otherwise gives a poor match and the planar figure is refused with the match's
NCC (:class:`PlanarRegistrationError`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from pipeline.dosimetry import maa
from pipeline.errors import InputDataError

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]

MIN_PLANAR_NCC = 0.8
"""Lowest normalised cross-correlation of the matched images for the planar LSF to count."""


class PlanarRegistrationError(InputDataError):
    """The planar views cannot be used (unreadable, or not matched to the SPECT); says why."""


@dataclass(frozen=True)
class PlanarFrames:
    """An anterior/posterior pair of planar views as stored.

    Parameters
    ----------
    anterior, posterior : ndarray, shape (rows, columns)
        Counts per pixel (rows head to feet; anterior columns to the patient's left,
        posterior columns to the patient's right).
    pixel_mm : tuple of float
        Row spacing and column spacing, mm (PixelSpacing).
    """

    anterior: FloatArray
    posterior: FloatArray
    pixel_mm: tuple[float, float]


@dataclass(frozen=True)
class PlanarRegistration:
    """Where the SPECT's projection lies on the planar grid.

    Parameters
    ----------
    translation_mm : tuple of float
        (column, row) shift, mm, from a planar pixel's position to the same point of the
        SPECT projection (SimpleITK's fixed-to-moving convention; both grids start at 0).
    ncc : float
        Normalised cross-correlation of the geometric-mean image and the moved projection
        where they overlap, -1 to 1.
    stop_condition : str
        The optimiser's reason for stopping.
    """

    translation_mm: tuple[float, float]
    ncc: float
    stop_condition: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {"translation_mm": list(self.translation_mm), "ncc": self.ncc,
                "stop_condition": self.stop_condition}


@dataclass(frozen=True)
class PlanarShunt:
    """Lung shunt fraction from planar views, and the match it relied on.

    Parameters
    ----------
    shunt : LungShunt
        LSF with the geometric-mean counts of lungs and liver.
    registration : PlanarRegistration
        The match of the views to the SPECT.
    """

    shunt: maa.LungShunt
    registration: PlanarRegistration


def planar_frames(ds: Dataset, anterior_frame: int, posterior_frame: int) -> PlanarFrames:
    """The anterior and posterior frames of an NM Image (static/whole-body) instance.

    Parameters
    ----------
    ds : pydicom.Dataset
        The NM Image, pixels included.
    anterior_frame, posterior_frame : int
        1-based frame numbers (:class:`pipeline.select.nm_series.PlanarView`).

    Raises
    ------
    PlanarRegistrationError
        If the instance lacks PixelSpacing or the frames, or its pixels cannot be decoded.
    """
    if "PixelSpacing" not in ds:
        raise PlanarRegistrationError("planar NM image without PixelSpacing")
    try:
        pixels = np.asarray(ds.pixel_array, dtype=np.float64)
    except (AttributeError, ValueError, RuntimeError) as exc:
        raise PlanarRegistrationError(f"planar NM pixels cannot be decoded: {exc}") from exc
    if pixels.ndim == 2:
        pixels = pixels[None]
    if max(anterior_frame, posterior_frame) > pixels.shape[0]:
        raise PlanarRegistrationError(
            f"planar NM image has {pixels.shape[0]} frames; views name frames "
            f"{anterior_frame} and {posterior_frame}")
    slope = float(ds.get("RescaleSlope", 1.0))
    intercept = float(ds.get("RescaleIntercept", 0.0))
    row_mm, column_mm = (float(v) for v in ds.PixelSpacing)
    return PlanarFrames(pixels[anterior_frame - 1] * slope + intercept,
                        pixels[posterior_frame - 1] * slope + intercept, (row_mm, column_mm))


def _axial_flips(image: sitk.Image) -> tuple[bool, bool, bool]:
    """Which of the image's (x, y, z) index axes run against LPS +x, +y, +z."""
    direction = np.asarray(image.GetDirection(), float).reshape(3, 3)
    if not np.allclose(np.abs(direction), np.eye(3), atol=1e-3):
        raise PlanarRegistrationError("the SPECT is not an axial reconstruction: its "
                                      "projection cannot be compared with planar views")
    diagonal = np.diag(direction)
    return bool(diagonal[0] < 0), bool(diagonal[1] < 0), bool(diagonal[2] < 0)


def ap_projection(volume: NDArray[np.generic], image: sitk.Image) -> FloatArray:
    """Anterior projection of an array on ``image``'s grid, in display orientation.

    Parameters
    ----------
    volume : ndarray, shape (z, y, x)
        Counts (summed) or a region (any voxel along the ray) on the grid of ``image``.
    image : SimpleITK.Image
        The axial grid (direction a signed identity).

    Returns
    -------
    ndarray of float64, shape (z, x)
        Row 0 the most superior slice; columns run to the patient's left. Regions give 0/1.
    """
    flip_x, flip_y, flip_z = _axial_flips(image)
    array = np.asarray(volume)
    array = array[:, :, ::-1] if flip_x else array
    array = array[:, ::-1, :] if flip_y else array
    array = array if flip_z else array[::-1]
    if array.dtype == np.bool_:
        return np.any(array, axis=1).astype(np.float64)
    return np.sum(array, axis=1, dtype=np.float64)


def _image_2d(array: FloatArray, pixel_mm: tuple[float, float]) -> sitk.Image:
    image = sitk.GetImageFromArray(np.asarray(array, dtype=np.float32))
    image.SetSpacing((float(pixel_mm[1]), float(pixel_mm[0])))
    return image


def _centroid_mm(array: FloatArray, pixel_mm: tuple[float, float]) -> NDArray[np.float64]:
    weights = np.clip(array, 0.0, None)
    total = float(weights.sum())
    if total <= 0.0:
        raise PlanarRegistrationError("an image to match holds no counts")
    rows, columns = np.indices(array.shape)
    return np.array([float((columns * weights).sum()) / total * pixel_mm[1],
                     float((rows * weights).sum()) / total * pixel_mm[0]])


def _ncc(fixed: sitk.Image, moving: sitk.Image, transform: sitk.Transform) -> float:
    moved = sitk.Resample(moving, fixed, transform, sitk.sitkLinear, np.nan, sitk.sitkFloat64)
    a = sitk.GetArrayViewFromImage(fixed).astype(np.float64)
    b = sitk.GetArrayViewFromImage(moved)
    inside = np.isfinite(b)
    if inside.sum() < 16:
        return float("nan")
    a, b = a[inside] - a[inside].mean(), b[inside] - b[inside].mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def register_planar(geometric_mean: FloatArray, planar_mm: tuple[float, float],
                    projection: FloatArray, projection_mm: tuple[float, float], *,
                    min_ncc: float = MIN_PLANAR_NCC) -> PlanarRegistration:
    """Match a geometric-mean planar image to the SPECT's projection by a 2-D translation.

    Parameters
    ----------
    geometric_mean : ndarray, shape (rows, columns)
        ``sqrt(anterior x posterior mirrored)``, anterior orientation.
    planar_mm : tuple of float
        Its row and column spacing, mm.
    projection : ndarray, shape (z, x)
        :func:`ap_projection` of the SPECT counts.
    projection_mm : tuple of float
        Its row (slice) and column spacing, mm.
    min_ncc : float
        Lowest NCC accepted.

    Returns
    -------
    PlanarRegistration
        The translation and its NCC.

    Raises
    ------
    PlanarRegistrationError
        If the optimiser fails or the NCC is below ``min_ncc``.
    """
    fixed = _image_2d(geometric_mean, planar_mm)
    moving = _image_2d(projection, projection_mm)
    start = _centroid_mm(projection, projection_mm) - _centroid_mm(geometric_mean, planar_mm)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsCorrelation()
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=8.0, minStep=0.05, numberOfIterations=200, relaxationFactor=0.5)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2.0, 1.0, 0.0])
    method.SetInitialTransform(sitk.TranslationTransform(2, [float(v) for v in start]),
                               inPlace=False)
    try:
        transform = method.Execute(fixed, moving)
    except RuntimeError as exc:
        raise PlanarRegistrationError(f"planar views not matched to the SPECT: {exc}") from exc
    ncc = _ncc(fixed, moving, transform)
    if not ncc >= min_ncc:
        raise PlanarRegistrationError(
            f"planar views match the SPECT's projection with NCC {ncc:.2f} (< {min_ncc:g}): "
            "other views, another patient position or another orientation than assumed")
    shift = sitk.TranslationTransform(transform.GetNthTransform(0)
                                      if isinstance(transform, sitk.CompositeTransform)
                                      else transform).GetOffset()
    return PlanarRegistration((float(shift[0]), float(shift[1])), ncc,
                              method.GetOptimizerStopConditionDescription())


def _region_on_planar(region: FloatArray, projection_mm: tuple[float, float],
                      shape: tuple[int, ...], planar_mm: tuple[float, float],
                      registration: PlanarRegistration) -> BoolArray:
    reference = _image_2d(np.zeros(shape), planar_mm)
    transform = sitk.TranslationTransform(2, registration.translation_mm)
    moved = sitk.Resample(_image_2d(region, projection_mm), reference, transform,
                          sitk.sitkNearestNeighbor, 0.0)
    return sitk.GetArrayFromImage(moved) > 0.5


def planar_lung_shunt(frames: PlanarFrames, counts: NDArray[np.floating],
                      lung: BoolArray, liver: BoolArray, grid: sitk.Image, *,
                      min_ncc: float = MIN_PLANAR_NCC) -> PlanarShunt:
    """Lung shunt fraction from planar views, regions carried from the SPECT grid.

    Parameters
    ----------
    frames : PlanarFrames
        The anterior/posterior pair.
    counts : ndarray, shape (z, y, x)
        SPECT counts on ``grid``.
    lung, liver : ndarray of bool, shape (z, y, x)
        Regions on ``grid`` (:func:`pipeline.dosimetry.masks.regions_on_grid`).
    grid : SimpleITK.Image
        The SPECT image (geometry).
    min_ncc : float
        Lowest NCC of the match accepted.

    Returns
    -------
    PlanarShunt
        LSF by geometric mean and the match.

    Raises
    ------
    PlanarRegistrationError
        If the views cannot be matched to the SPECT.
    MAAMeasurementError
        If a region holds no counts on the views.
    """
    if frames.anterior.shape != frames.posterior.shape:
        raise PlanarRegistrationError(
            f"anterior {frames.anterior.shape} and posterior {frames.posterior.shape} "
            "views differ in size")
    spacing = grid.GetSpacing()
    projection_mm = (float(spacing[2]), float(spacing[0]))
    geometric_mean = np.sqrt(np.clip(frames.anterior, 0, None)
                             * np.clip(frames.posterior[:, ::-1], 0, None))
    registration = register_planar(geometric_mean, frames.pixel_mm,
                                   ap_projection(counts, grid), projection_mm, min_ncc=min_ncc)
    rois = {name: _region_on_planar(ap_projection(region, grid), projection_mm,
                                    frames.anterior.shape, frames.pixel_mm, registration)
            for name, region in (("lung", lung), ("liver", liver))}
    shunt = maa.lung_shunt_planar(frames.anterior, frames.posterior,
                                  rois["lung"] & ~rois["liver"], rois["liver"])
    return PlanarShunt(shunt, registration)
