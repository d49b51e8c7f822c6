"""deploy/flr-model.yaml: the documented learned FLR cascade is a valid configuration."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.config import PipelineConfig
from pipeline.structures import PLANNING_REGIONS, Structure

EXAMPLE = Path(__file__).parents[3] / "deploy" / "flr-model.yaml"


def test_example_is_the_three_stage_flr_cascade() -> None:
    config = PipelineConfig.model_validate(yaml.safe_load(EXAMPLE.read_text())["pipeline"])
    seg = config.segmentation
    liver, metastases, flr = seg.stages
    assert liver.crop_to == () and liver.extra_channels == ()
    assert metastases.extra_channels == (Structure.LIVER,)
    assert flr.crop_to == (Structure.LIVER,)
    assert flr.extra_channels == (Structure.LIVER, Structure.METASTASIS)
    assert set(seg.models[flr.model].labels.values()) == set(PLANNING_REGIONS)
