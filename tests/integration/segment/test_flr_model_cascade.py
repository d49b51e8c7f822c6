"""End to end: ``dicomnode run`` with a three-stage learned FLR cascade (CT -> liver;
CT + liver -> metastases; CT + liver + metastases -> future liver remnant and resected
region) on nnU-Net v2 folders with small random weights (``tests/totalseg_folders.py``'s
designed intensity path) and a small synthetic study: the model's FLR appears in
result.json, the SEG and the SR beside the segment-rule FLR, and its volume is the voxels
of its SEG segment."""

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
import yaml
from typer.testing import CliRunner

from dicomnode.cli import app
from pipeline.structures import Structure
from pipeline.validate.labelmaps import read_seg

sys.path.insert(0, str(Path(__file__).parents[2]))
from totalseg_folders import ShapedTask, build_shaped

pytestmark = pytest.mark.slow

SPACING = (6.0, 3.2, 3.2)
PATCH = (32, 64, 64)
FLR_TASKS: dict[str, ShapedTask] = {
    "liver": ShapedTask(
        "Dataset901_LiverSegments",
        "nnUNetTrainer",
        (*(f"liver_segment_{k}" for k in range(1, 9)), "other"),
        SPACING,
        PATCH,
        {**{k: 0.12 + 0.025 * (k - 1) for k in range(1, 9)}, 9: 0.32},
    ),
    "metastases": ShapedTask(
        "Dataset902_LiverMetastases",
        "nnUNetTrainer",
        ("metastasis", "other"),
        SPACING,
        PATCH,
        {1: -0.4, 2: -0.1},
        channels=("CT", "noNorm"),
    ),
    "flr": ShapedTask(
        "Dataset903_FutureLiverRemnant",
        "nnUNetTrainer",
        ("future_liver_remnant", "resected_liver", "other"),
        SPACING,
        PATCH,
        {1: 0.12, 2: 0.2, 3: 0.32},
        channels=("CT", "noNorm", "noNorm"),
    ),
}
"""The cascade. Bands of normalised CT intensity ((HU - 90) / 110): liver parenchyma of
the portal-venous phase (110 HU) falls in the segments' bands, the lesion cores (60 HU) in
the metastasis band, brighter vessels and bone in an 'other' class mapped to background;
the remnant and resected regions split the liver's band."""

LABELS = {
    "liver": {k: f"couinaud_{k}" for k in range(1, 9)},
    "metastases": {1: "metastasis"},
    "flr": {1: "future_liver_remnant", 2: "resected_liver"},
}


