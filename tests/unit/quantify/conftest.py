"""Small label-map phantoms for the quantification tests (demo label values)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

PhantomFactory = Callable[..., NDArray[np.uint8]]


def build_phantom(shape: tuple[int, int, int] = (12, 40, 44)) -> NDArray[np.uint8]:
    """A liver box split into Couinaud segments 1-8 as eight blocks, one voxel off the edges.

    z halves x y quarters; segments 1-4 in the lower z half, 5-8 in the upper. Block k
    spans z ``[1 + 5*(k//4), 6 + 5*(k//4))``, y ``[2 + 9*(k%4), 11 + 9*(k%4))``, x ``[2, 42)``.
    """
    lm = np.zeros(shape, np.uint8)
    for k in range(8):
        z0, y0 = 1 + 5 * (k // 4), 2 + 9 * (k % 4)
        lm[z0:z0 + 5, y0:y0 + 9, 2:42] = k + 1
    return lm


@pytest.fixture
def phantom() -> PhantomFactory:
    """Factory of a fresh phantom label map."""
    return build_phantom
