"""Model verification: complete folders pass with hashes; broken ones fail clearly."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from pipeline.segment.config import ModelConfig, StageConfig
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.model_folders import ModelError, combined_sha256
from pipeline.structures import Structure

from .conftest import TINY_MODELS, organ_config


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "models"
    shutil.copytree(TINY_MODELS / "tiny_organ", dest / "tiny_organ")
    return dest


def test_verify_records_identity_and_hashes() -> None:
    (info,) = SegmentationEngine(organ_config()).verify()
    assert info.name == "tiny-organ"
    assert info.is_demo
    assert info.folds == (0, 1)
    assert info.labels == {1: Structure.LIVER, 2: Structure.METASTASIS}
    for fold in (0, 1):
        data = (TINY_MODELS / "tiny_organ" / f"fold_{fold}" / "checkpoint_final.pth").read_bytes()
        assert info.fold_sha256[fold] == hashlib.sha256(data).hexdigest()
    assert info.weights_sha256 == combined_sha256(info.fold_sha256)
    assert len(info.weights_sha256) == 64


def test_missing_folder_names_the_model(tmp_path: Path) -> None:
    engine = SegmentationEngine(organ_config(models_dir=tmp_path))
    with pytest.raises(ModelError, match=r"model 'organ'.*does not exist"):
        engine.verify()


def test_missing_checkpoint(tmp_path: Path) -> None:
    models = _copy(tmp_path)
    (models / "tiny_organ" / "fold_1" / "checkpoint_final.pth").unlink()
    with pytest.raises(ModelError, match=r"missing checkpoint .*fold_1"):
        SegmentationEngine(organ_config(models_dir=models)).verify()


def test_missing_dataset_json(tmp_path: Path) -> None:
    models = _copy(tmp_path)
    (models / "tiny_organ" / "dataset.json").unlink()
    with pytest.raises(ModelError, match=r"missing dataset\.json"):
        SegmentationEngine(organ_config(models_dir=models)).verify()


def test_unmapped_label_is_rejected() -> None:
    config = organ_config(models={"organ": ModelConfig(folder="tiny_organ",
                                                       labels={1: Structure.LIVER})})
    with pytest.raises(ModelError, match=r"label value\(s\) \[2\].*not mapped"):
        SegmentationEngine(config).verify()


def test_mapping_of_unknown_label_is_rejected() -> None:
    labels = {1: Structure.LIVER, 2: Structure.METASTASIS, 7: Structure.IVC}
    config = organ_config(models={"organ": ModelConfig(folder="tiny_organ", labels=labels)})
    with pytest.raises(ModelError, match=r"\[7\] are not labels"):
        SegmentationEngine(config).verify()


def test_weights_hash_mismatch() -> None:
    config = organ_config(models={"organ": ModelConfig(folder="tiny_organ",
                                                       weights_sha256="0" * 64)})
    with pytest.raises(ModelError, match="differs from the configured"):
        SegmentationEngine(config).verify()


def test_stage_channels_must_match_model() -> None:
    config = organ_config(stages=(StageConfig(model="organ", extra_channels=(Structure.LIVER,)),))
    with pytest.raises(ModelError, match="expects 1 input channel"):
        SegmentationEngine(config).verify()


def test_unknown_model_key() -> None:
    config = organ_config(stages=(StageConfig(model="nope"),))
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        SegmentationEngine(config).verify()


def test_unloadable_checkpoint(tmp_path: Path) -> None:
    models = _copy(tmp_path)
    (models / "tiny_organ" / "fold_0" / "checkpoint_final.pth").write_bytes(b"not a checkpoint")
    engine = SegmentationEngine(organ_config(models_dir=models))
    engine.verify()
    with pytest.raises(ModelError, match="nnU-Net cannot load"):
        engine.load()
