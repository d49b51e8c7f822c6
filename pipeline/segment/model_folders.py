"""Model verification: a trained nnU-Net v2 folder is complete, its labels mapped, hashed.

Nothing is downloaded: a model is a folder on disk. Verification reads only JSON files and
hashes the checkpoints; it does not import nnU-Net.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
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
    if unmapped and spec.unmapped_labels == "error":
        raise ModelError(f"model '{key}': label value(s) {unmapped} of dataset.json are not "
                         "mapped to a structure")
    unknown = sorted(mapping.keys() - values)
    if unknown:
        raise ModelError(f"model '{key}': mapped label value(s) {unknown} are not labels of "
                         "the model (dataset.json)")
    return mapping


def _label_name_warnings(key: str, spec: ModelConfig, dataset: dict[str, Any]) -> list[str]:
    names = {v: n for n, v in dataset.get("labels", {}).items() if isinstance(v, int)}
    return [f"model '{key}': dataset.json names label {value} '{names.get(value)}', the "
            f"configuration expects '{expected}'"
            for value, expected in sorted(spec.label_names.items())
            if names.get(value) != expected]


def trainer_found(name: str) -> bool:
    """Whether the installed nnU-Net finds trainer class ``name`` (as its predictor does).

    Imports nnU-Net's training modules (a few seconds).
    """
    from os.path import join

    import nnunetv2
    from nnunetv2.utilities.find_class_by_name import recursive_find_python_class

    with contextlib.redirect_stdout(sys.stderr):
        found = recursive_find_python_class(
            join(nnunetv2.__path__[0], "training", "nnUNetTrainer"), name,
            "nnunetv2.training.nnUNetTrainer")
    return found is not None


def _plans_problems(key: str, spec: ModelConfig, plans: dict[str, Any]) -> list[str]:
    problems = []
    configurations = plans.get("configurations")
    if not isinstance(configurations, dict) or not configurations:
        problems.append(f"model '{key}': plans.json has no configurations")
    elif spec.configuration is not None and spec.configuration not in configurations:
        problems.append(f"model '{key}': plans.json has no configuration "
                        f"'{spec.configuration}' (it has {sorted(configurations)})")
    if spec.plans is not None and plans.get("plans_name") != spec.plans:
        problems.append(f"model '{key}': plans.json is plans '{plans.get('plans_name')}', "
                        f"the configuration names '{spec.plans}'")
    return problems


@dataclass
class ModelCheck:
    """Everything found out about one configured model folder (``dicomnode models check``).

    Parameters
    ----------
    key : str
        Registry key.
    folder : Path
        The folder checked.
    info : ModelInfo or None
        Identity and hashes when the folder is usable (None otherwise).
    problems : list[str]
        What is missing or wrong; empty when the model can be used.
    warnings : list[str]
        What deserves a look but does not stop the model (e.g. a label name differs).
    plans : dict
        ``dataset_name``, ``plans_name`` and, per configuration, ``spacing`` (mm, in the
        plans' axis order) and ``patch_size`` (voxels), when plans.json was readable.
    used : bool
        Whether a stage runs the model (problems of unused registry entries stop nothing).
    """

    key: str
    folder: Path
    info: ModelInfo | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    plans: dict[str, Any] = field(default_factory=dict)
    used: bool = True


def _plans_summary(plans: dict[str, Any]) -> dict[str, Any]:
    configurations = plans.get("configurations") or {}
    return {"dataset_name": plans.get("dataset_name"), "plans_name": plans.get("plans_name"),
            "configurations": {
                name: {"spacing": c.get("spacing"), "patch_size": c.get("patch_size")}
                for name, c in configurations.items() if isinstance(c, dict)}}


def check_model(key: str, spec: ModelConfig, folder: Path, *, hash_weights: bool = True,
                find_trainer: bool = False) -> ModelCheck:
    """Check one model folder, collecting every problem instead of stopping at the first.

    Parameters
    ----------
    key : str
        Registry key (for messages).
    spec : ModelConfig
        How the model is to be used.
    folder : Path
        The trained-model folder.
    hash_weights : bool
        Hash the checkpoints (and compare with ``spec.weights_sha256``); False only checks
        that they exist (fast, for ``config check``).
    find_trainer : bool
        Check that the installed nnU-Net has ``spec.trainer`` (imports nnU-Net).

    Returns
    -------
    ModelCheck
        Problems, warnings, plans summary and, when usable, the model's identity.
    """
    report = ModelCheck(key, folder)
    if not folder.is_dir():
        report.problems.append(
            f"model '{key}': folder {folder} does not exist (models are not downloaded at run "
            "time; see docs/demo-model.md and docs/totalsegmentator.md)")
        return report
    loaded: dict[str, dict[str, Any]] = {}
    for name in ("dataset.json", "plans.json"):
        try:
            loaded[name] = _read_json(folder / name, key)
        except ModelError as exc:
            report.problems.append(str(exc))
    meta: dict[str, Any] = {}
    if (folder / METADATA_FILE).exists():
        try:
            meta = _read_json(folder / METADATA_FILE, key)
        except ModelError as exc:
            report.problems.append(str(exc))
    dataset, plans = loaded.get("dataset.json"), loaded.get("plans.json")
    if plans is not None:
        report.plans = _plans_summary(plans)
        report.problems += _plans_problems(key, spec, plans)
    if spec.trainer is not None and find_trainer and not trainer_found(spec.trainer):
        report.problems.append(f"model '{key}': the installed nnU-Net has no trainer class "
                               f"'{spec.trainer}'")
    channels: dict[str, Any] = {}
    labels: dict[int, Structure] = {}
    if dataset is not None:
        channels = dataset.get("channel_names") or dataset.get("modality") or {}
        if not channels or str(channels.get("0", "")).casefold() != "ct":
            report.problems.append(f"model '{key}': input channel 0 must be 'CT', dataset.json "
                                   f"has {channels!r}")
        try:
            labels = _label_mapping(key, spec, dataset, meta)
        except ModelError as exc:
            report.problems.append(str(exc))
        report.warnings += _label_name_warnings(key, spec, dataset)
    fold_sha: dict[int, str] = {}
    for fold in spec.folds:
        path = folder / f"fold_{fold}" / spec.checkpoint
        if not path.is_file():
            report.problems.append(f"model '{key}': missing checkpoint {path}")
        elif hash_weights:
            fold_sha[fold] = file_sha256(path)
    combined = combined_sha256(fold_sha) if hash_weights else ""
    if (hash_weights and spec.weights_sha256 is not None and len(fold_sha) == len(spec.folds)
            and spec.weights_sha256.lower() != combined):
        report.problems.append(f"model '{key}': weights SHA-256 {combined} differs from the "
                               f"configured {spec.weights_sha256}")
    if report.problems:
        return report
    report.info = ModelInfo(
        key=key,
        name=spec.name or str(meta.get("name", folder.name)),
        version=spec.version or str(meta.get("version", "unversioned")),
        weights_sha256=combined,
        folds=tuple(spec.folds),
        checkpoint=spec.checkpoint,
        is_demo=bool(meta.get("demo", False)),
        description=spec.description or str(meta.get("description", "")),
        folder=str(folder.resolve()),
        fold_sha256=fold_sha,
        labels=labels,
        num_input_channels=len(channels),
    )
    return report


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
        Folder, JSON files or checkpoints missing; plans without the trained (or the
        configured) configuration, or of other plans than configured; labels unmapped;
        channel 0 not CT; weights hash differing from the configured one. The message
        names every problem found.
    """
    report = check_model(key, spec, folder)
    if report.info is None:
        raise ModelError("; ".join(report.problems))
    return report.info


def check_config(config: SegmentationConfig, *, hash_weights: bool = True,
                 find_trainer: bool = False) -> list[ModelCheck]:
    """Check every model of the registry and the stages against them (nothing raises).

    Parameters
    ----------
    config : SegmentationConfig
        The configuration.
    hash_weights, find_trainer : bool
        As in :func:`check_model`.

    Returns
    -------
    list[ModelCheck]
        One per registry entry, stage models first in stage order; a stage giving other
        channels than its model expects adds a problem to the model's report, a stage
        naming an unknown model gets a report of its own.
    """
    used = list(dict.fromkeys(stage.model for stage in config.stages))
    keys = used + [k for k in config.models if k not in used]
    reports = {}
    for key in keys:
        if key not in config.models:
            reports[key] = ModelCheck(key, config.resolved_models_dir(), problems=[
                f"stage uses unknown model '{key}' (registry: {sorted(config.models)})"])
            continue
        reports[key] = check_model(key, config.models[key], config.model_folder(key),
                                   hash_weights=hash_weights, find_trainer=find_trainer)
        reports[key].used = key in used
    for stage in config.stages:
        info = reports[stage.model].info
        if info is not None:
            try:
                _check_stage(stage, info)
            except ModelError as exc:
                reports[stage.model].problems.append(str(exc))
    return list(reports.values())


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
