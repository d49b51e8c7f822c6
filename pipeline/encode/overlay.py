"""Segmentation overlays on axial CT slices, oriented as radiologists view them.

Radiological convention for axial images: viewed from the feet, patient left (+x in LPS)
on the right of the image, posterior (+y) at the bottom. The in-plane array is transposed
and flipped onto that convention from its ImageOrientationPatient (each in-plane axis goes
to its nearest patient axis; an oblique plane is shown un-resampled, so that display is an
approximation by at most its obliquity).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray

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
        Figure resolution.

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
    fig, ax = plt.subplots(figsize=(3.4, 3.6), dpi=dpi)
    ax.imshow(rgb, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()
    for x, y, text in ((0.5, 0.96, "A"), (0.5, 0.04, "P"), (0.03, 0.5, "R"), (0.97, 0.5, "L")):
        ax.text(x, y, text, transform=ax.transAxes, ha="center", va="center", fontsize=8,
                color="white", fontweight="bold")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
