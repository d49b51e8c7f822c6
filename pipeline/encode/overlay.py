"""Segmentation overlays on axial CT slices, oriented as radiologists view them.

Radiological convention for axial images: viewed from the feet, patient left (+x in LPS)
on the right of the image, posterior (+y) at the bottom. The in-plane array is transposed
and flipped onto that convention from its ImageOrientationPatient (each in-plane axis goes
to its nearest patient axis; an oblique plane is shown un-resampled, so that display is an
approximation by at most its obliquity).

The figure is drawn with Pillow: the blended slice scaled to the figure width (area
averaging), its caption above and the orientation letters on it, in Pillow's bundled
FreeType font. (matplotlib drew it before, ~0.15 s a figure plus ~1 s for the first
figure of a process.)
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from pipeline.structures import CATALOGUE, Structure


@dataclass(frozen=True)
class DisplayTransform:
    """How to turn a stored (row, column) plane into the radiological display.

    Parameters
    ----------
    transpose : bool
        Swap rows and columns first (the columns run along patient y).
    flip_rows : bool
        Then reverse the rows (so that display down is posterior).
    flip_columns : bool
        Then reverse the columns (so that display right is patient left).
    """

    transpose: bool
    flip_rows: bool
    flip_columns: bool

    def apply(self, plane: NDArray[Any]) -> NDArray[Any]:
        """Apply to a 2-D (row, column) array."""
        out = plane.T if self.transpose else plane
        if self.flip_rows:
            out = out[::-1, :]
        if self.flip_columns:
            out = out[:, ::-1]
        return out


def display_transform(
    row_cosine: tuple[float, float, float], column_cosine: tuple[float, float, float]
) -> DisplayTransform:
    """The transform putting patient left on the right and posterior at the bottom.

    Parameters
    ----------
    row_cosine, column_cosine : tuple of float
        ImageOrientationPatient: direction of increasing column index and of increasing
        row index, patient LPS.

    Returns
    -------
    DisplayTransform
    """
    rc, cc = np.asarray(row_cosine, float), np.asarray(column_cosine, float)
    # Along a row (column index) the dominant patient axis is x or y.
    transpose = abs(rc[1]) > abs(rc[0])
    # After an optional transpose: horizontal direction h, vertical direction v.
    h, v = (cc, rc) if transpose else (rc, cc)
    return DisplayTransform(transpose=transpose, flip_rows=bool(v[1] < 0),
                            flip_columns=bool(h[0] < 0))


def representative_slices(mask: NDArray[np.bool_], count: int) -> list[int]:
    """Slice indices spread over the extent of a mask, weighted towards large areas.

    Parameters
    ----------
    mask : ndarray of bool, shape (z, y, x)
        Usually the liver.
    count : int
        Number of slices wanted.

    Returns
    -------
    list[int]
        Distinct slice indices, ascending; empty if the mask is empty.
    """
    area = mask.reshape(mask.shape[0], -1).sum(axis=1).astype(float)
    if area.sum() == 0:
        return []
    cumulative = np.cumsum(area) / area.sum()
    quantiles = (np.arange(count) + 0.5) / count
    return sorted({int(np.searchsorted(cumulative, q)) for q in quantiles})


def label_colours(labels: dict[int, Structure]) -> NDArray[np.float64]:
    """RGB colour (0-1) per label value, index 0 transparent black.

    Returns
    -------
    ndarray, shape (max label + 1, 3)
    """
    lut = np.zeros((max(labels, default=0) + 1, 3))
    for value, structure in labels.items():
        lut[value] = np.asarray(CATALOGUE[structure].rgb) / 255.0
    return lut


FIGURE_WIDTH_IN = 3.1
"""Width of the slice in an overlay figure, inches (pixels: times the dpi)."""

CAPTION_PT = 8
"""Font size of the caption and the orientation letters, points."""


@cache
def _font(pixels: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled FreeType font at a height of ``pixels``."""
    font = ImageFont.load_default(size=pixels)
    assert isinstance(font, ImageFont.FreeTypeFont)  # Pillow is built with FreeType
    return font


def label_mask(labelmap: NDArray[np.integer], values: list[int]) -> NDArray[np.bool_]:
    """Where ``labelmap`` holds one of ``values``: one table look-up (``np.isin`` sorts).

    Parameters
    ----------
    labelmap : ndarray of non-negative int
        Label values.
    values : list of int
        The wanted values (non-negative).

    Returns
    -------
    ndarray of bool, the shape of ``labelmap``
    """
    member = np.zeros(max(int(labelmap.max(initial=0)), *values, 0) + 1, dtype=bool)
    member[values] = True
    return np.asarray(member[labelmap], dtype=bool)


def overlay_png(
    hu_plane: NDArray[np.floating],
    label_plane: NDArray[np.integer],
    labels: dict[int, Structure],
    transform: DisplayTransform,
    title: str,
    window: tuple[float, float] = (60.0, 400.0),
    dpi: int = 110,
) -> bytes:
    """Render one slice with its labels blended on top, as PNG.

    Parameters
    ----------
    hu_plane : ndarray, shape (rows, columns)
        CT slice in HU, as stored.
    label_plane : ndarray, shape (rows, columns)
        Label values of the same slice.
    labels : dict[int, Structure]
        Label value -> structure (for colours).
    transform : DisplayTransform
        From :func:`display_transform`.
    title : str
        Caption above the image.
    window : tuple of float
        Window centre and width, HU.
    dpi : int
        Figure resolution, dots per inch.

    Returns
    -------
    bytes
        PNG image.
    """
    centre, width = window
    grey = np.clip((transform.apply(hu_plane) - (centre - width / 2)) / width, 0, 1)
    lab = transform.apply(label_plane)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    lut = label_colours(labels)
    inside = (lab > 0) & (lab < len(lut))
    alpha = 0.45
    rgb[inside] = (1 - alpha) * rgb[inside] + alpha * lut[lab[inside]]
    slice_image = Image.fromarray(np.round(rgb * 255).astype(np.uint8))
    fig_w = max(1, round(FIGURE_WIDTH_IN * dpi))
    fig_h = max(1, round(fig_w * slice_image.height / slice_image.width))
    slice_image = slice_image.resize((fig_w, fig_h), Image.Resampling.BOX)
    font = _font(max(1, round(CAPTION_PT * dpi / 72)))
    caption_h = round(font.size * 1.6)
    figure = Image.new("RGB", (fig_w, fig_h + caption_h), "white")
    figure.paste(slice_image, (0, caption_h))
    draw = ImageDraw.Draw(figure)
    draw.text((fig_w / 2, caption_h / 2), title, fill="black", font=font, anchor="mm")
    # Display top is anterior, bottom posterior, left the patient's right.
    for x, y, text in ((0.5, 0.04, "A"), (0.5, 0.96, "P"), (0.03, 0.5, "R"), (0.97, 0.5, "L")):
        draw.text((x * fig_w, caption_h + y * fig_h), text, fill="white", font=font,
                  anchor="mm")
    buf = io.BytesIO()
    figure.save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue()
