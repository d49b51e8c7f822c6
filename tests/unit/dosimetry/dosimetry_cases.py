"""Test cases of the dosimetry tests: a planning CT from our synthetic phantom and an
emission-study CT made from it with a known rigid transform (the one the registration must
recover)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813

from pipeline.synth.render import render_training_case

PLANNING_MM = 3.0
EMISSION_MM = 4.0


@dataclass(frozen=True)
class RegistrationCase:
    """Planning CT (fixed), emission CT (moving), the truth, and the planning label map."""

    planning: sitk.Image
    moving: sitk.Image
    known: sitk.Euler3DTransform
    labelmap: np.ndarray


def ct_image(hu: np.ndarray, spacing_mm: float, origin: tuple[float, float, float]
             ) -> sitk.Image:
    """An axial CT image (identity direction) from a (z, y, x) HU array."""
    image = sitk.GetImageFromArray(hu.astype(np.float32))
    image.SetSpacing((spacing_mm,) * 3)
    image.SetOrigin(origin)
    return image


def make_registration_case() -> RegistrationCase:
    """Phantom seed 1 (with metastases) at 3 mm; the emission CT: rotated (3, -2, 4)
    degrees about x, y, z, shifted (12, -8, 15) mm, on a 4 mm grid of its own, with 30 HU
    of added noise."""
    hu, labelmap, _ = render_training_case(1, (PLANNING_MM,) * 3, noise_hu=10.0)
    planning = ct_image(hu, PLANNING_MM, (-100.0, -120.0, -300.0))
    known = sitk.Euler3DTransform()
    size = planning.GetSize()
    known.SetCenter(planning.TransformContinuousIndexToPhysicalPoint([s / 2 for s in size]))
    known.SetRotation(math.radians(3.0), math.radians(-2.0), math.radians(4.0))
    known.SetTranslation((12.0, -8.0, 15.0))
    grid = sitk.Image([int(s * PLANNING_MM / EMISSION_MM) for s in size], sitk.sitkFloat32)
    grid.SetSpacing((EMISSION_MM,) * 3)
    grid.SetOrigin((-90.0, -110.0, -290.0))
    # moving(q) = planning(known^-1(q)), so planning(p) = moving(known(p)).
    moving = sitk.Resample(planning, grid, known.GetInverse(), sitk.sitkLinear, -1024.0)
    moving = sitk.AdditiveGaussianNoise(moving, 30.0, 0.0, 5)
    return RegistrationCase(planning, moving, known, labelmap)
