"""The bounding box of a label map's labelled voxels (pipeline.box)."""

from __future__ import annotations

import numpy as np

from pipeline.box import nonzero_box


def test_the_box_is_the_nonzero_extent_grown_by_the_margin_inside_the_grid() -> None:
    lab = np.zeros((6, 7, 8), np.uint8)
    lab[2, 3, 4] = 5
    lab[3, 5, 7] = 1  # on the last column: the margin is clipped there
    assert nonzero_box(lab) == (slice(2, 4), slice(3, 6), slice(4, 8))
    assert nonzero_box(lab, margin=1) == (slice(1, 5), slice(2, 7), slice(3, 8))
    assert nonzero_box(lab, margin=3) == (slice(0, 6), slice(0, 7), slice(1, 8))
    assert lab[nonzero_box(lab)].sum() == lab.sum()


def test_an_empty_map_has_no_box() -> None:
    assert nonzero_box(np.zeros((3, 4, 5), np.uint8)) is None
    assert nonzero_box(np.zeros((0, 4, 5), np.uint8), margin=1) is None
