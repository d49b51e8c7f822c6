"""End to end: ``dicomnode validate --synthetic 2`` with the demo model (one fold, to stay
fast) writes the report, agrees with the segmentation benchmark's Dice and resumes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from typer.testing import CliRunner

from dicomnode.cli import app
from pipeline.segment.metrics import evaluate
from pipeline.segment.model_folders import DEMO_NOTICE
from pipeline.structures import Structure

FAST_CONFIG = """\
pipeline:
  segmentation:
    models: {demo: {folds: [0]}}
    tile_step_size: 1.0
"""


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """Two synthetic small studies (seeds 5000, 5001) validated with the demo model."""
    root = tmp_path_factory.mktemp("validate")
    config = root / "fast.yaml"
    config.write_text(FAST_CONFIG)
    cases, out = root / "cases", root / "out"
    result = CliRunner().invoke(app, [
        "validate", str(cases), "--out", str(out), "--config", str(config), "--synthetic", "2",
        "--synthetic-seed", "5000", "--bootstrap", "100", "--no-progress"])
    assert result.exit_code == 0, result.output
    return cases, out, result.output


def test_report_files_and_notice(validated) -> None:
    _, out, output = validated
    assert "2 of 2 cases measured" in output and DEMO_NOTICE in output
    for name in ("metrics.csv", "metrics.json", "summary.csv", "summary.json", "lesions.csv",
                 "cases.csv", "report.html", "plots/box_dice.png", "plots/risk_coverage.png",
                 "predictions/synth_5000.nii.gz", "cases/synth_5001.json"):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text(encoding="utf-8")
    assert DEMO_NOTICE in html and "0.9707" in html
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["demo"] is True and summary["cases"]["ok"] == 2
    liver = summary["structures"]["liver"]
    assert liver["dice"]["n"] == 2 and 0.5 < liver["dice"]["mean"] <= 1.0
    assert liver["hd95_mm"]["mean"] > 0.0
    assert {"cldice", "b0_error"} <= set(summary["structures"]["ivc"])


def test_figures_agree_with_the_segmentation_benchmark(validated) -> None:
    cases, out, _ = validated
    with open(out / "metrics.csv", encoding="utf-8") as fh:
        rows = {(r["case_id"], r["structure"]): r for r in csv.DictReader(fh)}
    for case in ("synth_5000", "synth_5001"):
        sidecar = json.loads((out / "predictions" / f"{case}.json").read_text())
        pred = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "predictions" / f"{case}.nii.gz")))
        labels = {int(v): Structure(s) for v, s in sidecar["labels"].items()}
        uid = sidecar["series_instance_uid"]
        truth = np.load(cases / case / "truth" / "labels" / f"{uid}.npy")
        spacing = json.loads((out / "cases" / f"{case}.json").read_text())["spacing_mm"]
        ref = evaluate(pred.astype(np.uint8), labels, truth, spacing)
        assert float(rows[(case, "liver")]["dice"]) == pytest.approx(ref["liver_dice"], abs=1e-9)
        for segment, value in ref["couinaud_dice"].items():
            assert float(rows[(case, segment)]["dice"]) == pytest.approx(value, abs=1e-9)
        if ref["metastasis_large_dice"] is not None:
            assert float(rows[(case, "metastasis_10mm")]["dice"]) == pytest.approx(
                ref["metastasis_large_dice"], abs=1e-9)


def test_rerun_resumes_and_predictions_reevaluate(validated, tmp_path: Path) -> None:
    cases, out, _ = validated
    before = {p.name: p.stat().st_mtime_ns for p in (out / "cases").iterdir()}
    again = CliRunner().invoke(app, ["validate", str(cases), "--out", str(out), "--config",
                                     str(out.parent / "fast.yaml"), "--bootstrap", "50",
                                     "--no-progress"])
    assert again.exit_code == 0, again.output
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cases").iterdir()} == before
    # the kept predictions evaluate to the same figures without inference
    other = tmp_path / "re"
    result = CliRunner().invoke(app, ["validate", str(cases), "--out", str(other), "--bootstrap",
                                      "50", "--no-progress", "--predictions",
                                      str(out / "predictions")])
    assert result.exit_code == 0, result.output
    def table(folder: Path) -> list[dict[str, str]]:
        with open(folder / "metrics.csv", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    first, second = table(out), table(other)
    assert len(first) == len(second) > 0
    for a, b in zip(first, second, strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if value in ("", "True", "False") or key in ("case_id", "structure"):
                assert b[key] == value, key
            else:  # the NIfTI header keeps the spacing as float32
                assert float(b[key]) == pytest.approx(float(value), rel=1e-5, abs=1e-9), key
