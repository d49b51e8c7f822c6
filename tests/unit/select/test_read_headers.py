"""read_headers: the strict check and the header read of every file, from a memory map."""

from __future__ import annotations

from pydicom import dcmread
from select_ctfactory import axial_slices, write_series

from pipeline.select.headers import read_headers


def test_headers_without_pixels_or_the_files_bytes(tmp_path) -> None:
    paths = write_series(tmp_path / "ct", axial_slices(n=6))
    datasets, unreadable, _ = read_headers([tmp_path])
    assert not unreadable and len(datasets) == 6
    by_file = {ds.filename: ds for ds in datasets}
    assert set(by_file) == {str(p) for p in paths}
    for path in paths:
        ds, full = by_file[str(path)], dcmread(path)
        assert "PixelData" not in ds and ds.buffer is None  # nothing of the file kept
        del full.PixelData
        assert ds == full and ds.file_meta == full.file_meta


def test_bad_files_are_unreadable_with_the_reason(tmp_path) -> None:
    (path,) = write_series(tmp_path / "ct", axial_slices(n=1))
    data = path.read_bytes()
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "text.dcm").write_bytes(b"not dicom")
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) - 100])
    datasets, unreadable, _ = read_headers(sorted(tmp_path.glob("*.dcm")))
    assert datasets == []
    reasons = {u.path.rsplit("/", 1)[-1]: u.error for u in unreadable}
    assert reasons["empty.dcm"] == reasons["text.dcm"] == (
        "file meta cannot be parsed: InvalidDicomError")
    assert "(7FE0,0010): value length" in reasons["cut.dcm"]
    assert "exceeds the data" in reasons["cut.dcm"]
