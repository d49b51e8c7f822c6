"""Planar lung shunt: views matched to the SPECT's projection, regions carried onto them.

The phantom is a box of uniform attenuation (every anterior-posterior ray crosses the same
thickness, so the geometric mean is the unattenuated projection times one constant) holding
a liver and two lungs apart from each other; with a sharp camera and 10^8 counts the planar
lung shunt must equal the true one. The views are placed in a larger camera field at a known
offset, which the match must find.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from dosimetry_cases import RegistrationCase

from pipeline.dosimetry import masks
from pipeline.dosimetry.compute import EmissionImages, maa_dosimetry
from pipeline.dosimetry.planar import (
    PlanarFrames,
    PlanarRegistrationError,
    ap_projection,
    planar_lung_shunt,
    register_planar,
)
from pipeline.quantify.config import QuantificationConfig
from pipeline.structures import DEMO_LABELS
from pipeline.synth.nm_images import planar_views

SPACING = 4.0
FIELD = (80, 96)          # camera field, pixels (rows, columns)
OFFSET = (17, 23)         # where the SPECT's projection starts in it (row, column)


def _phantom() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Activity (MBq/mL), body, lung and liver on a (z, y, x) grid of 4 mm voxels."""
    shape = (40, 30, 48)
    body = np.zeros(shape, bool)
    body[:, 3:27, 2:46] = True
    lung = np.zeros(shape, bool)
    lung[26:37, 8:22, 6:20] = True
    lung[26:37, 8:22, 28:42] = True
    liver = np.zeros(shape, bool)
    liver[6:20, 8:24, 6:30] = True
    activity = np.where(liver, 1.0, 0.0) + np.where(lung, 0.05, 0.0)
    return activity, body, lung, liver


def _grid(array: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.SetSpacing((SPACING, SPACING, SPACING))
    return image


def _in_field(view: np.ndarray) -> np.ndarray:
    field = np.zeros(FIELD)
    field[OFFSET[0]:OFFSET[0] + view.shape[0], OFFSET[1]:OFFSET[1] + view.shape[1]] = view
    return field


def _frames(activity: np.ndarray, body: np.ndarray) -> PlanarFrames:
    views = planar_views(activity, body, (SPACING,) * 3, fwhm_mm=1.0, total_counts=1e8,
                         rng=np.random.default_rng(3))
    # The posterior is stored as seen from behind: mirror it into the field and back.
    posterior = _in_field(views.posterior[:, ::-1])[:, ::-1]
    return PlanarFrames(_in_field(views.anterior.astype(float)), posterior, (SPACING, SPACING))


def test_projection_puts_the_head_at_the_top_and_the_left_lung_on_the_right() -> None:
    activity, _, lung, liver = _phantom()
    image = _grid(activity)
    projected = ap_projection(liver, image)
    assert projected.shape == (40, 48)
    rows, columns = np.nonzero(projected)
    assert (rows.min(), rows.max()) == (40 - 20, 40 - 7)      # slices 6-19, head at row 0
    assert (columns.min(), columns.max()) == (6, 29)
    left_lung = lung.copy()
    left_lung[:, :, :24] = False                               # x 28-41: the patient's left
    rows, columns = np.nonzero(ap_projection(left_lung, image))
    assert (rows.min(), rows.max()) == (40 - 37, 40 - 27)
    assert (columns.min(), columns.max()) == (28, 41)          # the image's right
    flipped = sitk.Flip(image, [True, False, True])           # stored right-to-left, feet first
    assert np.array_equal(ap_projection(sitk.GetArrayFromImage(flipped) > 0.5, flipped),
                          ap_projection(activity > 0.5, image))
    assert ap_projection(activity, image).sum() == pytest.approx(activity.sum())


def test_views_in_a_larger_field_are_found_and_give_the_true_lsf() -> None:
    activity, body, lung, liver = _phantom()
    true_lsf = activity[lung].sum() / activity[lung | liver].sum()
    found = planar_lung_shunt(_frames(activity, body), activity, lung, liver, _grid(activity))
    shift = found.registration.translation_mm
    # A planar pixel at (column c, row r) is the projection's (c - 23, r - 17).
    assert shift[0] == pytest.approx(-OFFSET[1] * SPACING, abs=SPACING / 2)
    assert shift[1] == pytest.approx(-OFFSET[0] * SPACING, abs=SPACING / 2)
    assert found.registration.ncc > 0.99
    assert found.shunt.lsf == pytest.approx(true_lsf, abs=0.002)


def test_views_of_something_else_are_refused_with_the_match() -> None:
    activity, _, _, _ = _phantom()
    noise = np.random.default_rng(5).poisson(50.0, FIELD).astype(float)
    with pytest.raises(PlanarRegistrationError, match="NCC"):
        register_planar(noise, (SPACING, SPACING), ap_projection(activity, _grid(activity)),
                        (SPACING, SPACING))


def test_a_refused_planar_match_leaves_the_spect_lsf(registration_case: RegistrationCase
                                                      ) -> None:
    case = registration_case
    regions = masks.planning_regions(case.labelmap, DEMO_LABELS)
    counts = sitk.GetArrayFromImage(case.moving).astype(float)     # HU + 1000 as counts
    spect = sitk.GetImageFromArray(np.clip(counts + 1000.0, 0, None))
    spect.CopyInformation(case.moving)
    k = QuantificationConfig().constants()
    noise = np.random.default_rng(7).poisson(50.0, FIELD).astype(float)
    frames = PlanarFrames(noise, noise, (SPACING, SPACING))
    without = maa_dosimetry(EmissionImages(spect, case.moving), case.planning, regions, 2.0, k)
    refused = maa_dosimetry(EmissionImages(spect, case.moving), case.planning, regions, 2.0, k,
                            planar=frames)
    assert refused.result.lsf == without.result.lsf
    assert refused.result.planar is not None and refused.result.planar.lsf is None
    assert "NCC" in (refused.result.planar.error or "")
    assert refused.result.to_json()["planar"]["error"] == refused.result.planar.error
