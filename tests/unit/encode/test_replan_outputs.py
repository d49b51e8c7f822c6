"""``dicomnode plan`` on a study folder: result.vN.json, sr.vN.dcm, summary(-pdf).vN."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from sirt_sr_reader import read_groups
from typer.testing import CliRunner

from dicomnode.cli.app import app
from pipeline.encode import codes
from pipeline.encode.pdf import build_encapsulated_pdf, build_pdf
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_sr
from pipeline.quantify.config import QualityGates, QuantificationConfig
from pipeline.quantify.inputs import PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.quantify import quantify
from pipeline.run.report_content import recorded_content

PDFTOTEXT = shutil.which("pdftotext") or "/usr/bin/pdftotext"
DCIODVFY = Path(sys.executable).parent / "dciodvfy"


@pytest.fixture
def study_dir(ct_series, segmentation, tmp_path: Path) -> Path:
    """A folder as ``dicomnode run`` leaves it: result.json, seg.dcm, sr.dcm, PDF."""
    volume, headers = ct_series
    doc = quantify(
        segmentation.labelmap,
        segmentation.labels,
        volume.spacing_mm,
        PatientInfo(height_m=1.75, weight_kg=80.0),
        PlannerInputs(),
        QualityContext(slice_thickness_mm=2.5),
        QuantificationConfig(quality=QualityGates(incomplete_coverage_action="warn")),
    ).to_dict()
    algorithm = segmentation.algorithm
    doc.update(
        series={"chosen_series_instance_uid": volume.series_instance_uid},
        segmentation={
            "demo": algorithm.is_demo,
            "models": [
                {"name": algorithm.name, "version": algorithm.version, "weights_sha256": ""}
            ],
        },
        confidence={"score": 0.9, "review_recommended": False, "per_structure": {}},
    )
    (tmp_path / "result.json").write_text(json.dumps(doc))
    seg = build_seg(volume, headers, segmentation)
    seg.save_as(tmp_path / "seg.dcm")
    content = recorded_content(doc, "Portal venous")
    sr = build_sr(seg, headers, content)
    sr.save_as(tmp_path / "sr.dcm")
    pdf = build_pdf(volume, headers[0], segmentation, content)
    build_encapsulated_pdf(pdf, headers[0], algorithm, derived_from=[seg, sr]).save_as(
        tmp_path / "summary-pdf.dcm", enforce_file_format=True
    )
    return tmp_path


def test_plan_writes_sr_and_pdf_versions(study_dir: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "plan",
            str(study_dir),
            "--lsf",
            "0.05",
            "--tn",
            "2",
            "--territory",
            "left",
            "--microspheres",
            "glass",
            "--target-dose-gy",
            "120",
            "--residual",
            "0.02",
            "--disease",
            "hcc",
            "--calibration-time",
            "2026-03-02T12:00",
            "--administration-time",
            "2026-03-05T12:00",
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        ["plan", str(study_dir), "--territory", "whole", "--microspheres", "resin", "--pretreated"],
    )
    assert res.exit_code == 0, res.output
    names = {p.name for p in study_dir.iterdir()}
    for n in (2, 3):
        assert {
            f"result.v{n}.json",
            f"sr.v{n}.dcm",
            f"summary.v{n}.pdf",
            f"summary-pdf.v{n}.dcm",
        } <= names
    seg = pydicom.dcmread(study_dir / "seg.dcm")
    first = pydicom.dcmread(study_dir / "sr.dcm")
    v2 = pydicom.dcmread(study_dir / "sr.v2.dcm")
    v3 = hd.sr.srread(study_dir / "sr.v3.dcm")
    # Each version names the one before it and references the same SEG, in the same series.
    for sr, earlier in ((v2, first), (v3, v2)):
        predecessor = sr.PredecessorDocumentsSequence[0]
        refs = [
            i.ReferencedSOPInstanceUID
            for s in predecessor.ReferencedSeriesSequence
            for i in s.ReferencedSOPSequence
        ]
        assert refs == [earlier.SOPInstanceUID]
        assert sr.SeriesInstanceUID == first.SeriesInstanceUID
        assert sr.SOPInstanceUID != earlier.SOPInstanceUID
        evidence = [
            i.ReferencedSOPInstanceUID
            for s in sr.CurrentRequestedProcedureEvidenceSequence
            for r in s.ReferencedSeriesSequence
            for i in r.ReferencedSOPSequence
        ]
        assert seg.SOPInstanceUID in evidence
        assert sr.StudyInstanceUID == seg.StudyInstanceUID
    groups = read_groups(hd.sr.srread(study_dir / "sr.v2.dcm"))
    calibration = groups["SIRT MIRD: vial at calibration"]
    assert calibration.time_point == "calibration 2026-03-02T12:00:00"
    v3_doc = json.loads((study_dir / "result.v3.json").read_text())
    assert v3_doc["inputs"]["planner"]["pretreated"] is True
    assert v3_doc["inputs"]["planner"]["lung_shunt_fraction"] == 0.05  # kept from v2
    pdf = pydicom.dcmread(study_dir / "summary-pdf.v3.dcm")
    assert {i.ReferencedSOPInstanceUID for i in pdf.SourceInstanceSequence} == {
        seg.SOPInstanceUID,
        v3.SOPInstanceUID,
    }
    report = subprocess.run(
        [str(DCIODVFY), "-new", str(study_dir / "sr.v3.dcm")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not re.findall(r"^Error", report.stdout + report.stderr, re.MULTILINE)


def test_plan_pdf_names_territory_activity_regions_and_rules(study_dir: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "plan",
            str(study_dir),
            "--lsf",
            "0.06",
            "--tn",
            "3",
            "--territory",
            "right",
            "--microspheres",
            "resin",
            "--target-dose-gy",
            "35",
        ],
    )
    assert res.exit_code == 0, res.output
    text = subprocess.run(
        [PDFTOTEXT, "-layout", str(study_dir / "summary.v2.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text = " ".join(text.split())  # table cells wrap
    assert "Activity to inject into the right lobe" in text
    for region in (
        "treated territory",
        "normal liver of territory",
        "whole normal liver",
        "tumour in territory",
        "lungs",
    ):
        assert f"SIRT MIRD: {region}" in text, region
    assert "EANM2022-RESIN-NL-UNILOBAR" in text and ": met" in text
    assert "Time reference: administration (date and time not given)" in text
    groups = read_groups(hd.sr.srread(study_dir / "sr.v2.dcm"))
    assert (
        groups["SIRT MIRD: normal liver of territory"].evaluations["EANM2022-RESIN-NL-UNILOBAR"]
        == codes.RULE_MET.value
    )


def test_plan_without_seg_writes_only_the_json(study_dir: Path) -> None:
    (study_dir / "seg.dcm").unlink()
    res = CliRunner().invoke(app, ["plan", str(study_dir), "--lsf", "0.05"])
    assert res.exit_code == 0, res.output
    assert (study_dir / "result.v2.json").is_file()
    assert not (study_dir / "sr.v2.dcm").exists()


def test_a_failed_write_leaves_no_part_of_the_version(study_dir: Path) -> None:
    from dicomnode.planning.versions import compute_plan, write_plan
    from pipeline.encode.config import EncodeConfig

    before = sorted(p.name for p in study_dir.iterdir())
    preview = compute_plan(
        study_dir, PlannerInputs(lung_shunt_fraction=0.05), PatientInfo(), QuantificationConfig()
    )
    (study_dir / "result.v2.json").mkdir()  # the result file cannot be written last
    with pytest.raises(OSError):
        write_plan(preview, EncodeConfig())
    after = sorted(p.name for p in study_dir.iterdir() if p.name != ".plan.lock")
    assert after == sorted([*before, "result.v2.json"])  # SR and PDF of v2 removed
    (study_dir / "result.v2.json").rmdir()
    written = write_plan(preview, EncodeConfig())
    assert [p.name for p in written.paths] == [
        "sr.v2.dcm",
        "summary-pdf.v2.dcm",
        "summary.v2.pdf",
        "result.v2.json",
    ]
