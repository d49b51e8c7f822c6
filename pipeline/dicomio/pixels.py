"""Pixel Data against the image geometry, from a :class:`DataSetLayout` (no decoding).

Native Pixel Data must hold Rows x Columns x Samples per Pixel x Bits Allocated / 8 x
Number of Frames bytes (Bits Allocated 1: packed bits, rounded up to whole bytes; YBR_FULL_422:
two thirds of that, PS3.3 C.7.6.3.1.2): never fewer, and less than one more frame of
trailing padding. Encapsulated Pixel Data must have at least one fragment per frame and a
Basic Offset Table that is empty or holds one offset per frame (PS3.5 A.4). Image storage
SOP classes (whose IOD has the Image Pixel Module, Pixel Data Type 1) must have Pixel Data.
Whether compressed frames decode is only known when the pipeline decodes them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pipeline.dicomio.structure import DataSetLayout, Element

SAMPLES_PER_PIXEL = 0x00280002
PHOTOMETRIC_INTERPRETATION = 0x00280004
NUMBER_OF_FRAMES = 0x00280008
ROWS = 0x00280010
COLUMNS = 0x00280011
BITS_ALLOCATED = 0x00280100

GEOMETRY_TAGS = frozenset(
    {SAMPLES_PER_PIXEL, PHOTOMETRIC_INTERPRETATION, NUMBER_OF_FRAMES, ROWS, COLUMNS, BITS_ALLOCATED}
)
"""The top-level elements :func:`check_pixel_data` needs: keep them in the walk."""

IMAGE_STORAGE_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image
        "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image - For Processing
        "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography X-Ray Image - For Processing
        "1.2.840.10008.5.1.4.1.1.2",  # CT Image
        "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image
        "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT Image
        "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image
        "1.2.840.10008.5.1.4.1.1.4",  # MR Image
        "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image
        "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR Image
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.12.1",  # X-Ray Angiographic Image
        "1.2.840.10008.5.1.4.1.1.12.2",  # X-Ray Radiofluoroscopic Image
        "1.2.840.10008.5.1.4.1.1.20",  # Nuclear Medicine Image
        "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image
        "1.2.840.10008.5.1.4.1.1.128.1",  # Legacy Converted Enhanced PET Image
        "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET Image
        "1.2.840.10008.5.1.4.1.1.481.1",  # RT Image
    }
)
"""Image storage SOP classes whose instances must carry Pixel Data."""


class PixelDataError(ValueError):
    """Pixel Data is missing or does not fit the image geometry (the data set does not
    match its SOP class). The message names attributes and sizes, never a patient value."""


@dataclass(frozen=True)
class ImageGeometry:
    """The Image Pixel Module attributes that size Pixel Data.

    Parameters
    ----------
    rows, columns : int
        Pixels per column and per row.
    samples_per_pixel : int
        Samples (colour components) per pixel.
    bits_allocated : int
        Bits per sample as stored (1 or a multiple of 8).
    number_of_frames : int
        Frames (1 when absent).
    photometric_interpretation : str
        E.g. MONOCHROME2, RGB, YBR_FULL_422.
    """

    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    number_of_frames: int
    photometric_interpretation: str

    def frame_bytes(self) -> int:
        """Native bytes of one frame (packed bits rounded up to a whole byte)."""
        return self.native_bytes(1)

    def native_bytes(self, frames: int | None = None) -> int:
        """Native bytes of ``frames`` frames (default all), without padding."""
        samples = self.rows * self.columns * self.samples_per_pixel
        samples *= self.number_of_frames if frames is None else frames
        if self.bits_allocated == 1:
            size = samples // 8 + (samples % 8 > 0)
        else:
            size = samples * (self.bits_allocated // 8)
        if self.photometric_interpretation == "YBR_FULL_422":
            size = size // 3 * 2
        return size


def _unsigned_short(elements: dict[int, Element], tag: int, name: str, little: bool) -> int:
    element = elements.get(tag)
    if element is None or element.vr != "US" or len(element.value) != 2:
        raise PixelDataError(f"Pixel Data without a single-valued {name} (US)")
    return int(struct.unpack("<H" if little else ">H", element.value)[0])


def _text(elements: dict[int, Element], tag: int, vr: str, name: str) -> str:
    element = elements.get(tag)
    if element is None:
        return ""
    if element.vr != vr:
        raise PixelDataError(f"{name} has VR {element.vr}, not {vr}")
    return element.value.decode("latin-1").strip(" \0")


def _frames(elements: dict[int, Element]) -> int:
    """Number of Frames (IS): 1 when absent or empty, as pydicom reads it."""
    text = _text(elements, NUMBER_OF_FRAMES, "IS", "Number of Frames")
    if not text:
        return 1
    if not text.lstrip("+").isdigit() or int(text) < 1:
        raise PixelDataError("Number of Frames is not a positive integer")
    return int(text)


def image_geometry(layout: DataSetLayout) -> ImageGeometry:
    """The geometry of the top-level Pixel Data (walk with :data:`GEOMETRY_TAGS` kept).

    Raises
    ------
    PixelDataError
        If an attribute is missing or out of range.
    """
    elements, little = layout.elements, layout.is_little_endian
    geometry = ImageGeometry(
        rows=_unsigned_short(elements, ROWS, "Rows", little),
        columns=_unsigned_short(elements, COLUMNS, "Columns", little),
        samples_per_pixel=_unsigned_short(elements, SAMPLES_PER_PIXEL, "Samples per Pixel", little),
        bits_allocated=_unsigned_short(elements, BITS_ALLOCATED, "Bits Allocated", little),
        number_of_frames=_frames(elements),
        photometric_interpretation=_text(
            elements, PHOTOMETRIC_INTERPRETATION, "CS", "Photometric Interpretation"
        ),
    )
    if not (geometry.rows and geometry.columns and geometry.samples_per_pixel):
        raise PixelDataError("Rows, Columns or Samples per Pixel is 0")
    if geometry.bits_allocated != 1 and geometry.bits_allocated % 8:
        raise PixelDataError(f"Bits Allocated {geometry.bits_allocated}: not 1 or whole bytes")
    if not geometry.photometric_interpretation:
        raise PixelDataError("Pixel Data without a Photometric Interpretation")
    return geometry


def check_pixel_data(layout: DataSetLayout, sop_class_uid: str) -> ImageGeometry | None:
    """Check the top-level Pixel Data of a walked data set against its geometry.

    Parameters
    ----------
    layout : DataSetLayout
        The walk's result, with :data:`GEOMETRY_TAGS` kept.
    sop_class_uid : str
        The data set's SOP Class UID.

    Returns
    -------
    ImageGeometry or None
        The geometry; ``None`` for an instance without Pixel Data of a SOP class that
        needs none (e.g. a structured report).

    Raises
    ------
    PixelDataError
        If an image storage SOP class has no Pixel Data, or its length or fragments do
        not fit the geometry.
    """
    pixel_data = layout.pixel_data
    if pixel_data is None:
        if sop_class_uid in IMAGE_STORAGE_SOP_CLASSES:
            raise PixelDataError("no Pixel Data in an instance of an image SOP class")
        return None
    geometry = image_geometry(layout)
    frames = geometry.number_of_frames
    if pixel_data.encapsulated:
        if pixel_data.fragments < frames:
            raise PixelDataError(f"{pixel_data.fragments} Pixel Data fragments for {frames} frames")
        if pixel_data.offset_table_length not in (0, 4 * frames):
            raise PixelDataError(
                f"Basic Offset Table of {pixel_data.offset_table_length} bytes for {frames} frames"
            )
        return geometry
    expected = geometry.native_bytes()
    excess = pixel_data.length - expected
    if excess < 0:
        raise PixelDataError(
            f"Pixel Data of {pixel_data.length} bytes, the geometry needs {expected}"
        )
    if excess > 1 and excess >= geometry.frame_bytes():
        raise PixelDataError(
            f"Pixel Data of {pixel_data.length} bytes holds more than {frames} frames "
            f"of {geometry.frame_bytes()} bytes"
        )
    return geometry
