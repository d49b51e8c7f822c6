"""``pipeline.encode.writer.file_bytes`` writes exactly what pydicom's ``save_as`` writes."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from encode_synthetic_ct import SHAPE, demo_segmentation, write_series
from pydicom.dataset import Dataset

from pipeline.encode.config import EncodeConfig, SegmentationType
from pipeline.encode.seg import build_seg
from pipeline.encode.writer import file_bytes


def _saved(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fast", "config"),
    [
        (True, EncodeConfig()),
        (False, EncodeConfig()),
        (True, EncodeConfig(union_segments=False)),
        (True, EncodeConfig(segmentation_type=SegmentationType.LABELMAP)),
    ],
)
def test_seg_bytes_are_pydicoms(ct_series, fast: bool, config: EncodeConfig) -> None:
    volume, headers = ct_series
    seg = build_seg(volume, headers, demo_segmentation(SHAPE), config, fast=fast)
    assert int(seg.NumberOfFrames) > 1
    assert file_bytes(seg) == _saved(seg)


def test_seg_of_128_by_128_frames_read_back_is_written_as_pydicom_writes_it(
    tmp_path: Path,
) -> None:
    shape = (6, 128, 128)
    volume, headers = write_series(tmp_path / "ct", shape)
    seg = build_seg(volume, headers, demo_segmentation(shape))
    read = pydicom.dcmread(io.BytesIO(_saved(seg)))  # raw elements, read values
    assert file_bytes(read) == _saved(read)
    assert file_bytes(seg) == _saved(seg)


def test_dataset_without_per_frame_groups_is_written_by_pydicom(ct_series) -> None:
    _, headers = ct_series
    ds = pydicom.dcmread(io.BytesIO(_saved(headers[0])))
    assert file_bytes(ds) == _saved(ds)
