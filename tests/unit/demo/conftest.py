"""Fixtures of the demo's planner step: a job's result folder made on the encode phantom."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "encode"))

from encode_synthetic_ct import SHAPE, Geometry, demo_segmentation, write_series

from pipeline.encode.pdf import build_encapsulated_pdf, build_pdf
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_sr
from pipeline.quantify.config import QualityGates, QuantificationConfig
from pipeline.quantify.inputs import PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.quantify import quantify
from pipeline.run.report_content import recorded_content


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    """A job's work folder as the node leaves it: result.json, SEG, SR, PDF (no plan)."""
    volume, headers = write_series(tmp_path / "ct", SHAPE, Geometry())
    segmentation = demo_segmentation(SHAPE)
    doc = quantify(segmentation.labelmap, segmentation.labels, volume.spacing_mm,
                   PatientInfo(height_m=1.75, weight_kg=80.0), PlannerInputs(),
                   QualityContext(slice_thickness_mm=2.5),
                   QuantificationConfig(quality=QualityGates(incomplete_coverage_action="warn"))
                   ).to_dict()
    algorithm = segmentation.algorithm
    doc.update(series={"chosen_series_instance_uid": volume.series_instance_uid},
               segmentation={"demo": True, "models": [
                   {"name": algorithm.name, "version": algorithm.version}]})
    folder = tmp_path / "jobs" / "job-1" / "attempt-1"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(doc))
    seg = build_seg(volume, headers, segmentation)
    seg.save_as(folder / "seg.dcm")
    content = recorded_content(doc, "Portal venous")
    sr = build_sr(seg, headers, content)
    sr.save_as(folder / "sr.dcm")
    pdf = build_pdf(volume, headers[0], segmentation, content)
    (folder / "summary.pdf").write_bytes(pdf)
    build_encapsulated_pdf(pdf, headers[0], algorithm, derived_from=[seg, sr]).save_as(
        folder / "summary-pdf.dcm", enforce_file_format=True)
    return folder
