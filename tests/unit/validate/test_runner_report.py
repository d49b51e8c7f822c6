"""Per-case evaluation, the resumable runner on existing predictions, summary and report."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from shapes import ball, tube
from typer.testing import CliRunner

from dicomnode.cli import app
from pipeline.config import PipelineConfig
from pipeline.segment.model_folders import DEMO_NOTICE
from pipeline.structures import DEMO_LABELS, PLANNING_REGIONS, Structure
from pipeline.validate.cases import discover_cases
from pipeline.validate.evaluate import LARGE_METASTASIS, evaluate_case
from pipeline.validate.html_report import write_report
from pipeline.validate.labelmaps import LabelImage
from pipeline.validate.runner import Runner
from pipeline.validate.settings import ValidationSettings
from pipeline.validate.summary import summarise

SHAPE = (40, 48, 64)
SPACING = (2.0, 1.5, 1.5)


def phantom(shift_mm: float = 0.0, lesion: bool = True, radius_mm: float = 26.0) -> np.ndarray:
    """Demo labels: a liver ball split into segments 5 and 8, a lesion, a portal vein tube."""
    lab = np.zeros(SHAPE, np.uint8)
    liver = ball(SHAPE, (40, 36, 48 + shift_mm), radius_mm, SPACING)
    lab[liver] = 5
    lab[liver & (np.arange(SHAPE[0])[:, None, None] >= 20)] = 8
    if lesion:
        lab[ball(SHAPE, (40, 36, 40 + shift_mm), 7.0, SPACING)] = 9
    lab[tube(SHAPE, 1.5, (5, 58))] = 10
    return lab


def image(arr: np.ndarray) -> LabelImage:
    img = sitk.GetImageFromArray(arr.astype(np.uint16))
    img.SetSpacing(SPACING[::-1])
    return LabelImage(img, dict(DEMO_LABELS))


def test_identical_case_is_perfect_and_shift_is_seen() -> None:
    ref = image(phantom())
    same = evaluate_case(image(phantom()), ref)
    rows = {r["structure"]: r for r in same.rows}
    # every structure the reference mapping can hold gets a row, absent ones flagged
    expected = {s.value for s in Structure if s != Structure.LUNG and s not in PLANNING_REGIONS}
    assert set(rows) == expected | {LARGE_METASTASIS}
    present = {"liver", "couinaud_5", "couinaud_8", "metastasis", LARGE_METASTASIS, "portal_vein"}
    for name, r in rows.items():
        assert r["reference_empty"] == r["prediction_empty"] == (name not in present)
        assert r["dice"] == 1.0 and r["hd95_mm"] == 0.0 and r["nsd"] == 1.0
        assert r["volume_ratio"] == 1.0
    assert rows["portal_vein"]["cldice"] == 1.0 and rows["portal_vein"]["b0_error"] == 0
    assert "cldice" not in rows["liver"]
    assert same.lesions is not None and same.lesions["sensitivity"] == 1.0
    shifted = {r["structure"]: r for r in evaluate_case(image(phantom(4.5)), ref).rows}
    assert shifted["liver"]["dice"] < 1.0
    assert shifted["liver"]["hd_mm"] == pytest.approx(4.5, abs=1e-6)
    assert shifted["portal_vein"]["dice"] == 1.0  # the vessel did not move


def _case_set(root: Path, preds: Path, n: int) -> None:
    preds.mkdir(parents=True)
    for i in range(n):
        case = root / f"case_{i}"
        (case / "dicom").mkdir(parents=True)
        ref = image(phantom(lesion=i != 1, radius_mm=20.0 + 2 * i))
        sitk.WriteImage(ref.image, str(case / "reference.nii.gz"))
        sitk.WriteImage(
            image(phantom(1.5 * i, lesion=i != 1, radius_mm=20.0 + 2 * i)).image,
            str(preds / f"case_{i}.nii.gz"),
        )
        (preds / f"case_{i}.json").write_text(
            json.dumps(
                {
                    "labels": {str(v): s.value for v, s in DEMO_LABELS.items()},
                    "confidence": 1.0 - 0.1 * i,
                    "review_recommended": i >= 3,
                    "demo": True,
                }
            )
        )
    (root / "labels.json").write_text(json.dumps({str(v): s.value for v, s in DEMO_LABELS.items()}))


def test_runner_resumes_and_report_is_written(tmp_path: Path) -> None:
    root, preds, out = tmp_path / "cases", tmp_path / "preds", tmp_path / "out"
    _case_set(root, preds, 4)
    cases = discover_cases(root)
    settings = ValidationSettings(bootstrap=200, seed=1, review_below_score=0.85)
    runner = Runner(out, settings, PipelineConfig(), preds)
    records = runner.run(cases, progress=False)
    assert [r["status"] for r in records] == ["ok"] * 4
    assert all((out / "cases" / f"case_{i}.json").is_file() for i in range(4))
    # a second run reads every case back; a changed tolerance recomputes
    calls: list[str] = []
    original = runner.validate_case
    runner.validate_case = lambda case: calls.append(case.case_id) or original(case)
    again = runner.run(cases, progress=False)
    assert calls == [] and [r["case_id"] for r in again] == [r["case_id"] for r in records]
    other = Runner(out, ValidationSettings(tolerance_mm=1.0), PipelineConfig(), preds)
    assert other.cached(cases[0]) is None

    summary = summarise(records, settings)
    liver = summary["structures"]["liver"]["dice"]
    assert liver["n"] == 4 and liver["ci_low"] <= liver["mean"] <= liver["ci_high"]
    # case_1 has no metastasis: left out of the metastasis statistics
    assert summary["structures"]["metastasis"]["dice"]["n"] == 3
    assert summary["lesions"]["n_reference"] == 3
    agreement = summary["volume_agreement"]["liver"]
    assert agreement["n"] == 4 and -1.0 <= agreement["icc"]["icc2_1"] <= 1.0
    assert summary["confidence"]["n"] == 4
    # confidence falls as the shift grows: the score ranks the cases perfectly
    conf = summary["confidence"]
    assert conf["aurc"] == pytest.approx(conf["aurc_optimal"])
    assert conf["aurc"] < conf["aurc_random"] == pytest.approx(np.mean(conf["case_risk"]))
    assert conf["gain_over_random"] > 0 and conf["gain_over_random_ci"][0] >= 0
    assert conf["case_ids"] == [f"case_{i}" for i in range(4)]
    # the cut-off 0.85 flags the cases scored 0.8 and 0.7, the riskiest two
    cut = conf["cutoff"]
    assert (cut["n_flagged"], cut["coverage"]) == (2, 0.5)
    assert cut["risk_flagged"] == pytest.approx(np.mean(conf["case_risk"][2:]))
    assert cut["risk_accepted"] == pytest.approx(np.mean(conf["case_risk"][:2]))
    assert conf["review_flag"]["n_flagged"] == 1
    assert conf["review_flag"]["risk_flagged"] == pytest.approx(conf["case_risk"][3])
    assert summary["demo"] is True

    written = write_report(out, records, summary)
    assert {p.name for p in written} >= {
        "metrics.csv",
        "metrics.json",
        "summary.csv",
        "summary.json",
        "lesions.csv",
        "report.html",
        "box_dice.png",
        "risk_coverage.png",
        "bland_altman_liver.png",
    }
    with open(out / "metrics.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == sum(len(r["structures"]) for r in records)
    first = next(r for r in rows if r["case_id"] == "case_0" and r["structure"] == "liver")
    assert float(first["dice"]) == 1.0
    missing = next(r for r in rows if r["case_id"] == "case_1" and r["structure"] == "metastasis")
    assert missing["hd95_mm"] == "0.0" and missing["reference_empty"] == "True"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert DEMO_NOTICE in html and "0.9707" in html and "data:image/png;base64," in html
    assert 'id="aurc"' in html and "score &lt; 0.85 (configured cut-off)" in html
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert data["structures"]["liver"]["dice"]["mean"] == pytest.approx(liver["mean"])
    assert not any(
        isinstance(v, float) and math.isnan(v) for v in data["structures"]["liver"]["dice"].values()
    )


def test_failed_case_is_recorded_and_retried(tmp_path: Path) -> None:
    root, preds, out = tmp_path / "cases", tmp_path / "preds", tmp_path / "out"
    _case_set(root, preds, 2)
    (preds / "case_1.nii.gz").unlink()
    runner = Runner(out, ValidationSettings(bootstrap=0), PipelineConfig(), preds)
    records = runner.run(discover_cases(root), progress=False)
    assert [r["status"] for r in records] == ["ok", "error"]
    assert "no prediction" in records[1]["reason"]
    assert runner.cached(discover_cases(root)[1]) is None
    summary = summarise(records, ValidationSettings(bootstrap=0))
    assert summary["cases"] == {"total": 2, "ok": 1, "rejected": 0, "error": 1}
    write_report(out, records, summary)
    assert "no prediction" in (out / "report.html").read_text(encoding="utf-8")


def test_cli_reports_case_set_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["validate", str(empty), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no case folders" in result.output
    (empty / "c1").mkdir()
    result = CliRunner().invoke(app, ["validate", str(empty), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no dicom/ folder" in result.output


def test_cli_on_existing_predictions(tmp_path: Path) -> None:
    root, preds, out = tmp_path / "cases", tmp_path / "preds", tmp_path / "out"
    _case_set(root, preds, 3)
    result = CliRunner().invoke(
        app,
        [
            "validate",
            str(root),
            "--out",
            str(out),
            "--predictions",
            str(preds),
            "--bootstrap",
            "20",
            "--tolerance-mm",
            "2",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 of 3 cases measured" in result.output and DEMO_NOTICE in result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["settings"]["tolerance_mm"] == 2.0 and summary["settings"]["bootstrap"] == 20
