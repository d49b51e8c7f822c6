"""Image evidence measured on body crops: the same numbers as on whole slices, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from pipeline.select.image_evidence import (
    BodyCrop,
    PlaneGeometry,
    _fill_holes,
    _mean_filter_at,
    _patient_xy,
    body_crops,
    liver_like_areas,
    measure_slices,
)
from pipeline.synth.render import render_training_case
from pipeline.synth.tissue import Phase


def test_fill_holes_is_scipys() -> None:
    rng = np.random.default_rng(3)
    for density in (0.3, 0.5, 0.7):
        mask = rng.random((61, 47)) < density
        assert np.array_equal(_fill_holes(mask), ndimage.binary_fill_holes(mask))
    ring = np.zeros((9, 9), dtype=bool)
    ring[2:7, 2:7] = True
    ring[4, 4] = False
    assert _fill_holes(ring)[4, 4] and not _fill_holes(np.zeros((4, 4), dtype=bool)).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [3, 4, 10, 14])
def test_mean_filter_at_is_uniform_filter_bit_for_bit(dtype: type, size: int) -> None:
    rng = np.random.default_rng(size)
    values = (rng.normal(40.0, 300.0, (120, 90)) * 0.37).astype(dtype)
    whole = ndimage.uniform_filter(values, size)
    for at in [(slice(0, 120), slice(0, 90)), (slice(30, 61), slice(5, 40)),
               (slice(100, 120), slice(70, 90)), (slice(0, 7), slice(44, 45))]:
        part = _mean_filter_at(values, size, at)
        assert part.dtype == whole.dtype
        assert np.array_equal(part, whole[at])


def _whole_slice(hu: np.ndarray, crop: BodyCrop, geom: PlaneGeometry) -> BodyCrop:
    """The same slice not cropped: its body mask in the whole slice."""
    body = np.zeros(hu.shape, dtype=bool)
    body[crop.at] = crop.body
    x, y = _patient_xy(hu.shape, geom)
    return BodyCrop(hu, body, x, y, (slice(0, hu.shape[0]), slice(0, hu.shape[1])))


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("phase", [Phase.ARTERIAL, Phase.PORTAL_VENOUS])
def test_crops_measure_what_whole_slices_measure(flip: bool, phase: Phase) -> None:
    hu, _, spacing = render_training_case(7001, spacing_zyx_mm=(20.0, 1.5, 1.5), phase=phase)
    geom = PlaneGeometry((spacing[1], spacing[2]), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    if flip:  # rows and columns reversed: ImageOrientationPatient -1 0 0 0 -1 0
        hu = np.ascontiguousarray(hu[:, ::-1, ::-1])
        geom = PlaneGeometry(geom.pixel_spacing_mm, (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0))
    crops = body_crops(hu, geom)
    assert all(c is not None and c.hu.size < hu[0].size for c in crops)
    whole = [_whole_slice(hu[k], c, geom) for k, c in enumerate(crops) if c is not None]
    cropped, uncropped = measure_slices(hu, geom, crops), measure_slices(hu, geom, whole)
    assert sum(m.liver_area_mm2 > 0 for m in cropped) >= 3
    assert sum(math.isfinite(m.aorta_hu) for m in cropped) >= 3
    for a, b in zip(cropped, uncropped, strict=True):
        assert all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__), (a, b)
    for lo in (60.0, 95.5, 130.0):
        assert liver_like_areas(hu, geom, (lo, lo + 50), crops) == liver_like_areas(
            hu, geom, (lo, lo + 50), whole)


def test_no_body_no_crop() -> None:
    air = np.full((2, 32, 32), -1000.0, dtype=np.float32)
    geom = PlaneGeometry((4.0, 4.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    assert body_crops(air, geom) == [None, None]
    assert liver_like_areas(air, geom, (0.0, 100.0)) == [0.0, 0.0]
