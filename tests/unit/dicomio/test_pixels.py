"""Pixel Data against the image geometry: never fewer bytes, padding below one frame."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, RLELossless

from pipeline.dicomio import DataSetLayout, Element, PixelData, PixelDataError, check_pixel_data
from pipeline.dicomio.pixels import (
    BITS_ALLOCATED,
    COLUMNS,
    NUMBER_OF_FRAMES,
    PHOTOMETRIC_INTERPRETATION,
    ROWS,
    SAMPLES_PER_PIXEL,
)

SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.33"


def _layout(
    pixel_data: PixelData | None,
    *,
    rows: int = 4,
    columns: int = 4,
    samples: int = 1,
    bits: int = 16,
    frames: bytes | None = None,
    photometric: bytes = b"MONOCHROME2 ",
    encapsulated: bool = False,
) -> DataSetLayout:
    elements = {
        ROWS: Element("US", struct.pack("<H", rows)),
        COLUMNS: Element("US", struct.pack("<H", columns)),
        SAMPLES_PER_PIXEL: Element("US", struct.pack("<H", samples)),
        BITS_ALLOCATED: Element("US", struct.pack("<H", bits)),
        PHOTOMETRIC_INTERPRETATION: Element("CS", photometric),
    }
    if frames is not None:
        elements[NUMBER_OF_FRAMES] = Element("IS", frames)
    syntax = RLELossless if encapsulated else ExplicitVRLittleEndian
    return DataSetLayout(syntax, True, encapsulated, elements, pixel_data, 0)


def _native(length: int) -> PixelData:
    return PixelData(0x7FE00010, False, length)


@pytest.mark.parametrize(
    ("layout", "fits"),
    [
        (_layout(_native(32)), True),
        (_layout(_native(33)), True),  # odd padding
        (_layout(_native(63)), True),  # less than one more frame of padding
        (_layout(_native(64)), False),  # a whole frame more than Number of Frames
        (_layout(_native(31)), False),
        (_layout(_native(0)), False),
        (_layout(_native(96), frames=b"3 "), True),
        (_layout(_native(95), frames=b"3 "), False),
        (_layout(_native(2), rows=3, columns=5, bits=1), True),  # 15 bits packed: 2 bytes
        (_layout(_native(1), rows=3, columns=5, bits=1), False),
        (_layout(_native(4), rows=3, columns=5, bits=1, frames=b"2"), True),  # 30 bits
        (_layout(_native(32), samples=3, bits=8, photometric=b"YBR_FULL_422"), True),
        (_layout(_native(31), samples=3, bits=8, photometric=b"YBR_FULL_422"), False),
        (_layout(_native(48), samples=3, bits=8, photometric=b"RGB "), True),
        (_layout(PixelData(0x7FE00008, False, 64), bits=32), True),  # Float Pixel Data
    ],
)
def test_native_pixel_data_length(layout: DataSetLayout, fits: bool) -> None:
    if fits:
        assert check_pixel_data(layout, CTImageStorage) is not None
    else:
        with pytest.raises(PixelDataError, match="bytes"):
            check_pixel_data(layout, CTImageStorage)


@pytest.mark.parametrize(
    ("fragments", "offsets", "frames", "fits"),
    [(1, 0, None, True), (2, 8, b"2", True), (1, 0, b"2", False), (2, 4, b"2", False)],
)
def test_encapsulated_fragments_and_offset_table(
    fragments: int, offsets: int, frames: bytes | None, fits: bool
) -> None:
    pixel_data = PixelData(0x7FE00010, True, 100, offsets, fragments)
    layout = _layout(pixel_data, frames=frames, encapsulated=True)
    if fits:
        assert check_pixel_data(layout, CTImageStorage) is not None
    else:
        with pytest.raises(PixelDataError):
            check_pixel_data(layout, CTImageStorage)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"rows": 0}, "is 0"),
        ({"bits": 12}, "Bits Allocated 12"),
        ({"frames": b"0"}, "Number of Frames"),
        ({"frames": b"2.5"}, "Number of Frames"),
        ({"photometric": b"  "}, "Photometric Interpretation"),
    ],
)
def test_geometry_out_of_range(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(PixelDataError, match=reason):
        check_pixel_data(_layout(_native(32), **change), CTImageStorage)


def test_geometry_with_another_vr_is_refused() -> None:
    layout = _layout(_native(32))
    layout.elements[ROWS] = Element("SS", b"\4\0")
    with pytest.raises(PixelDataError, match=r"Rows \(US\)"):
        check_pixel_data(layout, CTImageStorage)


def test_image_classes_need_pixel_data_others_do_not() -> None:
    with pytest.raises(PixelDataError, match="no Pixel Data"):
        check_pixel_data(_layout(None), CTImageStorage)
    assert check_pixel_data(_layout(None), SR_STORAGE) is None
