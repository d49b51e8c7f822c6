"""EncodeConfig defaults and validation."""

from __future__ import annotations

import pydantic
import pytest

from pipeline.encode.config import EncodeConfig, SegmentationType


def test_empty_config_is_binary_with_lesion_segments_and_pdf() -> None:
    config = EncodeConfig()
    assert config.segmentation_type is SegmentationType.BINARY
    assert config.lesions_as_segments and config.write_pdf


def test_segmentation_type_accepts_its_string() -> None:
    config = EncodeConfig.model_validate({"segmentation_type": "LABELMAP"})
    assert config.segmentation_type is SegmentationType.LABELMAP


def test_unknown_fields_and_long_descriptions_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        EncodeConfig(colour="red")  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        EncodeConfig(seg_series_description="x" * 39)
