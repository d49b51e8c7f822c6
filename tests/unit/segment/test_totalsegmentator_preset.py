"""The TotalSegmentator preset: what it configures, how its folders are checked, how its
classes map onto our structures, and ``dicomnode models check`` / ``config check``."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dicomnode.cli import app
from pipeline.segment.composition import StageMap, StageMaps
from pipeline.segment.config import SegmentationConfig
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.model_folders import (
    check_config,
    combined_sha256,
    trainer_found,
    verify_config,
)
from pipeline.segment.presets import totalsegmentator_weights_dir
from pipeline.segment.result import OUTPUT_LABEL_VALUES
from pipeline.structures import COUINAUD_SEGMENTS, Structure

sys.path.insert(0, str(Path(__file__).parents[2]))
from totalseg_folders import TASKS, build_results

EXPECTED_LABELS = {
    "total_organs": {5: Structure.LIVER, **dict.fromkeys(range(10, 15), Structure.LUNG)},
    "total_vessels": {13: Structure.IVC, 14: Structure.PORTAL_VEIN},
    "liver_segments": {k: COUINAUD_SEGMENTS[k - 1] for k in range(1, 9)},
    "liver_vessels": {2: Structure.METASTASIS},
}
"""Our structure for each TotalSegmentator class the preset uses (the rest: background)."""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TotalSegmentator weights folder with the four shaped models."""
    return build_results(tmp_path_factory.mktemp("totalseg") / "nnunet" / "results")


def preset(results: Path, **fields: object) -> SegmentationConfig:
    return SegmentationConfig.model_validate(
        {"preset": "totalsegmentator", "models_dir": results, "device": "cpu", **fields}
    )


def test_preset_configures_the_cascade() -> None:
    config = SegmentationConfig(preset="totalsegmentator")
    assert [s.model for s in config.stages] == [
        "total_organs",
        "total_vessels",
        "liver_segments",
        "liver_vessels",
    ]
    crops = {s.model: (s.crop_to, s.crop_margin_mm) for s in config.stages}
    assert crops["total_organs"][0] == ()
    assert crops["liver_segments"] == ((Structure.LIVER,), 10.0)
    assert crops["liver_vessels"] == ((Structure.LIVER,), 20.0)
    assert crops["total_vessels"] == ((Structure.LIVER,), 30.0)
    for key, task in TASKS.items():
        model = config.models[key]
        assert model.folder == task.folder
        assert model.folds == (0,)
        assert (model.trainer, model.plans, model.configuration) == (
            task.trainer,
            "nnUNetPlans",
            "3d_fullres",
        )
        assert model.use_mirroring is False and model.unmapped_labels == "background"
        assert model.labels == EXPECTED_LABELS[key]
    assert config.models["liver_segments"].trainer == "nnUNetTrainerNoMirroring"
    assert config.models["liver_vessels"].folder == (
        "Dataset008_HepaticVessel/nnUNetTrainer__nnUNetPlans__3d_fullres"
    )


def test_given_models_refine_the_preset_and_given_stages_replace_it() -> None:
    config = SegmentationConfig.model_validate(
        {
            "preset": "totalsegmentator",
            "models": {"liver_vessels": {"folds": [0, 1], "use_mirroring": True}},
            "stages": [{"model": "total_organs"}],
        }
    )
    vessels = config.models["liver_vessels"]
    assert vessels.folds == (0, 1) and vessels.use_mirroring is True
    assert vessels.labels == EXPECTED_LABELS["liver_vessels"]  # the rest from the preset
    assert [s.model for s in config.stages] == ["total_organs"]
    with pytest.raises(ValueError, match="preset"):
        SegmentationConfig.model_validate({"preset": "nnunet-zoo"})


def test_weights_folder_is_found_as_totalsegmentator_finds_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TOTALSEG_WEIGHTS_PATH", raising=False)
    monkeypatch.delenv("TOTALSEG_HOME_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert totalsegmentator_weights_dir() == tmp_path / ".totalsegmentator/nnunet/results"
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "ts"))
    assert totalsegmentator_weights_dir() == tmp_path / "ts/nnunet/results"
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "w"))
    assert SegmentationConfig(preset="totalsegmentator").resolved_models_dir() == tmp_path / "w"
    assert (
        SegmentationConfig(
            preset="totalsegmentator", models_dir=tmp_path / "x"
        ).resolved_models_dir()
        == tmp_path / "x"
    )


def test_shaped_folders_verify_with_every_class_mapped(results: Path) -> None:
    infos = verify_config(preset(results))
    assert {k: i.labels for k, i in infos.items()} == EXPECTED_LABELS
    for key, info in infos.items():
        checkpoint = results / TASKS[key].folder / "fold_0" / "checkpoint_final.pth"
        assert info.fold_sha256 == {0: hashlib.sha256(checkpoint.read_bytes()).hexdigest()}
        assert info.weights_sha256 == combined_sha256(info.fold_sha256)
        assert not info.is_demo and info.name == f"TotalSeg-{TASKS[key].dataset[7:10]}"


def test_check_names_trainers_plans_and_warns_about_label_names(results: Path) -> None:
    reports = check_config(preset(results), find_trainer=True)
    assert [r.key for r in reports] == list(TASKS)
    assert all(not r.problems and not r.warnings and r.used for r in reports)
    segments = next(r for r in reports if r.key == "liver_segments")
    assert segments.plans["configurations"]["3d_fullres"]["spacing"] == pytest.approx(
        [6.0, 3.2187519, 3.2187519]
    )
    assert trainer_found("nnUNetTrainer_DASegOrd0_NoMirroring")
    assert not trainer_found("nnUNetTrainer_NoSuchTrainer")
    renamed = preset(results, models={"liver_vessels": {"label_names": {2: "Tumour"}}})
    (vessels,) = [r for r in check_config(renamed) if r.key == "liver_vessels"]
    assert not vessels.problems
    assert vessels.warnings == [
        "model 'liver_vessels': dataset.json names label 2 "
        "'liver_tumor', the configuration expects 'Tumour'"
    ]


