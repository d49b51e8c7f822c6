"""Measurements on a few axial CT slices without segmentation: aorta, portal vein and liver
HU, image noise and liver-like area per slice.

The method is deliberately simple (robust statistics on thresholded regions):

- body: largest connected region above -300 HU, holes filled;
- liver region: largest connected soft-tissue region (20..200 HU, opened) in the patient's
  right half of the body; liver HU is its median;
- portal vein: the 7 mm window with the brightest mean centred at least 3 mm inside the
  (hole-filled) liver region; its median HU;
- aorta: median HU of the 10 mm window with the brightest mean in a box from 45 mm
  anterior to 5 mm posterior of the vertebral body's front, 10 mm right to 35 mm left of
  its centre, bone excluded; the vertebra is the largest region above 150 HU (holes filled)
  near the midline in the posterior half of the body;

Patient directions come from ImageOrientationPatient, so any in-plane orientation works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from pipeline.labelling import label

_MIN_BODY_MM2 = 5000.0
_MIN_LIVER_MM2 = 1500.0


@dataclass(frozen=True)
class SliceMeasures:
    """Measurements of one slice (NaN where not found).

    Parameters
    ----------
    liver_area_mm2 : float
        Area of the liver-like region, mm^2 (0 when none).
    liver_hu, portal_vein_hu, aorta_hu : float
        Median HU of the liver-like region; brightest vessel window in it; aorta window.
    noise_sd_hu : float
        Image noise: 1.4826 x median absolute deviation of HU inside the liver region
        (at least 3 mm from its edge), HU.
    """

    liver_area_mm2: float
    liver_hu: float
    portal_vein_hu: float
    aorta_hu: float
    noise_sd_hu: float


@dataclass(frozen=True)
class PlaneGeometry:
    """In-plane geometry of the slices.

    Parameters
    ----------
    pixel_spacing_mm : tuple[float, float]
        PixelSpacing (row spacing, column spacing), mm.
    row_cosine, column_cosine : tuple[float, float, float]
        ImageOrientationPatient halves, patient LPS.
    """

    pixel_spacing_mm: tuple[float, float]
    row_cosine: tuple[float, float, float]
    column_cosine: tuple[float, float, float]


@dataclass(frozen=True)
class BodyCrop:
    """One slice cut to its body's bounding box, widened by a margin outside the body.

    Every measurement of a slice is made inside its body, so it is made on this crop, on a
    fraction of the pixels, and gives the numbers of the whole slice bit for bit: the masks
    the windowed means average are empty outside the body and the margin is wider than the
    widest window, so a running mean reaches the body from the same zeros as on the whole
    slice (the 3 mm mean of the liver-like area, over air too, is taken on the whole slice:
    :func:`_mean_filter_at`).

    Parameters
    ----------
    hu : ndarray of float32, shape (rows, columns)
        Hounsfield units in the crop.
    body : ndarray of bool, same shape
        The body: largest connected region above -300 HU of the whole slice, holes filled.
    x, y : ndarray of float64, same shape
        Patient x (right->left) and y (anterior->posterior) of each pixel, mm
        (:func:`_patient_xy` of the whole slice, cropped).
    at : tuple[slice, slice]
        Where the crop lies in the slice (rows, columns).
    """

    hu: NDArray[np.float32]
    body: NDArray[np.bool_]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    at: tuple[slice, slice]


def _largest(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    labels, n = label(mask)
    if n == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    return np.asarray(labels == int(np.argmax(sizes)) + 1)


def _fill_holes(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``scipy.ndimage.binary_fill_holes`` (4-connected background), by labelling the
    background once instead of growing it from the border pixel by pixel."""
    labels, n = label(~mask)
    if n == 0:
        return mask.copy()
    edge = np.concatenate((labels[0], labels[-1], labels[:, 0], labels[:, -1]))
    outside = np.zeros(n + 1, dtype=bool)
    outside[edge] = True
    outside[0] = True  # label 0 is the mask itself
    return mask | ~outside[labels]


