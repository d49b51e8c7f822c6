"""End to end: ``dicomnode run`` with the TotalSegmentator preset on folders shaped like
TotalSegmentator's (small random weights, ``tests/totalseg_folders.py``) and a small
synthetic study: the cascade crops and resamples as the preset says, every class lands on
its structure, and the SEG, SR and result.json name the models and their weights hashes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

from dicomnode.cli import app
from pipeline.segment.config import SegmentationConfig
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.geometry import bounding_box
from pipeline.segment.model_folders import DEMO_NOTICE
from pipeline.select.config import SelectionConfig
from pipeline.select.selector import select_series
from pipeline.structures import Structure

sys.path.insert(0, str(Path(__file__).parents[2]))
from totalseg_folders import TASKS, build_results

pytestmark = pytest.mark.slow

NAMES = "TotalSeg-291+TotalSeg-293+TotalSeg-570+TotalSeg-008"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Shaped weights, a synthetic small study, its configuration and the run's outputs."""
    root = tmp_path_factory.mktemp("tseg")
    results = build_results(root / "home" / "nnunet" / "results")
    runner = CliRunner()
    synth = runner.invoke(app, ["synth", str(root / "study"), "--profile", "small", "--seed", "3"])
    assert synth.exit_code == 0, synth.output
    config = root / "config.yaml"
    config.write_text(
        "pipeline:\n  segmentation:\n    preset: totalsegmentator\n"
        "    device: cpu\n    tile_step_size: 1.0\n"
    )
    out = root / "out"
    done = runner.invoke(
        app,
        ["run", str(root / "study" / "dicom"), "--out", str(out), "--config", str(config)],
        env={"TOTALSEG_HOME_DIR": str(root / "home")},
    )
    assert done.exit_code == 0, done.output
    return {
        "results": results,
        "study": root / "study" / "dicom",
        "out": out,
        "result": json.loads((out / "result.json").read_text()),
    }


def test_result_names_the_models_their_hashes_and_mapping(run: dict[str, Any]) -> None:
    seg = run["result"]["segmentation"]
    assert seg["demo"] is False and seg["notice"] is None
    models = {m["key"]: m for m in seg["models"]}
    assert list(models) == list(TASKS)
    for key, task in TASKS.items():
        assert models[key]["folder"] == str((run["results"] / task.folder).resolve())
        assert models[key]["folds"] == [0]
        assert len(models[key]["weights_sha256"]) == 64
    assert models["total_organs"]["labels"] == {
        "5": "liver",
        **dict.fromkeys(["10", "11", "12", "13", "14"], "lung"),
    }
    assert models["total_vessels"]["labels"] == {"13": "ivc", "14": "portal_vein"}
    assert models["liver_vessels"]["labels"] == {"2": "metastasis"}
    present = set(seg["labels"].values())
    assert present == {
        "liver",
        "ivc",
        "portal_vein",
        "metastasis",
        *(f"couinaud_{k}" for k in range(1, 9)),
    }
    assert "hepatic_vein" not in present
    confidence = run["result"]["confidence"]
    assert "agreement" not in confidence["terms"]
    assert any("single-fold" in note for note in confidence["notes"])


def test_stages_crop_to_the_liver_and_resample_to_each_models_plans(run: dict[str, Any]) -> None:
    from nnunetv2.preprocessing.resampling.default_resampling import compute_new_shape

    volume = select_series([run["study"]], SelectionConfig()).chosen
    assert volume is not None
    spacing = [float(s) for s in volume.spacing_mm]
    organs_only = SegmentationConfig.model_validate(
        {
            "preset": "totalsegmentator",
            "models_dir": run["results"],
            "device": "cpu",
            "tile_step_size": 1.0,
            "stages": [{"model": "total_organs"}],
        }
    )
    liver = SegmentationEngine(organs_only).segment(volume).mask(Structure.LIVER)
    stages = {s["model"]: s for s in run["result"]["segmentation"]["stages"]}
    assert stages["total_organs"]["box_zyx"] == [[0, n] for n in volume.shape]
    for key, margin in (("total_vessels", 30.0), ("liver_segments", 10.0)):
        expected = bounding_box(liver, spacing, margin)
        assert expected is not None
        assert stages[key]["box_zyx"] == [[b.start, b.stop] for b in expected], key
    # the tumour stage crops to every liver part found so far (liver and segments)
    around_liver = bounding_box(liver, spacing, 20.0)
    assert around_liver is not None
    for (start, stop), part in zip(stages["liver_vessels"]["box_zyx"], around_liver, strict=True):
        assert start <= part.start and stop >= part.stop
    crop = stages["liver_segments"]["box_zyx"]
    assert any(stop - start < n for (start, stop), n in zip(crop, volume.shape, strict=True))
    for key, task in TASKS.items():
        box = stages[key]["box_zyx"]
        shape = [stop - start for start, stop in box]
        assert stages[key]["network_spacing_mm"] == pytest.approx(task.spacing)
        assert stages[key]["mirror_axes"] == []  # as TotalSegmentator runs them
        assert stages[key]["network_shape"] == list(
            compute_new_shape(shape, spacing, list(task.spacing))
        ), key


def test_seg_and_sr_name_the_site_models_not_the_demo(run: dict[str, Any]) -> None:
    hashes = [m["weights_sha256"] for m in run["result"]["segmentation"]["models"]]
    seg = pydicom.dcmread(run["out"] / "seg.dcm")
    for segment in seg.SegmentSequence:
        algorithm = segment.SegmentationAlgorithmIdentificationSequence[0]
        assert algorithm.AlgorithmName == NAMES
        assert all(h in algorithm.AlgorithmParameters for h in hashes)
    assert DEMO_NOTICE not in str(seg.get("ContentDescription", ""))
    labels = {s.SegmentLabel for s in seg.SegmentSequence}
    assert {"Liver", "Inferior vena cava", "Portal vein", "Couinaud segment VIII"} <= labels
    sr = hd.sr.srread(run["out"] / "sr.dcm")
    texts: list[str] = []
    sr.walk(
        lambda ds, elem: texts.append(str(elem.value)) if elem.VR in ("UT", "LO", "LT") else None
    )
    assert NAMES in texts and not any(DEMO_NOTICE in t for t in texts)
    assert f"weights_sha256={'+'.join(hashes)}" in texts
    assert np.asarray(seg.pixel_array).any()
    pdf = subprocess.run(
        [
            shutil.which("pdftotext") or "/usr/bin/pdftotext",
            "-layout",
            str(run["out"] / "summary.pdf"),
            "-",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert f"Model: {NAMES}" in " ".join(pdf.split())
    assert "DEMO MODEL" not in pdf