def test_check_says_exactly_what_is_missing(results: Path, tmp_path: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    organs = copy / TASKS["total_organs"].folder
    (organs / "fold_0" / "checkpoint_final.pth").unlink()
    plans = json.loads((organs / "plans.json").read_text())
    plans["plans_name"] = "nnUNetResEncUNetLPlans"
    (organs / "plans.json").write_text(json.dumps(plans))
    shutil.rmtree(copy / TASKS["liver_segments"].dataset)
    config = preset(
        copy, models={"liver_vessels": {"trainer": "nnUNetTrainerMissing", "configuration": "2d"}}
    )
    problems = {r.key: r.problems for r in check_config(config, find_trainer=True)}
    assert problems["total_vessels"] == []
    assert problems["total_organs"] == [
        "model 'total_organs': plans.json is plans 'nnUNetResEncUNetLPlans', the "
        "configuration names 'nnUNetPlans'",
        f"model 'total_organs': missing checkpoint {organs / 'fold_0/checkpoint_final.pth'}",
    ]
    assert len(problems["liver_segments"]) == 1
    assert "Dataset570_ct_liver_segments" in problems["liver_segments"][0]
    assert "does not exist" in problems["liver_segments"][0]
    assert problems["liver_vessels"] == [
        "model 'liver_vessels': plans.json has no configuration '2d' (it has ['3d_fullres'])",
        "model 'liver_vessels': the installed nnU-Net has no trainer class 'nnUNetTrainerMissing'",
    ]


def test_every_class_reaches_the_right_structure() -> None:
    """Each model's label map, composed as the engine composes the cascade's stages."""
    shape = (2, 2, 40)
    whole = (slice(0, 2), slice(0, 2), slice(0, 40))
    maps = StageMaps(shape)
    config = SegmentationConfig(preset="totalsegmentator")
    expected = np.zeros(shape, np.uint8)
    for row, key in enumerate(["total_organs", "total_vessels", "liver_segments", "liver_vessels"]):
        n_classes = len(TASKS[key].names)
        labelmap = np.zeros(shape, np.uint8)
        labelmap[row // 2, row % 2, : n_classes + 1] = np.arange(n_classes + 1)
        maps.add(StageMap(whole, labelmap, dict(config.models[key].labels)))
        for value, structure in config.models[key].labels.items():
            expected[row // 2, row % 2, value] = OUTPUT_LABEL_VALUES[structure]
    assert np.array_equal(maps.compose(config.priority), expected)
    assert set(maps.structures) == {s for m in EXPECTED_LABELS.values() for s in m.values()}


def test_models_check_command_prints_hashes(results: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"pipeline:\n  segmentation:\n    preset: totalsegmentator\n    models_dir: {results}\n"
    )
    run = CliRunner().invoke(app, ["models", "check", "--config", str(config)])
    assert run.exit_code == 0, run.output
    for task in TASKS.values():
        digest = hashlib.sha256(
            (results / task.folder / "fold_0" / "checkpoint_final.pth").read_bytes()
        ).hexdigest()
        assert f"fold_0/checkpoint_final.pth sha256 {digest}" in run.output
    assert "liver_segments: OK" in run.output and "5->liver" in run.output
    as_json = CliRunner().invoke(app, ["models", "check", "--config", str(config), "--json"])
    summary = json.loads(as_json.output)
    assert summary["preset"] == "totalsegmentator"
    assert [m["ok"] for m in summary["models"]] == [True] * 4


def test_missing_weights_are_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"pipeline:\n  segmentation:\n    preset: totalsegmentator\n"
        f"    models_dir: {tmp_path / 'nowhere'}\n"
    )
    commands = (
        ["models", "check"],
        ["config", "check"],
        ["run", str(tmp_path), "--out", str(tmp_path / "out")],
    )
    for command in commands:
        run = CliRunner().invoke(app, [*command, "--config", str(config)])
        assert run.exit_code == 2, run.output
        assert run.exception is None or isinstance(run.exception, SystemExit)
        assert "Traceback" not in run.output
        assert (
            f"model 'total_organs': folder {tmp_path / 'nowhere'}/Dataset291_"
            "TotalSegmentator_part1_organs_1559subj/nnUNetTrainerNoMirroring__nnUNetPlans"
            "__3d_fullres does not exist"
        ) in run.output


def test_mirroring_as_configured_per_model(results: Path) -> None:
    """Task 8 was trained with mirroring (its checkpoint allows all axes): the preset runs it
    without, as TotalSegmentator does, and a site may turn it on for that model alone."""
    from pipeline.segment.training.toy import toy_case

    from .conftest import toy_volume

    volume = toy_volume(toy_case(7)[0])
    mirrored: dict[bool, list[int]] = {}
    for setting in (False, True):
        config = preset(
            results,
            stages=[{"model": "liver_vessels"}],
            models={"liver_vessels": {"use_mirroring": setting}},
        )
        (stage,) = SegmentationEngine(config).segment(volume).stages
        mirrored[setting] = stage["mirror_axes"]
    assert mirrored == {False: [], True: [0, 1, 2]}
    assert (
        SegmentationConfig(preset="totalsegmentator").models["liver_vessels"].use_mirroring is False
    )