def _patient_xy(
    shape: tuple[int, int], geom: PlaneGeometry
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Patient x (right->left) and y (anterior->posterior) of each pixel, mm, origin 0."""
    dy, dx = geom.pixel_spacing_mm
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    x = cols * dx * geom.row_cosine[0] + rows * dy * geom.column_cosine[0]
    y = cols * dx * geom.row_cosine[1] + rows * dy * geom.column_cosine[1]
    return x, y


def _margin_px(geom: PlaneGeometry) -> int:
    """Pixels kept around the body's box: more than the widest window (10 mm), px."""
    dy, dx = geom.pixel_spacing_mm
    return _px(10.0, dy, dx) + 2


def _widened(
    box: tuple[slice, slice], margin: int, shape: tuple[int, ...]
) -> tuple[slice, slice]:
    """``box`` widened by ``margin`` px on every side, within an array of ``shape``."""
    rows, cols = box
    return (
        slice(max(0, rows.start - margin), min(shape[0], rows.stop + margin)),
        slice(max(0, cols.start - margin), min(shape[1], cols.stop + margin)),
    )


def _bbox(mask: NDArray[np.bool_], margin: int) -> tuple[slice, slice] | None:
    """Bounding box of ``mask`` widened by ``margin`` px (within the array); None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    box = slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
    return _widened(box, margin, mask.shape)


def body_crops(hu: NDArray[np.float32], geom: PlaneGeometry) -> list[BodyCrop | None]:
    """The body crop of each slice (None for a slice with nothing above -300 HU).

    Parameters
    ----------
    hu : ndarray of float32, shape (z, y, x)
        Slices, Hounsfield units.
    geom : PlaneGeometry
        In-plane geometry.

    Returns
    -------
    list of BodyCrop or None
        One per slice, in slice order.
    """
    x, y = _patient_xy(hu.shape[1:], geom)
    margin = _margin_px(geom)
    out: list[BodyCrop | None] = []
    for k in range(hu.shape[0]):
        labels, n = label(hu[k] > -300)
        if n == 0:
            out.append(None)
            continue
        body = int(np.argmax(np.bincount(labels.ravel(), minlength=n + 1)[1:])) + 1
        at = _bbox(labels == body, margin)
        assert at is not None
        out.append(BodyCrop(hu[k][at], _fill_holes(labels[at] == body), x[at], y[at], at))
    return out


def _mean_filter_at(
    values: NDArray[np.floating], size_px: int, at: tuple[slice, slice]
) -> NDArray[np.floating]:
    """``ndimage.uniform_filter(values, size_px)[at]``, bit for bit, computed on the part of
    ``values`` that decides it.

    ``uniform_filter`` runs a 1-D running mean along axis 0, then along axis 1, each from
    the start of the line, so that a value's rounding depends on the line before it: lines
    are cut ``size_px`` after the part needed, never before it.
    """
    rows, cols = at
    stop_r = min(values.shape[0], rows.stop + size_px)
    stop_c = min(values.shape[1], cols.stop + size_px)
    along_0 = ndimage.uniform_filter1d(values[:stop_r, :stop_c], size_px, axis=0)
    return ndimage.uniform_filter1d(along_0[rows], size_px, axis=1)[:, cols]


def _window_max(
    hu: NDArray[np.float32], valid: NDArray[np.bool_], size_px: int, where: NDArray[np.bool_]
) -> float:
    """Median HU of the valid pixels of the square window with the largest mean, among
    windows centred in ``where`` and >= 90 % valid; NaN when none.

    The median of the winning window is less biased by noise than its (maximal) mean.
    """
    at = _bbox(where, 0)
    if at is None:
        return float("nan")
    num = _mean_filter_at(np.where(valid, hu, 0.0).astype(np.float64), size_px, at)
    den = _mean_filter_at(valid.astype(np.float64), size_px, at)
    ok = where[at] & (den >= 0.9)
    if not np.any(ok):
        return float("nan")
    mean = np.where(ok, num / np.maximum(den, 1e-9), -np.inf)
    r, c = np.unravel_index(int(np.argmax(mean)), mean.shape)
    r, c = r + at[0].start, c + at[1].start
    half = size_px // 2
    rows = slice(max(0, r - half), r - half + size_px)
    cols = slice(max(0, c - half), c - half + size_px)
    return float(np.median(hu[rows, cols][valid[rows, cols]]))


def measure_slice(crop: BodyCrop | None, geom: PlaneGeometry) -> SliceMeasures:
    """Measure one slice (see the module description).

    Parameters
    ----------
    crop : BodyCrop or None
        The slice's body crop (:func:`body_crops`); None: no body.
    geom : PlaneGeometry
        In-plane geometry.
    """
    dy, dx = geom.pixel_spacing_mm
    pixel_mm2 = dy * dx
    nan = float("nan")
    if crop is None or crop.body.sum() * pixel_mm2 < _MIN_BODY_MM2:
        return SliceMeasures(0.0, nan, nan, nan, nan)
    hu, body, x = crop.hu, crop.body, crop.x
    cx, cy = float(x[body].mean()), float(crop.y[body].mean())
    liver_hu = portal = noise = nan
    soft = body & (hu > 20) & (hu < 200) & (x < cx)
    # the liver lies in the soft tissue's box (with air for the 7 mm window): measured there
    at = _bbox(soft, _px(7.0, dy, dx) + 2)
    liver = np.zeros((0, 0), dtype=bool)
    if at is not None:
        hu = hu[at]
        open_px = max(1, round(3.0 / min(dy, dx)))
        liver = _largest(ndimage.binary_opening(soft[at], iterations=open_px))
    area = float(liver.sum() * pixel_mm2)
    if area >= _MIN_LIVER_MM2:
        liver_hu = float(np.median(hu[liver]))
        filled = _fill_holes(liver)
        inner = ndimage.binary_erosion(filled, iterations=_px(3.0, dy, dx))
        portal = _window_max(hu, filled & (hu < 400), _px(7.0, dy, dx), inner)
        core = hu[inner & liver]
        if core.size:
            noise = float(1.4826 * np.median(np.abs(core - np.median(core))))
    else:
        area = 0.0
    aorta = _aorta(crop, cx, cy, geom)
    return SliceMeasures(area, liver_hu, portal, aorta, noise)


def _px(mm: float, dy: float, dx: float) -> int:
    return max(1, round(mm / min(dy, dx)))


def _aorta(crop: BodyCrop, cx: float, cy: float, geom: PlaneGeometry) -> float:
    dy, dx = geom.pixel_spacing_mm
    hu, body, x, y = crop.hu, crop.body, crop.x, crop.y
    bone = _fill_holes(body & (hu > 150))
    labels, n = label(bone)
    if n == 0:
        return float("nan")
    # per region: area and mean position, summed over the bone pixels in raster order
    # (the sums of ndimage.sum_labels / ndimage.mean, without the pixels of no region)
    of = labels[bone]
    count = np.bincount(of, minlength=n + 1)[1:]
    area = count * dy * dx
    mx = np.bincount(of, weights=x[bone], minlength=n + 1)[1:] / count
    my = np.bincount(of, weights=y[bone], minlength=n + 1)[1:] / count
    # vertebra: the largest bright region near the midline in the posterior half
    spine_like = (area > 300.0) & (np.abs(mx - cx) < 30.0) & (my > cy)
    if not np.any(spine_like):
        return float("nan")
    k = int(np.argmax(np.where(spine_like, area, -np.inf)))
    vertebra = labels == k + 1
    vx = float(mx[k])
    front = float(np.min(y[vertebra & (np.abs(x - vx) < 15.0)], initial=float(my[k])))
    grow = _px(2.0, dy, dx)
    near = _bbox(vertebra, grow + 1)  # the dilation reaches no further
    assert near is not None
    spine = np.zeros_like(vertebra)
    spine[near] = ndimage.binary_dilation(vertebra[near], iterations=grow)
    box = (y > front - 45.0) & (y < front + 5.0) & (x > vx - 10.0) & (x < vx + 35.0) & body
    valid = body & ~spine & (hu < 600)
    return _window_max(hu, valid, _px(10.0, dy, dx), box & valid)


def liver_like_areas(
    hu: NDArray[np.float32],
    geom: PlaneGeometry,
    hu_range: tuple[float, float],
    crops: Sequence[BodyCrop | None] | None = None,
) -> list[float]:
    """Area (mm^2) per slice of the largest region in the patient's right half of the body
    whose locally averaged HU (3 mm window) lies in ``hu_range`` (opened by 3 mm).

    Parameters
    ----------
    hu : ndarray of float32, shape (z, y, x)
        Slices.
    geom : PlaneGeometry
        In-plane geometry.
    hu_range : (float, float)
        Liver-like HU, e.g. the measured liver HU +- 25.
    crops : sequence of BodyCrop or None, optional
        The slices' body crops (:func:`body_crops` of ``hu``); found when not given.
    """
    dy, dx = geom.pixel_spacing_mm
    lo, hi = hu_range
    areas = []
    for k, crop in enumerate(body_crops(hu, geom) if crops is None else crops):
        if crop is None:
            areas.append(0.0)
            continue
        body = crop.body
        cx = float(crop.x[body].mean())
        right = body & (crop.x < cx)
        at = _bbox(right, 1)
        if at is None:
            areas.append(0.0)
            continue
        # averaged as over the whole slice (air included: the rounding depends on it)
        rows, cols = (
            slice(a.start + s.start, a.start + s.stop) for a, s in zip(crop.at, at, strict=True)
        )
        smooth = _mean_filter_at(hu[k], _px(3.0, dy, dx), (rows, cols))
        mask = right[at] & (smooth > lo) & (smooth < hi)
        region = _largest(ndimage.binary_opening(mask, iterations=_px(3.0, dy, dx)))
        areas.append(float(region.sum() * dy * dx))
    return areas


def liver_noise_sd_hu(measures: Sequence[SliceMeasures], top_k: int = 5) -> float:
    """Median noise (HU) over the ``top_k`` slices with the largest liver region; NaN when
    none has one."""
    best = sorted(
        (m for m in measures if m.liver_area_mm2 > 0 and np.isfinite(m.noise_sd_hu)),
        key=lambda m: m.liver_area_mm2,
        reverse=True,
    )[:top_k]
    return float(np.median([m.noise_sd_hu for m in best])) if best else float("nan")


def measure_slices(
    hu: NDArray[np.float32],
    geom: PlaneGeometry,
    crops: Sequence[BodyCrop | None] | None = None,
) -> list[SliceMeasures]:
    """Measure every slice of a stack (z, y, x).

    Parameters
    ----------
    hu : ndarray of float32, shape (z, y, x)
        Slices, Hounsfield units.
    geom : PlaneGeometry
        In-plane geometry.
    crops : sequence of BodyCrop or None, optional
        The slices' body crops (:func:`body_crops` of ``hu``); found when not given.
    """
    return [measure_slice(c, geom) for c in (body_crops(hu, geom) if crops is None else crops)]
