"""Slab-wise separable preprocessing against nnU-Net's own functions.

Tolerance: nnU-Net and :mod:`pipeline.segment.prepare` both compute in float64 and round to
float32; they only sum the same products in another order (float64 rounding, ~1e-16
relative). Two float64 values that close round to the same float32 or, where they straddle
a rounding boundary, to neighbouring ones: a result may differ by one float32 unit in the
last place (``np.spacing``), plus a float64 rounding error of the data's scale for values
that are nearly zero after cancellation. In practice nearly all values are bit-equal,
which is asserted too.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nnunetv2.preprocessing.cropping.cropping import crop_to_nonzero
from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
from nnunetv2.preprocessing.resampling.default_resampling import (
    compute_new_shape,
    resample_data_or_seg_to_shape,
)
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager
from scipy import ndimage

from pipeline.segment import prepare

DEMO_MODEL = Path(__file__).resolve().parents[3] / "models" / "demo_liver"


def assert_float32_rounding(ours: np.ndarray, reference: np.ndarray) -> None:
    """At most one float32 unit in the last place apart (see the module docstring)."""
    assert ours.shape == reference.shape and ours.dtype == np.float32
    reference = np.asarray(reference, dtype=np.float32)
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    diff = np.abs(ours.astype(np.float64) - reference.astype(np.float64))
    tolerance = np.spacing(np.abs(reference)).astype(np.float64) + 1e-12 * scale
    assert np.all(diff <= tolerance), f"max difference {diff.max():.3g}"
    assert np.mean(ours == reference) > 0.99


def smooth_channels(shape: tuple[int, ...], seed: int, channels: int = 2) -> np.ndarray:
    """Smooth random channels in HU-like units, float32, shape (channels, *shape)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(channels, *shape))
    return (ndimage.gaussian_filter(noise, (0, 1, 1, 1)) * 300 + 40).astype(np.float32)


CASES = [
    # current spacing, new spacing, input shape, kwargs beyond order 3 / order_z 0 / None
    pytest.param((1.25, 0.7, 0.7), (4.0, 4.0, 4.0), (40, 61, 57), {}, id="iso-down"),
    pytest.param((2.0, 2.0, 2.0), (1.0, 1.5, 0.8), (13, 17, 11), {}, id="iso-up"),
    pytest.param((3.0, 1.0, 1.0), (1.0, 2.0, 2.0), (10, 40, 39), {}, id="up-and-down"),
    pytest.param((5.0, 0.7, 0.7), (4.0, 4.0, 4.0), (12, 71, 64), {}, id="sep-z-down"),
    pytest.param((5.0, 0.7, 0.7), (2.0, 1.1, 1.1), (12, 33, 30), {}, id="sep-z-up"),
    pytest.param((0.8, 0.8, 6.0), (1.0, 1.0, 4.0), (31, 29, 7), {}, id="sep-last-axis"),
    pytest.param((1.0, 1.0, 1.0), (1.0, 4.0, 1.0), (21, 40, 19), {}, id="sep-by-new-spacing"),
    pytest.param((1.5, 1.0, 1.0), (1.0, 1.3, 0.7), (20, 19, 23),
                 {"force_separate_z": True}, id="force-sep"),
    pytest.param((5.0, 0.7, 0.7), (4.0, 4.0, 4.0), (12, 41, 44),
                 {"force_separate_z": False}, id="force-no-sep"),
    pytest.param((5.0, 0.7, 0.7), (4.0, 4.0, 4.0), (12, 41, 44),
                 {"separate_z_anisotropy_threshold": 10.0}, id="threshold"),
    pytest.param((5.0, 0.7, 0.7), (4.0, 4.0, 4.0), (12, 71, 64), {"order_z": 1},
                 id="order-z-1"),
    pytest.param((5.0, 0.7, 0.7), (1.0, 1.3, 1.3), (12, 30, 35), {"order_z": 3, "order": 1},
                 id="order-z-3"),
    pytest.param((1.25, 0.7, 0.7), (4.0, 4.0, 4.0), (40, 61, 57), {"order": 1}, id="order-1"),
    pytest.param((1.25, 0.7, 0.7), (1.25, 4.0, 4.0), (40, 61, 57), {}, id="same-slices"),
    pytest.param((1.0, 0.7, 0.7), (1.0, 1.0, 1.0), (1, 33, 30), {}, id="single-slice"),
    pytest.param((1.3, 0.9, 1.1), (2.1, 1.7, 0.6), (7, 13, 9), {}, id="odd"),
]


