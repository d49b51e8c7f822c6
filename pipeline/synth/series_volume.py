"""HU images and label maps of each series of a study.

The phantom is classified once on a shared axial "master" grid (thin slices at the study's
pixel spacing); an axial series whose pixels fall on master voxels (same pixel spacing,
axis-aligned orientation, slice positions on master slices) is derived from it: HU by
table look-up per phase, averaged over the slice thickness along z (partial volume), then
flipped/transposed into the series' own index order. Any other series (oblique, other
pixel spacing) is rendered directly with :func:`~pipeline.synth.render.render_hu_and_labels`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .phantom import Phantom
from .render import Grid, ct_noise, phase_table, render_hu_and_labels, render_tissue
from .spec import Kernel, SeriesSpec
from .tissue import Phase

LOW_DOSE_NOISE_FACTOR = 2.2
"""Noise of a low-dose series relative to a standard-dose one."""

LOW_DOSE_ENHANCEMENT_FACTOR = 0.65
"""Enhancement of a low-dose/low-contrast series (lower kV-independent iodine load)."""

_KERNEL_NOISE = {Kernel.SOFT: 1.0, Kernel.BONE: 3.0, Kernel.LUNG: 2.5}
_KERNEL_SHARPEN = {Kernel.SOFT: 0.0, Kernel.BONE: 1.2, Kernel.LUNG: 0.8}
_NOISE_HU_AT_5MM = 9.0
"""Soft-kernel noise (HU) of a 5 mm slice of an average adult; scales as 1/sqrt(thickness)."""


def noise_sigma_hu(spec: SeriesSpec, body_half_width_mm: float) -> float:
    """Image noise standard deviation of a series, HU.

    Parameters
    ----------
    spec : SeriesSpec
        The series (thickness, kernel, dose).
    body_half_width_mm : float
        Patient half width: larger patients attenuate more and give noisier images.
    """
    sigma = _NOISE_HU_AT_5MM * math.sqrt(5.0 / max(spec.slice_thickness_mm, 0.3))
    sigma *= _KERNEL_NOISE[spec.kernel] * (body_half_width_mm / 165.0) ** 1.5
    return sigma * (LOW_DOSE_NOISE_FACTOR if spec.low_dose else 1.0)


@dataclass
class MasterGrid:
    """The phantom classified once on the study's shared axial grid."""

    grid: Grid
    tissue: NDArray[np.uint8]
    labels: NDArray[np.uint8]

    @classmethod
    def build(cls, phantom: Phantom, grid: Grid) -> MasterGrid:
        """Classify ``phantom`` on ``grid`` (identity orientation)."""
        tissue, labels = render_tissue(phantom, grid)
        return cls(grid, tissue, labels)


def _index_map(master: Grid, series: Grid) -> list[tuple[int, int, int]] | None:
    """For each series axis (z, y, x): (master axis, step, start) if it lies on master voxels."""
    inv = np.linalg.inv(master.affine())
    a = inv @ series.affine()
    out = []
    for s_axis in range(3):
        col = a[:3, s_axis]
        m_axis = int(np.argmax(np.abs(col)))
        step = col[m_axis]
        if np.abs(np.delete(col, m_axis)).max() > 1e-6 or abs(step - round(step)) > 1e-6:
            return None
        out.append((m_axis, round(step), 0))
    offset = a[:3, 3]
    if np.abs(offset - np.round(offset)).max() > 1e-6:
        return None
    if sorted(m for m, _, _ in out) != [0, 1, 2] or out[1][1] == 0 or out[2][1] == 0:
        return None
    if abs(out[1][1]) != 1 or abs(out[2][1]) != 1:
        return None
    result = [(m, st, round(offset[m])) for m, st, _ in out]
    for (m, st, start), n in zip(result, series.shape_zyx, strict=True):
        last = start + st * (n - 1)
        if min(start, last) < 0 or max(start, last) >= master.shape_zyx[m]:
            return None
    return result


