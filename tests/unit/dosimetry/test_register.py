"""Rigid CT-to-CT registration: recovers a known transform, refuses unrelated images."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from dosimetry_cases import PLANNING_MM, RegistrationCase, ct_image

from pipeline.dosimetry.register import RegistrationError, RegistrationSettings, register_ct
from pipeline.synth.render import render_training_case


def _angle_deg(a: sitk.Euler3DTransform, b: sitk.Euler3DTransform) -> float:
    ra = np.asarray(a.GetMatrix()).reshape(3, 3)
    rb = np.asarray(b.GetMatrix()).reshape(3, 3)
    cosine = (np.trace(ra.T @ rb) - 1.0) / 2.0
    return math.degrees(math.acos(min(1.0, cosine)))


def test_recovers_a_known_shift_and_rotation(registration_case: RegistrationCase) -> None:
    case = registration_case
    found = register_ct(case.planning, case.moving)
    assert _angle_deg(found.transform, case.known) < 1.0
    # Every liver voxel of the planning CT lands within 2 mm of where the truth puts it.
    points = [case.planning.TransformIndexToPhysicalPoint([int(i) for i in idx[::-1]])
              for idx in np.argwhere(case.labelmap > 0)[::200]]
    errors = [np.linalg.norm(np.subtract(found.transform.TransformPoint(p),
                                         case.known.TransformPoint(p))) for p in points]
    assert max(errors) < 2.0
    q = found.quality
    assert q.ncc > 0.6 and q.body_dice > 0.9
    assert q.rotation_deg == pytest.approx(_angle_deg(sitk.Euler3DTransform(), case.known),
                                           abs=1.0)
    assert "Mattes" in q.metric


def test_refuses_a_noise_volume(registration_case: RegistrationCase) -> None:
    rng = np.random.default_rng(0)
    noise = sitk.GetImageFromArray(rng.normal(-300.0, 400.0, (40, 40, 40)).astype(np.float32))
    noise.SetSpacing((6.0, 6.0, 6.0))
    with pytest.raises(RegistrationError,
                       match=r"did not converge in 40 iterations|quality too low: NCC"):
        register_ct(registration_case.planning, noise, RegistrationSettings(iterations=40))


def test_low_quality_is_refused_with_the_figures(registration_case: RegistrationCase) -> None:
    case = registration_case
    with pytest.raises(RegistrationError,
                       match=r"quality too low: NCC 0\.\d{3} \(minimum 0\.99\), body Dice "
                             r"0\.\d{3} \(minimum 0\.8\)"):
        register_ct(case.planning, case.moving, RegistrationSettings(min_ncc=0.99))


def test_refuses_another_patient(registration_case: RegistrationCase) -> None:
    hu, _, _ = render_training_case(11, (PLANNING_MM,) * 3, noise_hu=10.0)
    other = ct_image(hu, PLANNING_MM, (-100.0, -120.0, -300.0))
    # The true pair converges in under 20 iterations per level; 60 is a generous cap.
    with pytest.raises(RegistrationError,
                       match=r"did not converge in 60 iterations|quality too low"):
        register_ct(registration_case.planning, other, RegistrationSettings(iterations=60))


def test_refuses_a_ct_mirrored_front_to_back(registration_case: RegistrationCase) -> None:
    # Same voxels, far away and with the row direction reversed (a header error).
    mirrored = sitk.Image(registration_case.moving)
    mirrored.SetOrigin((5000.0, 5000.0, 5000.0))
    mirrored.SetDirection((1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))
    with pytest.raises(RegistrationError, match=r"quality too low|did not converge"):
        register_ct(registration_case.planning, mirrored)
