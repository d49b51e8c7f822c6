"""Axial diameters of digital discs and ellipses against their analytic diameters."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.quantify.diameters import axial_diameters, feret_diameters


def ellipse(a_mm: float, b_mm: float, angle: float, spacing_yx: tuple[float, float],
            half: int | None = None) -> np.ndarray:
    """Pixels whose centres lie inside an ellipse (semi-axes in mm) centred off-grid.

    The image is ``2 * half + 1`` pixels square (by default just large enough).
    """
    dy, dx = spacing_yx
    if half is None:
        half = math.ceil(max(a_mm, b_mm) / min(dy, dx)) + 3
    rows, cols = np.mgrid[-half:half + 1, -half:half + 1]
    y, x = (rows + 0.31) * dy, (cols - 0.17) * dx
    u = x * math.cos(angle) + y * math.sin(angle)
    v = -x * math.sin(angle) + y * math.cos(angle)
    return (u / a_mm) ** 2 + (v / b_mm) ** 2 <= 1.0


@settings(max_examples=40, deadline=None)
@given(r=st.floats(3.0, 25.0), dy=st.floats(0.5, 1.2), dx=st.floats(0.5, 1.2))
def test_disc_diameter_within_a_pixel(r: float, dy: float, dx: float) -> None:
    mask = ellipse(r, r, 0.0, (dy, dx))[None]
    d = axial_diameters(mask, (5.0, dy, dx))
    pixel = max(dy, dx)
    assert abs(d.long_axis_mm - 2 * r) <= pixel
    assert abs(d.short_axis_mm - 2 * r) <= pixel


@settings(max_examples=40, deadline=None)
@given(a=st.floats(6.0, 30.0), ratio=st.floats(0.25, 0.9), angle=st.floats(0.0, math.pi),
       dy=st.floats(0.6, 1.0), dx=st.floats(0.6, 1.0))
def test_ellipse_axes_within_a_pixel(a: float, ratio: float, angle: float, dy: float,
                                     dx: float) -> None:
    b = a * ratio
    d = axial_diameters(ellipse(a, b, angle, (dy, dx))[None], (2.0, dy, dx))
    pixel = math.hypot(dy, dx)
    assert abs(d.long_axis_mm - 2 * a) <= pixel
    assert abs(d.short_axis_mm - 2 * b) <= pixel


def test_largest_slice_is_chosen_and_index_reported() -> None:
    stack = np.zeros((3, 41, 41), bool)
    stack[0] = ellipse(5, 5, 0, (1, 1), half=20)
    stack[1] = ellipse(15, 6, 0.3, (1, 1), half=20)
    stack[2] = ellipse(8, 8, 0, (1, 1), half=20)
    d = axial_diameters(stack, (5.0, 1.0, 1.0))
    assert d.slice_index == 1
    assert abs(d.long_axis_mm - 30) <= 1.0 and abs(d.short_axis_mm - 12) <= 1.5


def test_rectangle_and_single_pixel() -> None:
    rect = np.zeros((1, 10, 20), bool)
    rect[0, 2:5, 3:15] = True  # 3 x 12 pixels of 0.5 x 1.0 mm
    d = axial_diameters(rect, (1.0, 0.5, 1.0))
    assert d.long_axis_mm == np.hypot(12.0, 1.0)  # edge midpoints: extent 12 mm x (3-1) rows
    one = np.zeros((1, 3, 3), bool)
    one[0, 1, 1] = True
    assert axial_diameters(one, (1.0, 0.8, 0.8)).long_axis_mm == pytest.approx(0.8)


def test_feret_of_collinear_points() -> None:
    pts = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    assert feret_diameters(pts) == (3.0, 0.0)
