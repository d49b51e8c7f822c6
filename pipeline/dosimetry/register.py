"""Rigid registration of the emission study's CT to the planning CT (SimpleITK).

The SPECT/CT or PET/CT's own CT (moving) is registered to the planning CT (fixed) with a
rigid :class:`SimpleITK.Euler3DTransform`: started from the identity, then (if refused) from
the centred geometric initialiser; Mattes mutual information on HU, a regular-step gradient
descent over three resolution levels. The transform found maps planning-CT physical points
to emission-study physical points (ITK's fixed-to-moving convention);
:mod:`pipeline.dosimetry.masks` uses it to carry the planning label maps into SPECT/PET
space, and its inverse brings SPECT/PET images onto the planning grid.

After the optimisation, the quality is measured independently of the optimised metric:
normalised cross-correlation (NCC) of HU inside the planning CT body, and the Dice
coefficient of the two body masks (HU above a threshold). A registration whose optimiser did
not converge, or whose NCC or body Dice is below the configured minimum, raises
:class:`RegistrationError` with the figures in the message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813

from pipeline.dosimetry.result import RegistrationSummary
from pipeline.errors import InputDataError

METRIC_NAME = "Mattes mutual information"


class RegistrationError(InputDataError):
    """The emission study's CT could not be registered to the planning CT; says why."""


@dataclass(frozen=True)
class RegistrationSettings:
    """Settings of the rigid registration and its acceptance.

    Parameters
    ----------
    histogram_bins : int
        Bins of the Mattes mutual information.
    sampling_fraction : float
        Fraction of fixed-image voxels sampled at random per level (0-1].
    shrink_factors, smoothing_sigmas_mm : tuple
        Resolution pyramid: shrink per level and Gaussian smoothing per level, mm.
    iterations : int
        Most optimiser iterations per level.
    learning_rate, min_step : float
        Regular-step gradient descent: first and smallest step (in physical-shift scale).
    body_threshold_hu : float
        HU above which a voxel counts as body, for the quality masks.
    min_ncc : float
        Least NCC of (smoothed) HU inside the planning body accepted after registration.
        On synthetic pairs (``pipeline.synth`` phantoms, 3 mm planning CT, 4 mm emission CT
        with 10-30 HU noise) the same patient gives 0.79 and a different phantom 0.52.
    min_body_dice : float
        Least body-mask Dice accepted after registration.
    seed : int
        Seed of the random metric sampling (reproducible results).
    starts : tuple of str
        Initial transforms tried in order: ``identity`` and/or ``geometry`` (centres).
    """

    histogram_bins: int = 50
    sampling_fraction: float = 0.1
    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_sigmas_mm: tuple[float, ...] = (4.0, 2.0, 0.0)
    iterations: int = 200
    learning_rate: float = 2.0
    min_step: float = 1e-3
    body_threshold_hu: float = -500.0
    min_ncc: float = 0.6
    min_body_dice: float = 0.8
    seed: int = 20
    starts: tuple[str, ...] = ("identity", "geometry")


@dataclass(frozen=True)
class Registration:
    """A rigid registration and its quality.

    Parameters
    ----------
    transform : SimpleITK.Euler3DTransform
        Maps planning-CT (fixed) physical points to emission-study (moving) points, mm.
    quality : RegistrationSummary
        Final metric, NCC, body Dice, translation and rotation.
    """

    transform: sitk.Euler3DTransform
    quality: RegistrationSummary


def _as_float(image: sitk.Image) -> sitk.Image:
    return sitk.Cast(image, sitk.sitkFloat32)


def _body(image: sitk.Image, threshold_hu: float) -> sitk.Image:
    return sitk.BinaryThreshold(image, threshold_hu, 1e9, 1, 0)


def ncc_and_dice(fixed: sitk.Image, moving: sitk.Image, transform: sitk.Transform,
                 body_threshold_hu: float) -> tuple[float, float]:
    """Quality of a transform: NCC of HU inside the fixed body, and body-mask Dice.

    Both images are smoothed with a Gaussian of sigma = the moving image's coarsest
    spacing before the NCC, so that noise and the resolution difference of a low-dose
    emission CT do not dominate it.

    Parameters
    ----------
    fixed, moving : SimpleITK.Image
        Planning CT and emission study CT, HU.
    transform : SimpleITK.Transform
        Fixed-to-moving transform.
    body_threshold_hu : float
        HU above which a voxel is body.

    Returns
    -------
    tuple of float
        NCC (-1..1; 0 where either image is constant) and Dice (0..1).
    """
    air = -1024.0
    resampled = sitk.Resample(_as_float(moving), fixed, transform, sitk.sitkLinear, air)
    sigma = max(moving.GetSpacing())
    f = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(_as_float(fixed), sigma))
    m = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(resampled, sigma))
    f, m = f.astype(np.float64), m.astype(np.float64)
    body_f = f > body_threshold_hu
    body_m = m > body_threshold_hu
    total = int(body_f.sum()) + int(body_m.sum())
    dice = 0.0 if total == 0 else 2.0 * int((body_f & body_m).sum()) / total
    fv, mv = f[body_f], m[body_f]
    if fv.size < 2 or fv.std() == 0.0 or mv.std() == 0.0:
        return 0.0, dice
    ncc = float(np.mean((fv - fv.mean()) * (mv - mv.mean())) / (fv.std() * mv.std()))
    return ncc, dice


