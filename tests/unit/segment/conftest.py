"""Shared fixtures: the tiny two-fold nnU-Net test models and toy CT volumes.

The tiny models under ``models/`` were trained with
``python scripts/train_demo_model.py tiny --out tests/unit/segment/models --epochs 60
--cases 10`` on toy ellipsoids (see ``pipeline.segment.training.toy``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.segment.config import ModelConfig, SegmentationConfig, StageConfig
from pipeline.segment.training.toy import TOY_SPACING_MM, toy_case
from pipeline.structures import Structure
from pipeline.volume import CTVolume

TINY_MODELS = Path(__file__).parent / "models"
"""Folder holding ``tiny_organ`` and ``tiny_lesion_cascade``."""

HELD_OUT_SEED = 424242
"""Toy case seed not used in training (training used seeds 20261122..20261131)."""


def toy_volume(hu: np.ndarray, spacing: tuple[float, float, float] = TOY_SPACING_MM,
               thickness: float = 3.0) -> CTVolume:
    """Wrap a (z, y, x) HU array as a CTVolume with identity orientation."""
    return CTVolume(hu=hu.astype(np.float32), spacing_mm=spacing, origin_mm=(0.0, 0.0, 0.0),
                    row_cosine=(1.0, 0.0, 0.0), column_cosine=(0.0, 1.0, 0.0),
                    sop_instance_uids=[f"1.2.3.{i}" for i in range(hu.shape[0])],
                    series_instance_uid="1.2.3", study_instance_uid="1.2",
                    frame_of_reference_uid="1.2.4", slice_thickness_mm=thickness)


def organ_config(**kwargs: object) -> SegmentationConfig:
    """Configuration running the tiny organ model alone on the CPU."""
    base: dict[str, object] = {
        "models_dir": TINY_MODELS,
        "models": {"organ": ModelConfig(folder="tiny_organ")},
        "stages": (StageConfig(model="organ"),),
        "device": "cpu",
    }
    base.update(kwargs)
    return SegmentationConfig.model_validate(base)


def cascade_config() -> SegmentationConfig:
    """Organ model, then the lesion model on the CT cropped to the organ plus its mask."""
    return organ_config(
        models={"organ": ModelConfig(folder="tiny_organ"),
                "lesion": ModelConfig(folder="tiny_lesion_cascade")},
        stages=(StageConfig(model="organ"),
                StageConfig(model="lesion", crop_to=(Structure.LIVER,), crop_margin_mm=6.0,
                            extra_channels=(Structure.LIVER,))))


@pytest.fixture(scope="session")
def toy() -> tuple[np.ndarray, np.ndarray]:
    """A held-out toy case: HU (z, y, x) and labels (1 organ, 2 lesion)."""
    return toy_case(HELD_OUT_SEED)
