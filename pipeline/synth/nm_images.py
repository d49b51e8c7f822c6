"""Emission images from an activity distribution: system blur, Poisson noise, planar views.

Assumptions:

- Reconstructed SPECT and PET are the voxel-averaged activity blurred by a 3-D isotropic
  Gaussian of the stated FWHM (system resolution after reconstruction; no partial-volume
  correction, no scatter, no attenuation artefacts: the reconstruction is taken as ideally
  attenuation- and scatter-corrected), then Poisson-sampled. The scale (counts per MBq) is
  chosen so that the expected total of the image is a stated number of counts.
- Planar views (anterior and posterior) project the voxel-averaged activity along the
  patient's antero-posterior axis (rows of the NM grid) with a uniform linear attenuation
  coefficient inside the body outline (lungs included: no lung density correction), then a
  2-D Gaussian blur and Poisson noise. Image row 0 is the patient's head end. The anterior
  view looks from the front (column 0 = patient's right, as a camera facing the patient
  sees it); the posterior view looks from behind (column 0 = patient's left). Flip the
  posterior view left-right before a geometric mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
"""Gaussian sigma per FWHM."""
MU_TC99M_PER_MM = 0.0153
"""Linear attenuation of water at 140 keV (Tc-99m), 1/mm (0.153 /cm narrow beam)."""


def blur(volume: NDArray[np.floating], spacing_mm: tuple[float, ...],
         fwhm_mm: float) -> NDArray[np.float64]:
    """Isotropic Gaussian blur of FWHM ``fwhm_mm`` on a grid of ``spacing_mm`` per axis.

    Activity leaving the grid is lost (zero outside); the activity here lies well inside it.
    """
    sigma = [fwhm_mm * FWHM_TO_SIGMA / s for s in spacing_mm]
    return np.asarray(ndimage.gaussian_filter(np.asarray(volume, float), sigma,
                                              mode="constant", cval=0.0, truncate=4.0))


def poisson_counts(expected: NDArray[np.floating], rng: np.random.Generator
                   ) -> NDArray[np.int64]:
    """Poisson samples of the expected counts (negative round-off clipped to 0)."""
    return np.asarray(rng.poisson(np.clip(expected, 0.0, None)), dtype=np.int64)


def emission_counts(activity_mbq_per_ml: NDArray[np.floating],
                    spacing_zyx_mm: tuple[float, float, float], fwhm_mm: float,
                    total_counts: float, rng: np.random.Generator
                    ) -> tuple[NDArray[np.int64], float]:
    """A reconstructed emission image in counts per voxel.

    Parameters
    ----------
    activity_mbq_per_ml : ndarray, shape (z, y, x)
        Voxel-averaged activity concentration, MBq/mL.
    spacing_zyx_mm : tuple of float
        Voxel size, mm.
    fwhm_mm : float
        System resolution (Gaussian FWHM), mm.
    total_counts : float
        Expected sum of the image.
    rng : numpy.random.Generator
        Source of the Poisson noise.

    Returns
    -------
    counts : ndarray of int64
        Counts per voxel.
    counts_per_mbq : float
        Expected counts per MBq in the field of view.
    """
    voxel_ml = float(np.prod(spacing_zyx_mm)) / 1000.0
    mbq = blur(activity_mbq_per_ml, spacing_zyx_mm, fwhm_mm) * voxel_ml
    per_mbq = total_counts / float(np.sum(activity_mbq_per_ml) * voxel_ml)
    return poisson_counts(mbq * per_mbq, rng), per_mbq


@dataclass(frozen=True)
class PlanarViews:
    """Anterior and posterior planar views.

    Parameters
    ----------
    anterior, posterior : ndarray of int64, shape (rows, columns)
        Counts per pixel; row 0 = head end; see the module notes for the columns.
    counts_per_mbq : float
        Expected counts per MBq of unattenuated activity.
    mu_per_mm : float
        Linear attenuation coefficient used, 1/mm.
    fwhm_mm : float
        Planar resolution (Gaussian FWHM), mm.
    """

    anterior: NDArray[np.int64]
    posterior: NDArray[np.int64]
    counts_per_mbq: float
    mu_per_mm: float
    fwhm_mm: float


def planar_views(activity_mbq_per_ml: NDArray[np.floating], body: NDArray[np.bool_],
                 spacing_zyx_mm: tuple[float, float, float], *, fwhm_mm: float,
                 total_counts: float, rng: np.random.Generator,
                 mu_per_mm: float = MU_TC99M_PER_MM) -> PlanarViews:
    """Anterior/posterior projections of an axial activity grid (z ascending, y posterior).

    Parameters
    ----------
    activity_mbq_per_ml : ndarray, shape (z, y, x)
        Voxel-averaged activity, MBq/mL, on an axial grid (IOP 1,0,0 / 0,1,0).
    body : ndarray of bool, same shape
        Voxels inside the body outline (attenuating).
    spacing_zyx_mm : tuple of float
        Voxel size, mm.
    fwhm_mm : float
        Planar resolution, mm.
    total_counts : float
        Expected counts per view without attenuation.
    rng : numpy.random.Generator
        Source of the noise.
    mu_per_mm : float
        Linear attenuation coefficient inside the body, 1/mm.
    """
    dz, dy, dx = spacing_zyx_mm
    voxel_ml = dz * dy * dx / 1000.0
    mbq = np.asarray(activity_mbq_per_ml, float) * voxel_ml
    path = body.astype(float) * dy
    before = np.cumsum(path, axis=1) - path / 2.0          # depth from the anterior surface
    after = np.cumsum(path[:, ::-1], axis=1)[:, ::-1] - path / 2.0
    per_mbq = total_counts / float(np.sum(mbq))
    views = []
    for depth in (before, after):
        image = np.sum(mbq * np.exp(-mu_per_mm * depth), axis=1)       # (z, x)
        image = ndimage.gaussian_filter(image, (fwhm_mm * FWHM_TO_SIGMA / dz,
                                                fwhm_mm * FWHM_TO_SIGMA / dx),
                                        mode="constant", cval=0.0)
        views.append(poisson_counts(image * per_mbq, rng))
    anterior = views[0][::-1, :]
    posterior = views[1][::-1, ::-1]
    return PlanarViews(anterior, posterior, per_mbq, mu_per_mm, fwhm_mm)