def _method(settings: RegistrationSettings) -> sitk.ImageRegistrationMethod:
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.histogram_bins)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(settings.sampling_fraction, settings.seed)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=settings.learning_rate, minStep=settings.min_step,
        numberOfIterations=settings.iterations, gradientMagnitudeTolerance=1e-8)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel(list(settings.shrink_factors))
    reg.SetSmoothingSigmasPerLevel(list(settings.smoothing_sigmas_mm))
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    return reg


def _rotation_deg(transform: sitk.Euler3DTransform) -> float:
    matrix = np.asarray(transform.GetMatrix()).reshape(3, 3)
    cosine = (float(np.trace(matrix)) - 1.0) / 2.0
    return math.degrees(math.acos(min(1.0, max(-1.0, cosine))))


def _initial(fixed: sitk.Image, moving: sitk.Image, start: str) -> sitk.Euler3DTransform:
    if start == "geometry":
        return sitk.Euler3DTransform(sitk.CenteredTransformInitializer(
            fixed, moving, sitk.Euler3DTransform(),
            sitk.CenteredTransformInitializerFilter.GEOMETRY))
    if start != "identity":
        raise ValueError(f"unknown start {start!r}: identity or geometry")
    identity = sitk.Euler3DTransform()
    identity.SetCenter(fixed.TransformContinuousIndexToPhysicalPoint(
        [(n - 1) / 2.0 for n in fixed.GetSize()]))
    return identity


def _attempt(fixed: sitk.Image, moving: sitk.Image, start: str,
             settings: RegistrationSettings) -> Registration:
    """One optimisation from one start; RegistrationError if it fails or is refused."""
    fixed_f, moving_f = _as_float(fixed), _as_float(moving)
    reg = _method(settings)
    reg.SetInitialTransform(_initial(fixed_f, moving_f, start), inPlace=False)
    try:
        found = reg.Execute(fixed_f, moving_f)
    except RuntimeError as exc:  # ITK: too few samples in the overlap, and the like
        raise RegistrationError(f"CT registration failed: {str(exc).splitlines()[-1]}") from exc
    stop = reg.GetOptimizerStopConditionDescription()
    if "Maximum number of iterations" in stop:
        raise RegistrationError(
            f"CT registration did not converge in {settings.iterations} iterations ({stop})")
    composite = sitk.CompositeTransform(found)
    euler = sitk.Euler3DTransform(composite.GetNthTransform(0))
    ncc, dice = ncc_and_dice(fixed, moving, euler, settings.body_threshold_hu)
    tx, ty, tz = (float(v) for v in euler.GetTranslation())
    quality = RegistrationSummary(
        metric=METRIC_NAME, final_metric_value=float(reg.GetMetricValue()), ncc=ncc,
        body_dice=dice, translation_mm=(tx, ty, tz),
        rotation_deg=_rotation_deg(euler), stop_condition=stop, start=start)
    if ncc < settings.min_ncc or dice < settings.min_body_dice:
        raise RegistrationError(
            f"CT registration quality too low: NCC {ncc:.3f} (minimum {settings.min_ncc}), "
            f"body Dice {dice:.3f} (minimum {settings.min_body_dice})")
    return Registration(euler, quality)


def register_ct(fixed: sitk.Image, moving: sitk.Image,
                settings: RegistrationSettings | None = None) -> Registration:
    """Register the emission study's CT (moving) to the planning CT (fixed), rigidly.

    The optimisation starts from each of ``settings.starts`` in turn (identity: the two
    frames' patient coordinates taken as roughly aligned, as on one site's scanners;
    geometry: the images' centres aligned, for unrelated frames) and the first accepted
    result is returned.

    Parameters
    ----------
    fixed : SimpleITK.Image
        Planning CT, HU, in patient (LPS) physical coordinates.
    moving : SimpleITK.Image
        The SPECT/CT or PET/CT's CT, HU, in its own frame of reference.
    settings : RegistrationSettings, optional
        Pyramid, optimiser, starts and acceptance thresholds.

    Returns
    -------
    Registration
        Fixed-to-moving transform and quality figures.

    Raises
    ------
    RegistrationError
        If no start gives an accepted result: the images do not overlap, the optimiser
        stops without converging, or the NCC or body Dice is below its minimum; the
        message gives each start's reason.
    """
    settings = settings or RegistrationSettings()
    reasons = []
    for start in settings.starts:
        try:
            return _attempt(fixed, moving, start, settings)
        except RegistrationError as exc:
            reasons.append(f"from {start}: {exc}")
    raise RegistrationError("; ".join(reasons))
