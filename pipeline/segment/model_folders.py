"""Model verification: a trained nnU-Net v2 folder is complete, its labels mapped, hashed.

Nothing is downloaded: a model is a folder on disk. Verification reads only JSON files and
hashes the checkpoints; it does not import nnU-Net.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.segment.config import ModelConfig, SegmentationConfig, StageConfig
from pipeline.structures import Structure

METADATA_FILE = "dicomnode.json"
"""Our metadata beside dataset.json: name, version, demo flag, description, labels."""

DEMO_NOTICE = "Demo model — not for clinical use"
"""Text that marks every output of a demo model."""


class ModelError(RuntimeError):
    """A configured model is missing, incomplete, inconsistent or fails to load."""


@dataclass(frozen=True)
class ModelInfo:
    """Identity of a verified model, recorded in every result (provenance).

    Parameters
    ----------
    key : str
        Registry key in the configuration.
    name, version : str
        From dicomnode.json (folder name / ``"unversioned"`` without it).
    weights_sha256 : str
        SHA-256 over the lines ``fold_<k>:<sha256 of its checkpoint>\\n`` in fold order.
    folds : tuple[int, ...]
        Folds used.
    checkpoint : str
        Checkpoint file name.
    is_demo : bool
        True for demo models (outputs not for clinical use).
    description : str
        Free text from dicomnode.json.
    folder : str
        Absolute model folder.
    fold_sha256 : dict[int, str]
        SHA-256 of each fold's checkpoint.
    labels : dict[int, Structure]
        The model's label value -> structure.
    num_input_channels : int
        Channels the model expects (CT plus cascade masks).
    """

    key: str
    name: str
    version: str
    weights_sha256: str
    folds: tuple[int, ...]
    checkpoint: str
    is_demo: bool
    description: str
    folder: str
    fold_sha256: dict[int, str] = field(default_factory=dict)
    labels: dict[int, Structure] = field(default_factory=dict)
    num_input_channels: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "key": self.key, "name": self.name, "version": self.version,
            "weights_sha256": self.weights_sha256, "folds": list(self.folds),
            "checkpoint": self.checkpoint, "is_demo": self.is_demo,
            "description": self.description, "folder": self.folder,
            "fold_sha256": {str(k): v for k, v in self.fold_sha256.items()},
            "labels": {str(k): v.value for k, v in self.labels.items()},
        }


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def combined_sha256(fold_sha256: dict[int, str]) -> str:
    """Combined weights hash over folds (see :class:`ModelInfo`)."""
    text = "".join(f"fold_{k}:{v}\n" for k, v in fold_sha256.items())
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _read_json(path: Path, key: str) -> dict[str, Any]:
    if not path.is_file():
        raise ModelError(f"model '{key}': missing {path.name} in {path.parent}")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"model '{key}': cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"model '{key}': {path} is not a JSON object")
    return data


def _label_mapping(key: str, spec: ModelConfig, dataset: dict[str, Any],
                   meta: dict[str, Any]) -> dict[int, Structure]:
    model_labels: dict[str, Any] = dataset.get("labels", {})
    values: set[int] = set()
    for name, value in model_labels.items():
        if not isinstance(value, int):
            raise ModelError(f"model '{key}': label '{name}' is a region {value!r}; region-based "
                             "models are not supported")
        if value != 0:
            values.add(value)
    if spec.labels:
        mapping = dict(spec.labels)
    else:
        raw = meta.get("labels")
        if not isinstance(raw, dict) or not raw:
            raise ModelError(f"model '{key}': no label mapping (set 'labels' in the model's "
                             f"configuration or in its {METADATA_FILE})")
        try:
            mapping = {int(k): Structure(v) for k, v in raw.items()}
        except ValueError as exc:
            raise ModelError(f"model '{key}': bad label mapping in {METADATA_FILE}: {exc}") from exc
    unmapped = sorted(values - mapping.keys())
    if unmapped:
        raise ModelError(f"model '{key}': label value(s) {unmapped} of dataset.json are not "
                         "mapped to a structure")
    unknown = sorted(mapping.keys() - values)
    if unknown:
        raise ModelError(f"model '{key}': mapped label value(s) {unknown} are not labels of "
                         "the model (dataset.json)")
    return mapping


def verify_model(key: str, spec: ModelConfig, folder: Path) -> ModelInfo:
    """Check one model folder and record its identity.

    Parameters
    ----------
    key : str
        Registry key (for messages).
    spec : ModelConfig
        How the model is to be used.
    folder : Path
        The trained-model folder.

    Returns
    -------
    ModelInfo
        Identity and hashes.

    Raises
    ------
    ModelError
        Folder, JSON files or checkpoints missing; plans without the trained configuration;
        labels unmapped; channel 0 not CT; weights hash differing from the configured one.
    """
    if not folder.is_dir():
        raise ModelError(f"model '{key}': folder {folder} does not exist (models are not "
                         "downloaded at run time; see docs/demo-model.md)")
    dataset = _read_json(folder / "dataset.json", key)
    plans = _read_json(folder / "plans.json", key)
    meta_path = folder / METADATA_FILE
    meta = _read_json(meta_path, key) if meta_path.exists() else {}
    if not plans.get("configurations"):
        raise ModelError(f"model '{key}': plans.json has no configurations")
    channels = dataset.get("channel_names") or dataset.get("modality") or {}
    if not channels or str(channels.get("0", "")).casefold() != "ct":
        raise ModelError(f"model '{key}': input channel 0 must be 'CT', dataset.json has "
                         f"{channels!r}")
    fold_sha: dict[int, str] = {}
    for fold in spec.folds:
        path = folder / f"fold_{fold}" / spec.checkpoint
        if not path.is_file():
            raise ModelError(f"model '{key}': missing checkpoint {path}")
        fold_sha[fold] = file_sha256(path)
    combined = combined_sha256(fold_sha)
    if spec.weights_sha256 is not None and spec.weights_sha256.lower() != combined:
        raise ModelError(f"model '{key}': weights SHA-256 {combined} differs from the "
                         f"configured {spec.weights_sha256}")
    return ModelInfo(
        key=key,
        name=str(meta.get("name", folder.name)),
        version=str(meta.get("version", "unversioned")),
        weights_sha256=combined,
        folds=tuple(spec.folds),
        checkpoint=spec.checkpoint,
        is_demo=bool(meta.get("demo", False)),
        description=str(meta.get("description", "")),
        folder=str(folder.resolve()),
        fold_sha256=fold_sha,
        labels=_label_mapping(key, spec, dataset, meta),
        num_input_channels=len(channels),
    )


def verify_config(config: SegmentationConfig) -> dict[str, ModelInfo]:
    """Verify every model that a stage uses, and the stages against the models.

    Parameters
    ----------
    config : SegmentationConfig
        The configuration.

    Returns
    -------
    dict[str, ModelInfo]
        Registry key -> identity, for the models the stages use.

    Raises
    ------
    ModelError
        A model fails :func:`verify_model`, a stage names an unknown model, or a stage's
        channels differ from the model's.
    """
    infos: dict[str, ModelInfo] = {}
    for stage in config.stages:
        if stage.model not in config.models:
            raise ModelError(f"stage uses unknown model '{stage.model}' (registry: "
                             f"{sorted(config.models)})")
        if stage.model not in infos:
            infos[stage.model] = verify_model(stage.model, config.models[stage.model],
                                              config.model_folder(stage.model))
        _check_stage(stage, infos[stage.model])
    return infos


def _check_stage(stage: StageConfig, info: ModelInfo) -> None:
    expected = 1 + len(stage.extra_channels)
    if info.num_input_channels != expected:
        raise ModelError(f"model '{info.key}' expects {info.num_input_channels} input "
                         f"channel(s); the stage gives {expected} (CT + extra_channels "
                         f"{[s.value for s in stage.extra_channels]})")
