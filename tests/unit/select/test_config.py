"""SelectionConfig: documented defaults, YAML round trip, strictness."""

from __future__ import annotations

import pydantic
import pytest
import yaml

from pipeline.select.config import SelectionConfig


def _models(model: type[pydantic.BaseModel]):
    yield model
    for info in model.model_fields.values():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            yield from _models(annotation)


def test_every_field_documented():
    for model in _models(SelectionConfig):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"


def test_yaml_round_trip():
    config = SelectionConfig()
    text = yaml.safe_dump({"selection": config.model_dump(mode="json")}, allow_unicode=True)
    assert SelectionConfig.model_validate(yaml.safe_load(text)["selection"]) == config


def test_frozen_and_strict():
    config = SelectionConfig()
    with pytest.raises(pydantic.ValidationError):
        config.thickness.max_mm = 3.0
    with pytest.raises(pydantic.ValidationError):
        SelectionConfig.model_validate({"thickness": {"max_thickness": 3}})
    with pytest.raises(pydantic.ValidationError):
        SelectionConfig.model_validate({"phase": {"accepted": ["venous-ish"]}})
