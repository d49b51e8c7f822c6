"""ICC on the Shrout & Fleiss (1979) example, Bland-Altman, AURC and bootstrap by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pipeline.validate.metrics.agreement import bland_altman, icc
from pipeline.validate.metrics.bootstrap import bootstrap_ci, mean_ci
from pipeline.validate.metrics.risk import operating_point, risk_coverage

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def test_icc_matches_shrout_fleiss_table_4() -> None:
    r = icc(SHROUT_FLEISS)
    # published values (Table 4), two decimals
    assert r.icc1_1 == pytest.approx(0.17, abs=0.005)
    assert r.icc2_1 == pytest.approx(0.29, abs=0.005)
    assert r.icc3_1 == pytest.approx(0.71, abs=0.005)
    assert r.icc1_k == pytest.approx(0.44, abs=0.005)
    assert r.icc2_k == pytest.approx(0.62, abs=0.005)
    assert r.icc3_k == pytest.approx(0.91, abs=0.005)


def test_icc_of_identical_and_offset_raters() -> None:
    ref = np.array([100.0, 250.0, 80.0, 400.0, 30.0])
    same = icc(np.column_stack([ref, ref]))
    assert same.icc2_1 == pytest.approx(1.0) and same.icc3_1 == pytest.approx(1.0)
    # a constant offset keeps consistency (ICC(3,1) = 1) but costs absolute agreement
    offset = icc(np.column_stack([ref, ref + 50.0]))
    assert offset.icc3_1 == pytest.approx(1.0)
    assert offset.icc2_1 < 0.99
    with pytest.raises(ValueError):
        icc([[1.0, 2.0]])


def test_bland_altman_by_hand() -> None:
    ref = [10.0, 20.0, 30.0, 40.0]
    pred = [12.0, 21.0, 33.0, 42.0]  # differences 2, 1, 3, 2
    ba = bland_altman(pred, ref)
    sd = math.sqrt(((0.0) ** 2 + 1.0 + 1.0 + 0.0) / 3)
    assert ba.bias == pytest.approx(2.0)
    assert ba.sd == pytest.approx(sd)
    assert (ba.lower, ba.upper) == (pytest.approx(2 - 1.96 * sd), pytest.approx(2 + 1.96 * sd))
    assert ba.n == 4


def test_aurc_hand_computed() -> None:
    # most confident first: risks 0, 0.1, 0.5, 0.2
    # selective risks 0, 0.05, 0.2, 0.2 -> AURC = 0.45 / 4
    rc = risk_coverage([0.9, 0.8, 0.7, 0.6], [0.0, 0.1, 0.5, 0.2])
    assert rc.coverage == [0.25, 0.5, 0.75, 1.0]
    assert rc.risk == pytest.approx([0.0, 0.05, 0.2, 0.2])
    assert rc.aurc == pytest.approx(0.1125)
    # oracle order 0, 0.1, 0.2, 0.5: selective 0, 0.05, 0.1, 0.2 -> 0.35 / 4
    assert rc.aurc_optimal == pytest.approx(0.0875)
    assert rc.risk_all == pytest.approx(0.2)
    # ties enter together: conf (0.9, 0.9, 0.5), risk (0, 0.4, 0.2)
    # points (2/3, 0.2), (1, 0.2) -> AURC = 0.2 * 2/3 + 0.2 * 1/3 = 0.2
    tied = risk_coverage([0.9, 0.9, 0.5], [0.0, 0.4, 0.2])
    assert tied.coverage == pytest.approx([2 / 3, 1.0])
    assert tied.aurc == pytest.approx(0.2)
    assert math.isnan(risk_coverage([], []).aurc)


def test_random_order_expects_the_mean_risk_and_oracle_is_lowest() -> None:
    """Averaged over every order of five cases, AURC is the mean risk; none beats the oracle."""
    risk = np.array([0.0, 0.05, 0.1, 0.3, 0.6])
    rc = risk_coverage(np.arange(5.0), risk)
    areas = [
        risk_coverage(np.array(order, float), risk).aurc
        for order in itertools.permutations(range(5))
    ]
    assert np.mean(areas) == pytest.approx(rc.aurc_random) == pytest.approx(risk.mean())
    assert min(areas) == pytest.approx(rc.aurc_optimal)
    assert rc.oracle_coverage == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert rc.oracle_risk == pytest.approx(np.cumsum(risk) / np.arange(1, 6))


def test_operating_point_of_a_cut_off() -> None:
    point = operating_point([0.9, 0.8, 0.7, 0.6], [0.0, 0.1, 0.5, 0.2], 0.75)
    assert (point.coverage, point.n_flagged) == (0.5, 2)
    assert point.risk_accepted == pytest.approx(0.05)
    assert point.risk_flagged == pytest.approx(0.35)
    # a score at the cut-off is accepted (review only below it); nothing flagged -> NaN
    none = operating_point([0.75, 0.8], [0.1, 0.2], 0.75)
    assert none.n_flagged == 0 and math.isnan(none.risk_flagged)


def test_bootstrap_is_seeded_and_covers_the_mean() -> None:
    values = np.random.default_rng(3).normal(0.8, 0.05, 60)
    low, high = mean_ci(values, n_resamples=500, seed=7)
    assert low < values.mean() < high
    assert (low, high) == mean_ci(values, n_resamples=500, seed=7)
    assert (low, high) != mean_ci(values, n_resamples=500, seed=8)
    # standard error of the mean ~ 0.05 / sqrt(60): the 95 % interval is ~ 4 SE wide
    assert high - low == pytest.approx(4 * 0.05 / math.sqrt(60), rel=0.35)
    assert all(math.isnan(v) for v in mean_ci([0.5]))
    assert all(math.isnan(v) for v in bootstrap_ci(5, lambda idx: float("nan")))
