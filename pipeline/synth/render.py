"""Sampling the phantom on a CT grid: label maps and HU images.

A :class:`Grid` uses the conventions of :class:`pipeline.volume.CTVolume`: arrays are
(z, y, x); slice ``k``, row ``j``, column ``i`` lies at
``origin + k * dz * normal + j * dy * column_cosine + i * dx * row_cosine`` with
``normal = row_cosine x column_cosine``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .phantom import Phantom, make_phantom
from .shapes import FloatArray
from .tissue import Phase, hu_table

_BLOCK_POINTS = 40_000
"""Points classified per call (bounds memory and lets bounding boxes skip solids)."""


@dataclass(frozen=True)
class Grid:
    """A CT sampling grid in patient coordinates.

    Parameters
    ----------
    shape_zyx : tuple of int
        Number of slices, rows, columns.
    spacing_zyx_mm : tuple of float
        Slice spacing along the normal, row spacing, column spacing (mm).
    origin_mm : tuple of float
        ImagePositionPatient (x, y, z) of the first slice's first pixel, mm.
    row_cosine, column_cosine : tuple of float
        ImageOrientationPatient: direction of increasing column index and of increasing
        row index (unit vectors, patient LPS).
    """

    shape_zyx: tuple[int, int, int]
    spacing_zyx_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    row_cosine: tuple[float, float, float] = (1.0, 0.0, 0.0)
    column_cosine: tuple[float, float, float] = (0.0, 1.0, 0.0)

    @property
    def normal(self) -> FloatArray:
        """Unit slice normal (row cosine x column cosine)."""
        n = np.cross(np.asarray(self.row_cosine, float), np.asarray(self.column_cosine, float))
        return np.asarray(n / np.linalg.norm(n))

    def affine(self) -> FloatArray:
        """4x4 matrix from homogeneous (z, y, x) indices to patient (x, y, z) mm."""
        dz, dy, dx = self.spacing_zyx_mm
        a = np.eye(4)
        a[:3, 0] = self.normal * dz
        a[:3, 1] = np.asarray(self.column_cosine, float) * dy
        a[:3, 2] = np.asarray(self.row_cosine, float) * dx
        a[:3, 3] = self.origin_mm
        return a

    def slice_position(self, k: int) -> FloatArray:
        """ImagePositionPatient (x, y, z) of slice ``k``, mm."""
        return np.asarray(np.asarray(self.origin_mm) + k * self.spacing_zyx_mm[0] * self.normal)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL."""
        return float(np.prod(self.spacing_zyx_mm)) / 1000.0

    @classmethod
    def covering(cls, box: tuple[FloatArray, FloatArray],
                 spacing_zyx_mm: tuple[float, float, float]) -> Grid:
        """Axial grid (identity orientation) covering a patient box, inferior to superior."""
        lo, hi = np.asarray(box[0], float), np.asarray(box[1], float)
        dz, dy, dx = spacing_zyx_mm
        shape = (math.ceil((hi[2] - lo[2]) / dz) + 1,
                 math.ceil((hi[1] - lo[1]) / dy) + 1,
                 math.ceil((hi[0] - lo[0]) / dx) + 1)
        return cls(shape, (float(dz), float(dy), float(dx)),
                   (float(lo[0]), float(lo[1]), float(lo[2])))


