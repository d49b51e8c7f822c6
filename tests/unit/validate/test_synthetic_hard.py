"""Hard synthetic studies: one selectable series under each hard condition."""

from __future__ import annotations

import pytest

from pipeline.synth.phantom import make_phantom
from pipeline.synth.spec import PROFILES, expected_choice
from pipeline.validate.synthetic import HARD_CONDITIONS, hard_study_spec


@pytest.mark.parametrize("condition", HARD_CONDITIONS, ids=lambda c: c.name)
def test_each_condition_gives_one_series_a_selection_must_choose(condition) -> None:
    spec = hard_study_spec(2000, condition)
    assert len(spec.series) == 1 and expected_choice(spec.series) == 0
    series = spec.series[0]
    assert series.low_dose is condition.low_dose
    assert series.slice_thickness_mm == PROFILES["small"].thin_mm
    assert spec.phantom_overrides == condition.phantom
    assert (series.z_range_mm is None) == (condition.liver_cut == 0.0)


def test_partial_coverage_leaves_out_the_top_of_the_liver() -> None:
    condition = next(c for c in HARD_CONDITIONS if c.liver_cut > 0.0)
    series = hard_study_spec(2000, condition).series[0]
    low, high = make_phantom(2000, **condition.phantom).liver_bbox
    extent = float(high[2] - low[2])
    assert series.z_range_mm is not None
    z0, z1 = series.z_range_mm
    assert z0 < float(low[2])  # the bottom of the liver is covered
    assert z1 == pytest.approx(float(high[2]) - condition.liver_cut * extent)
