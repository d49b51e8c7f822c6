"""clDice, Betti numbers, volume figures and lesion detection on analytic shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapes import ball, torus, tube

from pipeline.validate.metrics.lesions import detect_lesions
from pipeline.validate.metrics.topology import Betti, betti_numbers, centreline, cl_dice
from pipeline.validate.metrics.volume import volume_metrics


def test_betti_numbers_of_known_shapes() -> None:
    shape = (24, 56, 56)
    ring = torus(shape, (12, 28, 28), major=16, minor=5)
    assert betti_numbers(ring) == Betti(1, 1, 0)
    solid = ball(shape, (12, 28, 28), 10)
    assert betti_numbers(solid) == Betti(1, 0, 0)
    shell = solid & ~ball(shape, (12, 28, 28), 6)
    assert betti_numbers(shell) == Betti(1, 0, 1)
    two_rings = torus(shape, (12, 28, 14), 8, 3) | torus(shape, (12, 28, 42), 8, 3)
    assert betti_numbers(two_rings) == Betti(2, 2, 0)
    assert betti_numbers(np.zeros(shape, bool)) == Betti(0, 0, 0)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_centreline_of_bars_of_any_thickness(width: int) -> None:
    # skimage's Lee thinning alone returns nothing for even widths (scikit-image #3757)
    bar = np.zeros((12, 12, 40), bool)
    bar[3:3 + width, 3:3 + width, 5:35] = True
    skeleton = centreline(bar)
    assert not (skeleton & ~bar).any()
    assert betti_numbers(skeleton) == Betti(1, 0, 0)
    assert 26 <= skeleton.sum() <= 2 * 30  # about one voxel per slice along the bar
    ring = torus((16, 40, 40), (8, 20, 20), 12, 2)
    assert betti_numbers(centreline(ring)) == Betti(1, 1, 0)


def test_cldice_of_tubes() -> None:
    shape = (21, 21, 80)
    vessel = tube(shape, 4, (5, 74))
    assert cl_dice(vessel, vessel) == 1.0
    # a thinner tube on the same centreline keeps the topology: clDice 1, Dice well below
    thin = tube(shape, 2, (5, 74))
    assert cl_dice(tube(shape, 1.5, (5, 74)), vessel) == pytest.approx(1.0, abs=0.02)
    assert cl_dice(thin, vessel) == pytest.approx(1.0, abs=0.02)
    # a gap of 20 of 70 voxels: Tprec = 1, Tsens ~ 50/70 (minus end effects)
    broken = vessel & ~tube(shape, 5, (30, 49))
    t_sens = 50 / 70
    assert cl_dice(broken, vessel) == pytest.approx(2 * t_sens / (1 + t_sens), abs=0.05)
    assert betti_numbers(broken).b0 == 2
    empty = np.zeros(shape, bool)
    assert cl_dice(empty, empty) == 1.0
    assert cl_dice(vessel, empty) == 0.0 and cl_dice(empty, vessel) == 0.0


def test_volume_metrics_and_empty_rules() -> None:
    v = volume_metrics(110.0, 100.0)
    assert v["volume_ratio"] == pytest.approx(1.1)
    assert v["volume_error_ml"] == pytest.approx(10.0)
    assert v["volume_abs_error_ml"] == pytest.approx(10.0)
    assert v["volume_rel_error_pct"] == pytest.approx(10.0)
    assert volume_metrics(90.0, 100.0)["volume_abs_error_ml"] == pytest.approx(10.0)
    assert volume_metrics(0.0, 0.0)["volume_ratio"] == 1.0
    spurious = volume_metrics(5.0, 0.0)
    assert math.isnan(spurious["volume_ratio"]) and math.isnan(spurious["volume_rel_error_pct"])
    assert spurious["volume_abs_error_ml"] == 5.0


def test_lesion_detection_counts() -> None:
    shape, spacing = (40, 40, 100), (1.0, 1.0, 1.0)
    big1 = ball(shape, (20, 20, 15), 7.0)     # 14 mm: large
    big2 = ball(shape, (20, 20, 45), 6.0)     # 12 mm: large
    small = ball(shape, (20, 20, 75), 2.0)    # 4 mm
    ref = big1 | big2 | small
    extra = ball(shape, (20, 20, 92), 3.0)    # not in the reference
    pred = ball(shape, (20, 20, 17), 6.0) | small | extra  # misses big2
    d = detect_lesions(pred, ref, spacing)
    assert (d.n_reference, d.n_detected, d.n_predicted, d.n_false_positive) == (3, 2, 3, 1)
    assert (d.n_reference_large, d.n_detected_large) == (2, 1)
    assert d.sensitivity == pytest.approx(2 / 3)
    assert d.sensitivity_large == pytest.approx(0.5)
    perfect = detect_lesions(ref, ref, spacing)
    assert perfect.sensitivity == 1.0 and perfect.n_false_positive == 0
    none = detect_lesions(pred, np.zeros(shape, bool), spacing)
    assert math.isnan(none.sensitivity) and none.n_false_positive == 3