def _slab_weights(thickness_mm: float,
                  dz_mm: float) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Master-slice offsets and weights of a box average over ``thickness_mm``.

    Each master slice stands for the slab [z - dz/2, z + dz/2]; its weight is the length of
    its overlap with [-T/2, T/2], normalised.
    """
    half = max(thickness_mm, dz_mm) / 2.0
    n = math.ceil(half / dz_mm + 0.5)
    offs = np.arange(-n, n + 1)
    lo = np.maximum(offs * dz_mm - dz_mm / 2, -half)
    hi = np.minimum(offs * dz_mm + dz_mm / 2, half)
    w = np.clip(hi - lo, 0.0, None)
    keep = w > 1e-9
    return offs[keep], w[keep] / w[keep].sum()


def series_volume(phantom: Phantom, master: MasterGrid | None, spec: SeriesSpec, grid: Grid,
                  rng: np.random.Generator, body_half_width_mm: float
                  ) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """HU image and labels of one axial series on its own grid.

    Parameters
    ----------
    phantom : Phantom
        The anatomy.
    master : MasterGrid or None
        The shared classification, if any.
    spec : SeriesSpec
        The series.
    grid : Grid
        The series' grid (its own orientation and index order).
    rng : numpy.random.Generator
        Noise source.
    body_half_width_mm : float
        Patient half width (noise level).

    Returns
    -------
    hu : ndarray of float32, shape ``grid.shape_zyx``
        HU with partial volume, kernel sharpening and noise.
    labels : ndarray of uint8, shape ``grid.shape_zyx``
        Labels at the voxel centres.
    """
    phase = Phase(spec.phase) if spec.phase is not None else Phase.NATIVE
    factor = LOW_DOSE_ENHANCEMENT_FACTOR if spec.low_dose else 1.0
    sigma = noise_sigma_hu(spec, body_half_width_mm)
    mapping = _index_map(master.grid, grid) if master is not None else None
    if master is None or mapping is None or mapping[0][0] != 0:
        hu, labels = render_hu_and_labels(phantom, grid, phase,
                                          slice_thickness_mm=spec.slice_thickness_mm,
                                          noise_hu=0.0, rng=rng, enhancement_factor=factor)
    else:
        table = phase_table(phantom, phase, factor)
        (_, zstep, zstart), ymap, xmap = mapping
        centres = zstart + zstep * np.arange(grid.shape_zyx[0])
        offs, weights = _slab_weights(spec.slice_thickness_mm, master.grid.spacing_zyx_mm[0])
        nz = master.grid.shape_zyx[0]
        slab = np.zeros((len(centres), *master.tissue.shape[1:]), dtype=np.float32)
        for off, w in zip(offs, weights, strict=True):
            slab += np.float32(w) * table[master.tissue[np.clip(centres + off, 0, nz - 1)]]
        lab = master.labels[centres]
        shape_yx = (grid.shape_zyx[1], grid.shape_zyx[2])
        hu = np.asarray(_to_series_axes(slab, ymap, xmap, shape_yx), dtype=np.float32)
        labels = np.asarray(_to_series_axes(lab, ymap, xmap, shape_yx), dtype=np.uint8)
    sharpen = _KERNEL_SHARPEN[spec.kernel]
    if sharpen > 0:
        blurred = ndimage.gaussian_filter(hu, sigma=(0, 1.0, 1.0))
        hu = hu + np.float32(sharpen) * (hu - blurred)
    hu = hu + ct_noise(hu.shape, sigma, rng)
    return np.asarray(hu, dtype=np.float32), np.ascontiguousarray(labels)


def _to_series_axes(vol: NDArray[np.generic], ymap: tuple[int, int, int],
                    xmap: tuple[int, int, int], shape_yx: tuple[int, int]) -> NDArray[np.generic]:
    """Pick and order the master rows/columns of a (series z, master y, master x) block.

    ``ymap``/``xmap`` give, for the series row and column axes, (master axis, step, start).
    """
    idx_row = ymap[2] + ymap[1] * np.arange(shape_yx[0])
    idx_col = xmap[2] + xmap[1] * np.arange(shape_yx[1])
    if ymap[0] == 1:
        out = vol[:, idx_row][:, :, idx_col]
    else:  # series rows run along master x
        out = vol[:, idx_col][:, :, idx_row].transpose(0, 2, 1)
    return np.ascontiguousarray(out)