@pytest.mark.parametrize(("current", "new", "shape", "kwargs"), CASES)
def test_resample_data_equals_nnunet(current: tuple[float, ...], new: tuple[float, ...],
                                     shape: tuple[int, ...], kwargs: dict[str, Any]) -> None:
    data = smooth_channels(shape, sum(shape))
    new_shape = compute_new_shape(shape, current, new)
    kwargs = {"order": 3, "order_z": 0, "force_separate_z": None, **kwargs}
    before = data.copy()
    reference = resample_data_or_seg_to_shape(data, new_shape, current, new, is_seg=False,
                                              **kwargs)
    ours = prepare.resample_data(data, new_shape, current, new, is_seg=False, **kwargs)
    assert np.array_equal(data, before)
    assert_float32_rounding(ours, reference)


def test_resample_data_strided_input_and_slab_normalisation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A transposed, cropped view read in small slabs, normalised per slab."""
    monkeypatch.setattr(prepare, "SLAB_VOXELS", 500)   # several slabs, some of one slice
    raw = smooth_channels((30, 26, 22), 7, channels=1).transpose(0, 2, 3, 1)[:, 2:-1, 1:, 3:]
    current, new = (0.9, 1.1, 1.7), (2.0, 2.0, 2.0)
    new_shape = compute_new_shape(raw.shape[1:], current, new)

    def normalize(block: np.ndarray) -> np.ndarray:
        np.clip(block, -50.0, 300.0, out=block)
        block -= 40.0
        return block

    normalized = normalize(raw.astype(np.float32))   # a copy, like nnU-Net's
    reference = resample_data_or_seg_to_shape(normalized, new_shape, current, new)
    ours = prepare.resample_data(raw, new_shape, current, new, normalizers=[normalize])
    assert_float32_rounding(ours, reference)


def test_same_shape_returns_a_normalised_copy() -> None:
    data = smooth_channels((5, 6, 7), 3)
    before = data.copy()
    ours = prepare.resample_data(data, (5, 6, 7), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0),
                                 normalizers=[lambda b: b - 40.0, None])
    assert np.array_equal(data, before)
    assert np.array_equal(ours[0], before[0] - np.float32(40.0))
    assert np.array_equal(ours[1], before[1])


def test_zoom_matrix_is_scipy_zoom() -> None:
    x = np.random.default_rng(1).normal(size=37)
    for n_out in (5, 37, 90):
        expected = ndimage.zoom(x, n_out / 37, order=3, mode="nearest", grid_mode=True)
        np.testing.assert_allclose(prepare.zoom_matrix(37, n_out, 3) @ x, expected,
                                   rtol=0, atol=1e-13)


@pytest.mark.parametrize(("kwargs", "handled"), [
    ({"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None}, True),
    ({}, True),
    ({"order": 1, "order_z": 1, "separate_z_anisotropy_threshold": 2.0}, True),
    ({"is_seg": True, "order": 1}, False),
    ({"order": 3, "dtype_out": "float16"}, False),
    ({"order": 6}, False),
])
def test_handles(kwargs: dict[str, Any], handled: bool) -> None:
    assert prepare.handles(kwargs) is handled


def _masks() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    inside = np.zeros((2, 9, 10, 11), np.float32)
    inside[0, 2:7, 3:8, 1:9] = rng.normal(size=(5, 5, 8))
    inside[0, 4, 5, 4] = 0.0                     # a hole nnU-Net fills
    shifted = inside.copy()
    shifted[1, 8, 0, 10] = 1.0                   # a second channel widens the box
    full = rng.normal(size=(1, 6, 7, 8)).astype(np.float32)
    full[0, 3] = 0.0                             # a zero slice inside
    ring = np.zeros((1, 5, 9, 9), np.float32)
    ring[0, :, 2:7, 2:7] = -1000.0
    ring[0, :, 3:6, 3:6] = 0.0                   # zero voxels enclosed in-plane
    sparse = (rng.random((1, 12, 13, 14)) > 0.995).astype(np.float32)
    return [inside, shifted, full, ring, sparse, np.zeros((1, 4, 5, 6), np.float32)]


@pytest.mark.parametrize("data", _masks(), ids=["inside", "2-channels", "full", "ring",
                                                "sparse", "all-zero"])
def test_nonzero_bbox_equals_crop_to_nonzero(data: np.ndarray) -> None:
    _, _, bbox = crop_to_nonzero(data.copy(), None)
    assert prepare.nonzero_bbox(data) == bbox


def _phantom(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A CT-like body: soft tissue and liver in air, a zero border, some exactly 0 HU."""
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    cz, cy, cx = (s / 2 for s in shape)
    body = ((y - cy) / (0.4 * shape[1])) ** 2 + ((x - cx) / (0.45 * shape[2])) ** 2 < 1
    liver = (((z - cz) / (0.3 * shape[0])) ** 2 + ((y - cy) / (0.2 * shape[1])) ** 2
             + ((x - 0.6 * shape[2]) / (0.2 * shape[2])) ** 2) < 1
    hu = np.where(body, 40.0, -1000.0) + np.where(liver, 70.0, 0.0)
    hu = hu + rng.normal(0, 15, shape)
    hu[rng.random(shape) < 0.01] = 0.0
    return np.pad(hu, 2).astype(np.float32)[None]


