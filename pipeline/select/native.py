"""Native Pixel Data of a single-frame image read straight from its file.

The header read (:func:`pipeline.select.headers.read_headers`) walks every file to its end
(:func:`pipeline.dicomio.check_part10`) and so knows where the Pixel Data's value lies.
For the common case, a single frame of 16-bit monochrome pixels in a little-endian native
transfer syntax, the chosen volume's slices are read from there with one ``np.fromfile``
each, instead of parsing the whole file again with pydicom: the same values as pydicom's
``Dataset.pixel_array`` (its native decoder: the stored integers in the Pixel
Representation's signedness, the bits above Bits Stored corrected by shifting them out,
pydicom's default ``correct_unused_bits``). Any other image is left to pydicom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from pipeline.dicomio import DataSetLayout

PIXEL_DATA = 0x7FE00010
_SYNTAXES = frozenset({str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)})
_MONOCHROME = frozenset({"MONOCHROME1", "MONOCHROME2"})


@dataclass(frozen=True)
class NativePixels:
    """Where the native Pixel Data value of a file lies.

    Parameters
    ----------
    offset : int
        Offset of the value from the start of the file, bytes.
    length : int
        Length of the value, bytes.
    """

    offset: int
    length: int


def native_pixels(layout: DataSetLayout) -> NativePixels | None:
    """Where a checked file's Pixel Data value lies, when it is native and little endian.

    Parameters
    ----------
    layout : DataSetLayout
        The file's walk (:func:`pipeline.dicomio.check_part10`).

    Returns
    -------
    NativePixels or None
        None for encapsulated, big-endian or deflated Pixel Data, Float Pixel Data, or no
        Pixel Data.
    """
    pixel_data = layout.pixel_data
    if (
        layout.transfer_syntax_uid not in _SYNTAXES
        or pixel_data is None
        or pixel_data.tag != PIXEL_DATA
        or pixel_data.value_offset is None
    ):
        return None
    return NativePixels(layout.data_set_offset + pixel_data.value_offset, pixel_data.length)


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    return value if isinstance(value, int) else None


def read_native(ds: Dataset, where: NativePixels) -> NDArray[np.integer] | None:
    """The stored pixel values of a single-frame 16-bit monochrome image from its file.

    Parameters
    ----------
    ds : Dataset
        The image's header (``filename`` set), read without Pixel Data.
    where : NativePixels
        Where its Pixel Data value lies (:func:`native_pixels` of the same file).

    Returns
    -------
    ndarray of int16 or uint16, shape (Rows, Columns), or None
        pydicom's ``pixel_array`` of the file; None where the image is not one frame of
        16-bit, one-sample monochrome pixels with 1 to 16 bits stored (pydicom decodes it).
    """
    rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
    representation, stored = _int(ds, "PixelRepresentation"), _int(ds, "BitsStored")
    frames = ds.get("NumberOfFrames")
    if (
        rows is None
        or columns is None
        or stored is None
        or not 1 <= stored <= 16
        or representation not in (0, 1)
        or _int(ds, "BitsAllocated") != 16
        or _int(ds, "SamplesPerPixel") != 1
        or frames not in (None, "", 1)
        or str(ds.get("PhotometricInterpretation", "")) not in _MONOCHROME
        or where.length < 2 * rows * columns
        or not isinstance(ds.filename, str)
    ):
        return None
    dtype = np.dtype("<i2" if representation else "<u2")
    pixels = np.fromfile(ds.filename, dtype=dtype, count=rows * columns, offset=where.offset)
    if pixels.size != rows * columns:
        raise ValueError(f"Pixel Data cut short: {pixels.size} of {rows * columns} pixels")
    pixels = pixels.reshape(rows, columns)
    if stored < 16:  # pydicom's correction of the unused bits (sign extension if signed)
        np.left_shift(pixels, 16 - stored, out=pixels)
        np.right_shift(pixels, 16 - stored, out=pixels)
    return pixels
