"""The demo's planner step: example inputs, the plan printed, the new SR/PDF version beside
the job's files."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from dicomnode.cli.demo_cmd import planner_step
from dicomnode.demo import DemoPaths, prepare_work_folder, write_node_config

NEW_FILES = ("result.v2.json", "sr.v2.dcm", "summary.v2.pdf", "summary-pdf.v2.dcm")


def _demo_paths(tmp_path: Path) -> DemoPaths:
    paths = prepare_work_folder(tmp_path / "demo")
    write_node_config(paths, 11112)
    return paths


def test_planner_step_prints_the_example_plan_and_writes_its_version(job_dir: Path,
                                                                     tmp_path: Path) -> None:
    paths = _demo_paths(tmp_path)
    console = Console(record=True, width=300)
    plan = planner_step(console, job_dir, paths)
    assert plan is not None and plan.folder == job_dir
    out = " ".join(console.export_text().split())  # one space between table cells
    assert ("EXAMPLE planner inputs, not a patient's: resin microspheres, right lobe, lung "
            "shunt fraction 6 %, tumour-to-normal ratio (T/N) 3") in out
    assert "Lung shunt fraction 6 % (planner)" in out and "Body height 1.75 m (CT header)" in out
    doc = json.loads((job_dir / "result.v2.json").read_text())
    bsa = doc["sirt"]["methods"]["bsa"]
    assert doc["sirt"]["computed_methods"] and doc["inputs"]["planner"]["territory"] == "right"
    assert "Plan: BSA method (resin) - the device's convention" in out
    activity = f"{bsa['activities']['injected_at_administration_gbq']:.3f}"
    assert f"{activity} │ at administration (date and time not given)" in out
    normal = f"{bsa['implied_doses']['normal_liver_gy']:.1f} Gy"
    status = {"met": "met", "not_met": "NOT MET"}[next(
        f["status"] for f in bsa["flags"] if f["code"] == "NORMAL_LIVER_DOSE")]
    assert (f"Non-tumoral liver of the territory │ {doc['sirt']['target']['normal_ml']:.1f} mL"
            f" │ {normal}") in out
    assert f"EANM2022-RESIN-NL-UNILOBAR: <= 40 Gy (unilobar, pretreated or not) │ {status}" in out
    assert "EANM2022-LUNG-SESSION: <= 30 Gy (per session) │ met" in out
    for name in NEW_FILES:
        assert (job_dir / name).is_file() and f" {name} (" in out
    assert "the new SR names the job's SR" in out and "as its predecessor: yes" in out
    assert {p.name for p in plan.written.dicom} == {"sr.v2.dcm", "summary-pdf.v2.dcm"}
    for name in ("result.json", "seg.dcm", "sr.dcm", "summary-pdf.dcm", "summary.pdf"):
        assert (job_dir / name).is_file()  # the job's own version is kept


def test_planner_step_fails_on_a_rejected_result(job_dir: Path, tmp_path: Path) -> None:
    (job_dir / "result.json").write_text(json.dumps({"status": "rejected", "reason": "tilt"}))
    paths = _demo_paths(tmp_path)
    console = Console(record=True, width=300)
    assert planner_step(console, job_dir, paths) is None
    assert "planner step failed: result.json has no quantification" in console.export_text()