def _demo_plans(**changes: Any) -> tuple[PlansManager, Any, dict[str, Any]]:
    plans = json.loads((DEMO_MODEL / "plans.json").read_text())
    configuration = plans["configurations"]["3d_demo"]
    plans.update(changes.pop("plans", {}))
    configuration.update(copy.deepcopy(changes))
    manager = PlansManager(plans)
    dataset = json.loads((DEMO_MODEL / "dataset.json").read_text())
    return manager, manager.get_configuration("3d_demo"), dataset


def _compare_with_run_case_npy(image: np.ndarray, spacing: tuple[float, float, float],
                               manager: PlansManager, configuration: Any,
                               dataset: dict[str, Any]) -> None:
    before = image.copy()
    prepared = prepare.run_case(image, spacing, manager, configuration)
    assert prepared is not None
    data, properties = prepared
    reference, _, ref_properties = DefaultPreprocessor(verbose=False).run_case_npy(
        image, None, {"spacing": list(spacing)}, manager, configuration, dataset)
    assert np.array_equal(image, before)
    assert_float32_rounding(data, reference)
    for key in ("spacing", "shape_before_cropping", "bbox_used_for_cropping",
                "shape_after_cropping_and_before_resampling"):
        assert np.array_equal(np.asarray(properties[key]), np.asarray(ref_properties[key])), key


@pytest.mark.parametrize(("shape", "spacing"), [
    ((40, 90, 80), (2.5, 1.4, 1.4)),     # downsampling, 3d cubic
    ((12, 90, 80), (5.0, 0.9, 0.9)),     # 5 mm slices: separate z, nearest between slices
    ((10, 12, 14), (6.0, 6.5, 7.0)),     # upsampling
    ((21, 30, 30), (4.0, 4.0, 4.0)),     # already on the network grid: no resampling
])
def test_run_case_equals_run_case_npy_demo_plans(shape: tuple[int, int, int],
                                                 spacing: tuple[float, float, float]) -> None:
    manager, configuration, dataset = _demo_plans()
    _compare_with_run_case_npy(_phantom(shape, sum(shape)), spacing, manager, configuration,
                               dataset)


def test_run_case_transposed_plans() -> None:
    manager, configuration, dataset = _demo_plans(
        plans={"transpose_forward": [2, 0, 1], "transpose_backward": [1, 2, 0]},
        spacing=[3.0, 4.0, 2.5])
    _compare_with_run_case_npy(_phantom((20, 50, 44), 5), (2.0, 1.1, 1.3), manager,
                               configuration, dataset)


def test_run_case_mask_normalisation_uses_nnunet_crop() -> None:
    """ZScore normalisation inside the nonzero mask: the mask is nnU-Net's own."""
    manager, configuration, dataset = _demo_plans(normalization_schemes=["ZScoreNormalization"],
                                                  use_mask_for_norm=[True])
    image = _phantom((24, 50, 46), 9)
    image[image < -500] = 0.0   # zero outside the body, as in a skull-stripped MR
    _compare_with_run_case_npy(image, (2.5, 1.5, 1.5), manager, configuration, dataset)


@pytest.mark.parametrize("changes", [
    {"resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0,
                                   "force_separate_z": None, "dtype_out": "float32"}},
    {"resampling_fn_data": "resample_data_or_seg_to_spacing"},
], ids=["unknown-kwarg", "other-function"])
def test_run_case_declines_other_resampling(changes: dict[str, Any]) -> None:
    manager, configuration, _ = _demo_plans(**changes)
    assert prepare.run_case(_phantom((8, 10, 12), 1), (2.0, 2.0, 2.0), manager,
                            configuration) is None
