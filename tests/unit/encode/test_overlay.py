"""Overlay orientation: patient left on the image right, anterior at the top."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.encode.overlay import display_transform, representative_slices

ORIENTATIONS = [((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
                ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
                ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
                ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
                ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
                ((0.0, -1.0, 0.0), (-1.0, 0.0, 0.0)),
                ((0.94, 0.34, 0.0), (-0.34, 0.94, 0.0))]


@pytest.mark.parametrize(("row_cosine", "column_cosine"), ORIENTATIONS)
def test_display_puts_left_right_and_posterior_down(row_cosine, column_cosine) -> None:
    rows, cols = 7, 9
    r, c = np.mgrid[0:rows, 0:cols].astype(float)
    rc, cc = np.asarray(row_cosine), np.asarray(column_cosine)
    # Patient x (left) and y (posterior) of each stored pixel, unit spacing.
    x = c * rc[0] + r * cc[0]
    y = c * rc[1] + r * cc[1]
    transform = display_transform(row_cosine, column_cosine)
    shown_x, shown_y = transform.apply(x), transform.apply(y)
    assert np.all(np.diff(shown_x, axis=1) > 0), "patient left must increase to the right"
    assert np.all(np.diff(shown_y, axis=0) > 0), "posterior must increase downwards"


def test_representative_slices_cover_the_mask() -> None:
    mask = np.zeros((20, 4, 4), bool)
    mask[5:15] = True
    slices = representative_slices(mask, 4)
    assert len(slices) == 4
    assert all(5 <= k < 15 for k in slices)
    assert representative_slices(np.zeros_like(mask), 3) == []
