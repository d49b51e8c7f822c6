"""Slice-by-slice logits resampling against nnU-Net's own resampling of probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nnunetv2.preprocessing.resampling.default_resampling import (
    determine_do_sep_z_and_axis,
    resample_data_or_seg_to_shape,
)
from scipy import ndimage

from pipeline.segment.resample import foreground_box, logits_to_labels

CASES = [
    # network spacing, input spacing, network shape, input shape (all in nnU-Net's axes)
    ((4.0, 4.0, 4.0), (1.25, 0.8, 0.8), (20, 30, 25), (64, 150, 125)),   # upsampling
    ((4.0, 4.0, 4.0), (5.0, 0.7, 0.7), (20, 30, 25), (16, 171, 143)),    # anisotropic: z nearest
    ((3.0, 1.0, 1.0), (1.0, 2.0, 2.0), (10, 40, 40), (30, 20, 20)),      # mixed up/down
    ((1.0, 1.0, 4.0), (0.7, 0.7, 6.0), (30, 30, 8), (43, 43, 5)),        # low-res last axis
]


@pytest.mark.parametrize(("network", "image", "shape_in", "shape_out"), CASES)
def test_argmax_equals_nnunet_resampling(network: tuple[float, ...], image: tuple[float, ...],
                                         shape_in: tuple[int, ...],
                                         shape_out: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape_out))
    logits = ndimage.gaussian_filter(rng.normal(size=(5, *shape_in)), (0, 1, 1, 1))
    logits = logits.astype(np.float32)
    reference = resample_data_or_seg_to_shape(
        logits, shape_out, network, image, is_seg=False, order=1, order_z=0,
        force_separate_z=None).argmax(0)
    separate_z, axis = determine_do_sep_z_and_axis(None, network, image)
    labels = logits_to_labels(torch.from_numpy(logits), shape_out,
                              nearest_axis=axis if separate_z else None)
    assert labels.shape == shape_out and labels.dtype == np.uint8
    assert (labels == reference).mean() > 0.9999


def test_same_shape_is_plain_argmax() -> None:
    logits = torch.randn(4, 6, 7, 8)
    assert np.array_equal(logits_to_labels(logits, (6, 7, 8)), logits.argmax(0).numpy())


def _blob_logits(rng: np.random.Generator, classes: int, shape: tuple[int, ...],
                 fg_size: float) -> torch.Tensor:
    """Smooth logits: class 0 everywhere but in a few random blobs."""
    logits = ndimage.gaussian_filter(rng.normal(size=(classes, *shape)), (0, 1, 1, 1))
    logits[0] += 1.0
    grid = np.indices(shape)
    for _ in range(int(rng.integers(1, 4))):
        centre = rng.uniform(0, shape)
        inside = sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) < fg_size ** 2
        logits[int(rng.integers(1, classes)), inside] += 2.0
    return torch.from_numpy(logits.astype(np.float32))


@pytest.mark.parametrize(("network", "image", "shape_in", "shape_out"), CASES)
def test_foreground_box_gives_the_whole_grids_labels(
        network: tuple[float, ...], image: tuple[float, ...], shape_in: tuple[int, ...],
        shape_out: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape_in))
    separate_z, axis = determine_do_sep_z_and_axis(None, network, image)
    nearest = axis if separate_z else None
    for size in (2.0, 4.0, 40.0):  # small blobs, larger ones, blobs reaching the edges
        logits = _blob_logits(rng, 5, shape_in, size)
        whole = logits_to_labels(logits, shape_out, nearest_axis=nearest, foreground_only=False)
        boxed = logits_to_labels(logits, shape_out, nearest_axis=nearest)
        assert whole.any()
        assert np.array_equal(boxed, whole)


def test_foreground_box_finds_the_non_background_argmax() -> None:
    logits = torch.zeros(3, 6, 7, 8)
    assert foreground_box(logits) is None                     # ties: the first maximum, 0
    assert np.array_equal(logits_to_labels(logits, (12, 14, 16)), np.zeros((12, 14, 16)))
    logits[2, 1, 2:4, 5] = 1.0
    assert foreground_box(logits) == (slice(1, 2), slice(2, 4), slice(5, 6))
    assert foreground_box(logits[:1]) is None                 # one class: all background
