"""cc3d's labels are scipy's, numbered the same way, for every layout of the mask."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pipeline.labelling import label


@pytest.mark.parametrize(
    ("shape", "full"), [((64, 50), False), ((9, 31, 27), False), ((9, 31, 27), True)]
)
def test_label_is_scipys(shape: tuple[int, ...], full: bool) -> None:
    rng = np.random.default_rng(5)
    structure = ndimage.generate_binary_structure(len(shape), len(shape) if full else 1)
    for density in (0.0, 0.3, 0.5, 0.7, 1.0):
        mask = rng.random(shape) < density
        blobs = ndimage.uniform_filter(rng.random(shape), 3) < density  # larger components
        for base in (mask, blobs):
            strided = base[(slice(1, -2), slice(None, None, 2))]
            for view in (base, strided, base.T, np.asfortranarray(base)):
                labels, n = label(view, full=full)
                expected, expected_n = ndimage.label(view, structure=structure)
                assert n == expected_n
                assert np.array_equal(labels, expected)


def test_no_8_connected_2d_labelling() -> None:
    with pytest.raises(ValueError, match="2-D"):
        label(np.ones((4, 4), bool), full=True)