def _blocks(grid: Grid) -> Iterator[tuple[int, int, int, int]]:
    nz, ny, nx = grid.shape_zyx
    rows = max(1, min(ny, _BLOCK_POINTS // max(nx, 1)))
    for k in range(nz):
        for j0 in range(0, ny, rows):
            yield k, k + 1, j0, min(ny, j0 + rows)


def _points(grid: Grid, k0: int, k1: int, j0: int, j1: int,
            offset_mm: FloatArray) -> FloatArray:
    a = grid.affine()
    k, j, i = np.meshgrid(np.arange(k0, k1), np.arange(j0, j1), np.arange(grid.shape_zyx[2]),
                          indexing="ij")
    idx = np.stack([k.ravel(), j.ravel(), i.ravel()], axis=1).astype(np.float64)
    return np.asarray(idx @ a[:3, :3].T + a[:3, 3] + offset_mm)


def render_labels(phantom: Phantom, grid: Grid,
                  slice_thickness_mm: float | None = None) -> NDArray[np.uint8]:
    """Ground-truth label map on a grid (label at each voxel centre).

    Parameters
    ----------
    phantom : Phantom
        The anatomy.
    grid : Grid
        The CT grid.
    slice_thickness_mm : float, optional
        Accepted for symmetry with :func:`render_hu`; labels are sampled at the voxel
        centre whatever the thickness.

    Returns
    -------
    ndarray of uint8, shape ``grid.shape_zyx``
        ``pipeline.structures.DEMO_LABELS`` values, 0 elsewhere.
    """
    out = np.zeros(grid.shape_zyx, dtype=np.uint8)
    zero = np.zeros(3)
    for k0, k1, j0, j1 in _blocks(grid):
        _, lab = phantom.classify(_points(grid, k0, k1, j0, j1, zero))
        out[k0:k1, j0:j1, :] = lab.reshape(k1 - k0, j1 - j0, -1)
    return out


def render_tissue(phantom: Phantom, grid: Grid
                  ) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Tissue classes and labels at the voxel centres of a grid (phase-independent).

    Returns
    -------
    tissue : ndarray of uint8, shape ``grid.shape_zyx``
        Tissue values (see :meth:`Phantom.classify`); :func:`phase_table` maps them to HU.
    labels : ndarray of uint8, shape ``grid.shape_zyx``
        DEMO_LABELS values.
    """
    tissue = np.zeros(grid.shape_zyx, dtype=np.uint8)
    labels = np.zeros(grid.shape_zyx, dtype=np.uint8)
    zero = np.zeros(3)
    for k0, k1, j0, j1 in _blocks(grid):
        t, lab = phantom.classify(_points(grid, k0, k1, j0, j1, zero))
        shape = (k1 - k0, j1 - j0, grid.shape_zyx[2])
        tissue[k0:k1, j0:j1, :] = t.reshape(shape)
        labels[k0:k1, j0:j1, :] = lab.reshape(shape)
    return tissue, labels


def phase_table(phantom: Phantom, phase: Phase,
                enhancement_factor: float = 1.0) -> NDArray[np.float32]:
    """HU of every tissue value of this phantom in one phase (256 entries).

    Parameters
    ----------
    phantom : Phantom
        The anatomy (its enhancement and its lesions' densities and rims).
    phase : Phase
        Contrast phase.
    enhancement_factor : float
        Extra factor on all enhancement (< 1 for a low-contrast acquisition).
    """
    return hu_table(Phase(phase), phantom.enhancement_scale * enhancement_factor,
                    np.array([les.core_offset_hu for les in phantom.lesions]),
                    np.array([les.rim_mm > 0 for les in phantom.lesions], dtype=bool))


def _subsample_offsets(grid: Grid, slice_thickness_mm: float,
                       inplane: int) -> list[FloatArray]:
    """Sample offsets (patient mm) within a voxel: an odd count along the normal over the
    slice thickness (one per ~1.5 mm, at most 9) times ``inplane``^2 in-plane."""
    n_z = max(1, min(9, round(slice_thickness_mm / 1.5)))
    n_z += 1 - n_z % 2
    fz = ((np.arange(n_z) + 0.5) / n_z - 0.5) * slice_thickness_mm
    _, dy, dx = grid.spacing_zyx_mm
    fi = ((np.arange(inplane) + 0.5) / inplane - 0.5)
    col, row = np.asarray(grid.column_cosine, float), np.asarray(grid.row_cosine, float)
    return [oz * grid.normal + oy * dy * col + ox * dx * row
            for oz in fz for oy in fi for ox in fi]


def render_hu_and_labels(phantom: Phantom, grid: Grid, phase: Phase, *,
                         slice_thickness_mm: float, noise_hu: float, rng: np.random.Generator,
                         enhancement_factor: float = 1.0, inplane_subsamples: int | None = None
                         ) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """HU image and label map of one grid in a single sweep where possible.

    Parameters are those of :func:`render_hu`.

    Returns
    -------
    hu : ndarray of float32
        As :func:`render_hu`.
    labels : ndarray of uint8
        As :func:`render_labels`.
    """
    if inplane_subsamples is None:
        cheap = int(np.prod(grid.shape_zyx)) <= 1_500_000
        inplane_subsamples = 2 if cheap and min(grid.spacing_zyx_mm[1:]) > 2.5 else 1
    table = phase_table(phantom, phase, enhancement_factor)
    offsets = _subsample_offsets(grid, slice_thickness_mm, inplane_subsamples)
    centre = [k for k, off in enumerate(offsets) if not np.any(off)]
    out = np.zeros(grid.shape_zyx, dtype=np.float32)
    labels = np.zeros(grid.shape_zyx, dtype=np.uint8)
    zero = np.zeros(3)
    for k0, k1, j0, j1 in _blocks(grid):
        acc = np.zeros((k1 - k0) * (j1 - j0) * grid.shape_zyx[2], dtype=np.float32)
        shape = (k1 - k0, j1 - j0, grid.shape_zyx[2])
        for n, off in enumerate(offsets):
            tissue, lab = phantom.classify(_points(grid, k0, k1, j0, j1, off))
            acc += table[tissue]
            if centre and n == centre[0]:
                labels[k0:k1, j0:j1, :] = lab.reshape(shape)
        if not centre:
            _, lab = phantom.classify(_points(grid, k0, k1, j0, j1, zero))
            labels[k0:k1, j0:j1, :] = lab.reshape(shape)
        out[k0:k1, j0:j1, :] = (acc / len(offsets)).reshape(shape)
    if noise_hu > 0:
        out += ct_noise(grid.shape_zyx, noise_hu, rng)
    return out, labels


def render_hu(phantom: Phantom, grid: Grid, phase: Phase, *, slice_thickness_mm: float,
              noise_hu: float, rng: np.random.Generator, enhancement_factor: float = 1.0,
              inplane_subsamples: int | None = None) -> NDArray[np.float32]:
    """CT image in HU with partial-volume averaging and noise.

    Parameters
    ----------
    phantom : Phantom
        The anatomy.
    grid : Grid
        The CT grid.
    phase : Phase
        Contrast phase.
    slice_thickness_mm : float
        Reconstructed slice thickness: the anatomy is averaged over this thickness along
        the slice normal (an odd number of samples, one per ~1.5 mm, at most 9).
    noise_hu : float
        Standard deviation of the added image noise, HU.
    rng : numpy.random.Generator
        Source of the noise.
    enhancement_factor : float
        Extra factor on all contrast enhancement (< 1 for a low-contrast acquisition).
    inplane_subsamples : int, optional
        Samples per pixel edge in-plane (1: pixel centre only). By default 2 where cheap
        (pixels coarser than 2.5 mm on grids of at most 1.5 million voxels), else 1.

    Returns
    -------
    ndarray of float32, shape ``grid.shape_zyx``
        Hounsfield units.
    """
    hu, _ = render_hu_and_labels(phantom, grid, phase, slice_thickness_mm=slice_thickness_mm,
                                 noise_hu=noise_hu, rng=rng,
                                 enhancement_factor=enhancement_factor,
                                 inplane_subsamples=inplane_subsamples)
    return hu


def ct_noise(shape: tuple[int, int, int], sigma_hu: float,
              rng: np.random.Generator) -> NDArray[np.float32]:
    """Gaussian noise with a short in-plane correlation (CT-like texture), std ``sigma_hu``."""
    white = rng.standard_normal(shape, dtype=np.float32)
    # 3-tap binomial blur in-plane, renormalised to unit variance
    k = np.array([0.25, 0.5, 0.25], dtype=np.float32)
    blurred = white
    for axis in (1, 2):
        blurred = (k[0] * np.roll(blurred, 1, axis) + k[1] * blurred
                   + k[2] * np.roll(blurred, -1, axis))
    gain = 1.0 / float(np.sqrt(np.sum(np.outer(k, k) ** 2)))
    return np.asarray(blurred * (sigma_hu * gain), dtype=np.float32)


def training_grid(phantom: Phantom, spacing_zyx_mm: tuple[float, float, float]) -> Grid:
    """Axial grid over the whole body outline and the phantom's scan range."""
    return Grid.covering(phantom.field_of_view(), spacing_zyx_mm)


def render_training_case(seed: int, spacing_zyx_mm: tuple[float, float, float] = (2.0, 2.0, 2.0),
                         phase: Phase = Phase.PORTAL_VENOUS, noise_hu: float | None = None,
                         inplane_subsamples: int = 1
                         ) -> tuple[NDArray[np.float32], NDArray[np.uint8],
                                    tuple[float, float, float]]:
    """A whole abdomen (axial, identity orientation) for model training.

    Parameters
    ----------
    seed : int
        Phantom seed (also seeds the noise).
    spacing_zyx_mm : tuple of float
        Voxel spacing (z, y, x), mm; the slice thickness equals the z spacing.
    phase : Phase
        Contrast phase.
    noise_hu : float, optional
        Noise standard deviation, HU (default: 14 HU / sqrt(z spacing in mm), about 10 HU
        at 2 mm; thin-slice studies downsampled to a coarse network grid keep 20-30 HU).
    inplane_subsamples : int
        Samples per pixel edge in-plane (1: pixel centre only). Above 1, boundary voxels are
        partial-volume mixtures as in studies with coarse pixels; the labels stay the
        tissue at the voxel centre.

    Returns
    -------
    hu : ndarray of float32, shape (z, y, x)
        HU image.
    labels : ndarray of uint8, shape (z, y, x)
        DEMO_LABELS ground truth.
    spacing_zyx_mm : tuple of float
        The spacing.
    """
    phantom = make_phantom(seed)
    grid = training_grid(phantom, spacing_zyx_mm)
    rng = np.random.default_rng([seed, 1])
    noise = 14.0 * math.sqrt(1.0 / max(spacing_zyx_mm[0], 0.5)) if noise_hu is None else noise_hu
    hu, labels = render_hu_and_labels(phantom, grid, phase, slice_thickness_mm=spacing_zyx_mm[0],
                                      noise_hu=noise, rng=rng,
                                      inplane_subsamples=inplane_subsamples)
    return hu, labels, grid.spacing_zyx_mm
