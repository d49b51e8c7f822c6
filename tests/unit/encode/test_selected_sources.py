"""The writers' source headers come from the headers the selection read, not from the files
again (:func:`pipeline.encode.source.selected_source_headers`): they are, element by
element, the headers :func:`pipeline.encode.source.read_source_headers` reads, and the
SEG, SR and PDF built from them are the same objects."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from dataset_compare import differences
from encode_report_fixture import report_content
from encode_synthetic_ct import SHAPE, Geometry, demo_segmentation, write_series
from pydicom.dataset import Dataset

from pipeline.config import PipelineConfig
from pipeline.encode.pdf import build_pdf
from pipeline.encode.sanitise import sanitised
from pipeline.encode.seg import build_seg
from pipeline.encode.source import (
    SourceMismatchError,
    read_source_headers,
    selected_source_headers,
)
from pipeline.encode.sr import build_sr
from pipeline.select.config import GeometryConfig
from pipeline.select.frames import FrameHeader
from pipeline.select.headers import read_headers
from pipeline.select.selector import select_series
from pipeline.select.volume import build_volume
from pipeline.synth.spec import SeriesSpec, StudySpec
from pipeline.synth.study import write_study
from pipeline.synth.tissue import Phase
from pipeline.volume import CTVolume

sys.path.insert(0, str(Path(__file__).parents[2]))
from enhanced_ct import GEOMETRY_MACROS, enhanced, write

VOLATILE_VRS = {"UI", "DA", "TM", "DT"}
"""In outputs: new UIDs (tracking UIDs) on every build, dates and times of the build."""

UIDS = {
    "series_instance_uid": "1.2.826.0.1.3680043.8.498.1",
    "sop_instance_uid": "1.2.826.0.1.3680043.8.498.2",
}


def _selection_headers(volume: CTVolume) -> list[Dataset]:
    """The headers as the selection reads them, in the volume's slice order."""
    datasets, unreadable, _ = read_headers(sorted(set(volume.source_paths)))
    assert not unreadable
    if volume.frame_numbers:
        return [datasets[n - 1] for n in volume.frame_numbers]
    by_uid = {str(ds.SOPInstanceUID): ds for ds in datasets}
    return [by_uid[uid] for uid in volume.sop_instance_uids]


def _assert_same_headers(selected: list[Dataset], read: list[Dataset]) -> None:
    assert len(selected) == len(read)
    for a, b in zip(selected, read, strict=True):
        assert list(differences(a, b)) == []
        assert list(differences(a.file_meta, b.file_meta)) == []
        assert a.filename == b.filename


def _assert_same_outputs(volume: CTVolume, selected: list[Dataset], read: list[Dataset]) -> None:
    content = demo_segmentation(volume.shape)
    seg_a = build_seg(volume, selected, content, **UIDS)
    seg_b = build_seg(volume, read, content, **UIDS)
    assert list(differences(seg_a, seg_b, VOLATILE_VRS)) == []
    assert seg_a.PixelData == seg_b.PixelData
    report = report_content(volume.series_instance_uid, content.algorithm)
    sr_a = build_sr(seg_a, selected, report, **UIDS)
    sr_b = build_sr(seg_a, read, report, **UIDS)
    assert list(differences(sr_a, sr_b, VOLATILE_VRS)) == []
    evidence = sr_a.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    assert {r.ReferencedSOPInstanceUID for s in evidence for r in s.ReferencedSOPSequence} == {
        *volume.sop_instance_uids,
        seg_a.SOPInstanceUID,
    }
    pdf_a = build_pdf(volume, selected[0], content, report)
    pdf_b = build_pdf(volume, read[0], content, report)
    assert _without_dates(pdf_a) == _without_dates(pdf_b)


def _without_dates(pdf: bytes) -> bytes:
    """The PDF without its /CreationDate (the second it was written) and its /ID (fpdf2
    derives the file identifier from that date: two builds a second apart differ there)."""
    for key, end in ((b"/CreationDate", b")"), (b"/ID [", b"]")):
        start = pdf.index(key)
        pdf = pdf[:start] + pdf[pdf.index(end, start) + 1 :]
    return pdf


def test_single_frame_sources_are_those_read_from_the_files(tmp_path: Path) -> None:
    volume, _ = write_series(tmp_path / "ct", SHAPE, Geometry(reverse_instances=True))
    selected = selected_source_headers(volume, _selection_headers(volume))
    read = read_source_headers(volume)
    _assert_same_headers(selected, read)
    _assert_same_outputs(volume, selected, read)


def test_multiframe_sources_are_the_image_read_from_its_file(tmp_path: Path) -> None:
    write_series(tmp_path / "ct", SHAPE, Geometry())
    image = enhanced(
        tmp_path / "ct", per_frame=GEOMETRY_MACROS, order=[3, 1, 4, 0, 9, 2, 6, 5, 8, 7]
    )
    volume = build_volume(
        [write(image, tmp_path / "mf") / "multiframe.dcm"], GeometryConfig(min_slices=5)
    )
    frames = _selection_headers(volume)
    assert all(isinstance(f, FrameHeader) for f in frames)
    selected = selected_source_headers(volume, frames)
    assert len({id(ds) for ds in selected}) == 1  # one image header for all its frames
    read = read_source_headers(volume)
    _assert_same_headers(selected, read)
    _assert_same_outputs(volume, selected, read)


def test_headers_of_another_order_are_refused(ct_series) -> None:
    volume, headers = ct_series
    with pytest.raises(SourceMismatchError, match="slice 0"):
        selected_source_headers(volume, headers[::-1])
    with pytest.raises(SourceMismatchError, match="source images for"):
        selected_source_headers(volume, headers[1:])


def test_sanitising_a_sanitised_header_gives_it_back(ct_series) -> None:
    _, headers = ct_series
    once = sanitised(headers[0])
    assert sanitised(once) is once
    assert once is not headers[0] and list(differences(once, headers[0])) == []


@pytest.mark.slow
def test_selection_hands_the_chosen_volumes_headers(tmp_path: Path) -> None:
    spec = StudySpec(
        seed=5,
        series=(
            SeriesSpec(phase=Phase.ARTERIAL, slice_thickness_mm=5.0, description="Arterial 5mm"),
            SeriesSpec(phase=Phase.PORTAL_VENOUS, slice_thickness_mm=2.5, description="PV 2.5mm"),
        ),
    )
    write_study(tmp_path / "study", spec, volumes=False)
    selection = select_series([tmp_path / "study" / "dicom"], PipelineConfig().selection)
    volume = selection.chosen
    assert volume is not None, selection.rejection_reason
    assert [str(ds.SOPInstanceUID) for ds in selection.chosen_headers] == volume.sop_instance_uids
    assert all("PixelData" not in ds for ds in selection.chosen_headers)
    _assert_same_headers(
        selected_source_headers(volume, selection.chosen_headers), read_source_headers(volume)
    )
