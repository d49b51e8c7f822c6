"""Native Pixel Data read from the file: pydicom's values, or pydicom decodes it."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)
from select_ctfactory import axial_slices, write_series

from pipeline.select.headers import read_headers
from pipeline.select.native import read_native
from pipeline.select.reasons import GeometryReason
from pipeline.select.volume import VolumeError, slice_hu


def _rewrite(path, syntax, *, signed=False, bits_stored=16, garbage=False, big=False):
    """Rewrite one slice in ``syntax`` with the given pixel format; random stored values,
    with the bits above Bits Stored set where ``garbage``."""
    ds = dcmread(path)
    rng = np.random.default_rng(7)
    dtype = np.int16 if signed else np.uint16
    low = -(1 << (bits_stored - 1)) if signed else 0
    high = (1 << (bits_stored - 1)) - 1 if signed else (1 << bits_stored) - 1
    values = rng.integers(low, high, size=(ds.Rows, ds.Columns), endpoint=True).astype(dtype)
    if garbage and bits_stored < 16:
        values = values.view(np.uint16) ^ np.uint16(0xA000 & (0xFFFF << bits_stored))
        values = values.view(dtype)
    ds.PixelRepresentation = int(signed)
    ds.BitsStored, ds.HighBit = bits_stored, bits_stored - 1
    ds.PixelData = values.astype(values.dtype.newbyteorder(">") if big else values.dtype).tobytes()
    ds.file_meta.TransferSyntaxUID = syntax
    out = Dataset(ds)  # no original encoding: written in the new byte order
    out.file_meta = ds.file_meta
    out.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize(
    ("syntax", "signed", "bits_stored", "garbage"),
    [
        (ExplicitVRLittleEndian, False, 16, False),
        (ExplicitVRLittleEndian, True, 16, False),
        (ImplicitVRLittleEndian, True, 16, False),
        (ExplicitVRLittleEndian, True, 12, True),
        (ImplicitVRLittleEndian, False, 12, True),
    ],
)
def test_native_read_equals_pydicom(tmp_path, syntax, signed, bits_stored, garbage):
    path = write_series(tmp_path, axial_slices(n=1, rows=12, columns=20))[0]
    _rewrite(path, syntax, signed=signed, bits_stored=bits_stored, garbage=garbage)
    headers, unreadable, _ = read_headers([path])
    assert not unreadable
    header = headers[0]
    assert header.native_pixels is not None and "PixelData" not in header
    pixels = read_native(header, header.native_pixels)
    expected = dcmread(path).pixel_array
    assert pixels is not None and pixels.dtype == expected.dtype
    np.testing.assert_array_equal(pixels, expected)
    full = dcmread(path)
    reference = full.pixel_array * np.float32(full.RescaleSlope) + np.float32(full.RescaleIntercept)
    np.testing.assert_array_equal(slice_hu(header), reference.astype(np.float32))


def test_big_endian_and_encapsulated_are_left_to_pydicom(tmp_path):
    paths = write_series(tmp_path, axial_slices(n=2, rows=12, columns=20))
    _rewrite(paths[0], ExplicitVRBigEndian, signed=True, big=True)
    ds = dcmread(paths[1])
    ds.compress(RLELossless)
    ds.save_as(paths[1], enforce_file_format=True)
    headers, unreadable, _ = read_headers(paths)
    assert not unreadable
    for header, path in zip(headers, paths, strict=True):
        assert header.native_pixels is None
        full = dcmread(path)
        expected = (
            full.pixel_array * np.float32(full.RescaleSlope) + np.float32(full.RescaleIntercept)
        ).astype(np.float32)
        np.testing.assert_array_equal(slice_hu(header), expected)


def test_other_pixel_formats_are_left_to_pydicom(tmp_path):
    path = write_series(tmp_path, axial_slices(n=1, rows=12, columns=20))[0]
    ds = dcmread(path)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = np.arange(12 * 20, dtype=np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    header = read_headers([path])[0][0]
    assert header.native_pixels is not None
    assert read_native(header, header.native_pixels) is None
    np.testing.assert_array_equal(slice_hu(header), dcmread(path).pixel_array - 1024.0)


def test_a_file_cut_short_after_the_header_read_is_unreadable(tmp_path):
    path = write_series(tmp_path, axial_slices(n=1, rows=12, columns=20))[0]
    header = read_headers([path])[0][0]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(VolumeError) as info:
        slice_hu(header)
    assert info.value.reasons == [GeometryReason.UNREADABLE_PIXELS]