def _config(results: Path) -> dict[str, Any]:
    models = {
        key: {
            "folder": task.folder,
            "folds": [0],
            "labels": LABELS[key],
            "name": f"FLR-{key}",
            "version": "0.1",
            "unmapped_labels": "background",
        }
        for key, task in FLR_TASKS.items()
    }
    cascade = {"crop_to": ["liver"], "crop_margin_mm": 10.0}
    return {
        "pipeline": {
            "segmentation": {
                "models_dir": str(results),
                "device": "cpu",
                "tile_step_size": 1.0,
                "models": models,
                "stages": [
                    {"model": "liver"},
                    {"model": "metastases", **cascade, "extra_channels": ["liver"]},
                    {"model": "flr", **cascade, "extra_channels": ["liver", "metastasis"]},
                ],
            },
            # the random liver reaches the edge of the field of view (it takes in the
            # heart wall): its figures are reported as lower bounds instead of withheld
            "quantification": {"quality": {"incomplete_coverage_action": "warn"}},
        }
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Shaped folders, a small synthetic study and the outputs of ``dicomnode run``."""
    root = tmp_path_factory.mktemp("flrmodel")
    results = root / "results"
    for seed, task in enumerate(FLR_TASKS.values()):
        build_shaped(results, task, seed)
    runner = CliRunner()
    synth = runner.invoke(app, ["synth", str(root / "study"), "--profile", "small", "--seed", "5"])
    assert synth.exit_code == 0, synth.output
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(_config(results)))
    out = root / "out"
    done = runner.invoke(
        app, ["run", str(root / "study" / "dicom"), "--out", str(out), "--config", str(config)]
    )
    assert done.exit_code == 0, done.output
    return {"out": out, "result": json.loads((out / "result.json").read_text())}


def _segment_voxels(seg: pydicom.Dataset, label: str) -> int:
    number = next(int(s.SegmentNumber) for s in seg.SegmentSequence if s.SegmentLabel == label)
    frames = [
        i
        for i, f in enumerate(seg.PerFrameFunctionalGroupsSequence)
        if int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber) == number
    ]
    pixels = np.asarray(seg.pixel_array).reshape(-1, seg.Rows, seg.Columns)
    return int(pixels[frames].astype(bool).sum())


def test_result_json_has_the_model_flr_beside_the_segment_rule(run: dict[str, Any]) -> None:
    result = run["result"]
    flr = result["flr"]
    model = flr["model"]
    assert model is not None and model["model"] == "FLR-flr"
    assert model["remnant_region_ml"] > 0
    assert model["flr_ml"] == pytest.approx(model["remnant_region_ml"] - model["remnant_tumour_ml"])
    assert result["segmentation"]["volumes_ml"]["future_liver_remnant"] == pytest.approx(
        model["remnant_region_ml"], abs=1e-3
    )
    if flr["telv_ml"] is not None:
        assert model["sflr_percent"] == pytest.approx(100 * model["flr_ml"] / flr["telv_ml"])
    rule = {r["name"]: r["flr_ml"] for r in flr["resections"] if r["flr_ml"] is not None}
    assert rule, "the liver stage's segments give segment-rule FLRs"
    compared = {c["resection"]: c for c in model["comparisons"]}
    assert set(compared) == set(rule)
    for name, rule_ml in rule.items():
        assert compared[name]["segment_rule_flr_ml"] == pytest.approx(rule_ml)
        assert compared[name]["difference_ml"] == pytest.approx(model["flr_ml"] - rule_ml)
    # the regions are not liver parts: the liver is still its segments and tumour
    assert "future_liver_remnant" not in result["volumes_ml"]
    volumes = result["segmentation"]["volumes_ml"]
    parts = sum(volumes[f"couinaud_{k}"] for k in range(1, 9)) + volumes["metastasis"]
    assert volumes["liver"] == pytest.approx(parts, abs=1e-2)


def test_seg_holds_the_regions_and_the_model_flr_is_its_voxels(run: dict[str, Any]) -> None:
    seg = pydicom.dcmread(run["out"] / "seg.dcm")
    assert seg.SegmentationType == "BINARY"
    by_label = {s.SegmentLabel: s for s in seg.SegmentSequence}
    remnant = by_label["Future liver remnant"]
    code = remnant.SegmentedPropertyTypeCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("FLRREGION", "99DCMNODE")
    assert remnant.AnatomicRegionSequence[0].CodeValue == "10200004"
    assert "Resected liver" in by_label and "Couinaud segment VIII" in by_label
    spacing = run["result"]["segmentation"]["spacing_mm_zyx"]
    voxel_ml = float(np.prod(spacing)) / 1000.0
    model = run["result"]["flr"]["model"]
    assert _segment_voxels(seg, "Future liver remnant") * voxel_ml == pytest.approx(
        model["remnant_region_ml"]
    )
    assert _segment_voxels(seg, "Resected liver") * voxel_ml == pytest.approx(
        model["resected_region_ml"]
    )
    # dicomnode validate reads the regions back from the SEG as masks of their own
    back = read_seg(run["out"] / "seg.dcm")
    assert set(back.regions) == {Structure.FUTURE_LIVER_REMNANT, Structure.RESECTED_LIVER}
    assert back.mask(Structure.FUTURE_LIVER_REMNANT).sum() * voxel_ml == pytest.approx(
        model["remnant_region_ml"]
    )
    assert back.mask(Structure.COUINAUD_1).any()


def _groups(sr: hd.sr.Comprehensive3DSR) -> dict[str, pydicom.Dataset]:
    out = {}
    for container in sr.ContentSequence:
        for group in getattr(container, "ContentSequence", []):
            for item in getattr(group, "ContentSequence", []):
                if item.ConceptNameCodeSequence[0].value == "112039":  # Tracking Identifier
                    out[str(item.TextValue)] = group
    return out


def _codes(item: pydicom.Dataset) -> set[str]:
    found: set[str] = set()
    item.walk(lambda ds, elem: found.add(str(elem.value)) if elem.keyword == "CodeValue" else None)
    return found


def test_sr_has_the_model_flr_group_beside_the_segment_rule_groups(run: dict[str, Any]) -> None:
    seg = pydicom.dcmread(run["out"] / "seg.dcm")
    remnant = next(
        int(s.SegmentNumber)
        for s in seg.SegmentSequence
        if s.SegmentLabel == "Future liver remnant"
    )
    sr = hd.sr.srread(run["out"] / "sr.dcm")
    groups = _groups(sr)
    assert "FLR Right hepatectomy" in groups  # the segment rule
    # a TID 1411 group on the remnant's segment (its tracking identifier is the segment's)
    model = groups["Future liver remnant"]
    assert {"FLRMODEL", "FLR", "FLRREGIONVOL", "SFLR", "10200004"} <= _codes(model)
    assert "RESECTVOL" in _codes(groups["Resected liver"])
    refs: list[int] = []
    model.walk(
        lambda ds, elem: (
            refs.extend(int(n) for n in np.atleast_1d(elem.value))
            if elem.keyword == "ReferencedSegmentNumber"
            else None
        )
    )
    assert remnant in refs
    versus = groups["FLR model vs Right hepatectomy"]
    assert {"FLRSEGRULE", "FLRDIFF"} <= _codes(versus)


def test_pdf_shows_the_model_flr_and_the_differences(run: dict[str, Any]) -> None:
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
    text = " ".join(pdf.split())
    assert "FLR learned model FLR-flr" in text
    assert "Segment-rule FLR (mL) Model - rule (mL)" in text
    assert "FLR model vs Right" in text
    assert "Future liver remnant: Right hepatectomy" in text
