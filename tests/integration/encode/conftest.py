"""Fixtures of the encode integration tests: every output written as files next to its CT.

The synthetic series helpers live with the unit tests (``tests/unit/encode``); they and
this folder's helper are put on the import path here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "encode"))
sys.path.insert(0, str(Path(__file__).parent))

from encode_outputs import SHAPE, Outputs
from encode_report_fixture import report_content
from encode_synthetic_ct import Geometry, demo_segmentation, write_series

from pipeline.encode.config import EncodeConfig, SegmentationType
from pipeline.encode.content import QualityFlag, RejectionContent
from pipeline.encode.pdf import build_encapsulated_pdf, build_pdf
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_rejection_sr, build_sr


@pytest.fixture(scope="session")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    """CT (negative cosines, feet-first numbering), SEG, LABELMAP SEG, SR, PDF, rejection SR."""
    root = tmp_path_factory.mktemp("encoded")
    geometry = Geometry((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), reverse_instances=True)
    volume, headers = write_series(root / "ct", SHAPE, geometry)
    segmentation = demo_segmentation(SHAPE)
    seg = build_seg(volume, headers, segmentation)
    seg.save_as(root / "seg.dcm")
    labelmap = build_seg(volume, headers, segmentation,
                         EncodeConfig(segmentation_type=SegmentationType.LABELMAP))
    labelmap.save_as(root / "seg_labelmap.dcm")
    content = report_content(volume.series_instance_uid, segmentation.algorithm)
    sr = build_sr(seg, headers, content)
    sr.save_as(root / "sr.dcm")
    pdf = build_encapsulated_pdf(build_pdf(volume, headers[0], segmentation, content),
                                 headers[0], segmentation.algorithm, derived_from=[seg, sr])
    pdf.save_as(root / "pdf.dcm", enforce_file_format=True)
    rejection = RejectionContent((QualityFlag("NO_PORTAL_PHASE", "No portal-venous series"),))
    build_rejection_sr(headers[:1], rejection, segmentation.algorithm).save_as(
        root / "rejection_sr.dcm")
    return Outputs(volume, [Path(p) for p in volume.source_paths], root / "seg.dcm",
                   root / "seg_labelmap.dcm", root / "sr.dcm", root / "pdf.dcm",
                   root / "rejection_sr.dcm")
