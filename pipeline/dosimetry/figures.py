"""Figures of a dosimetry: cumulative DVH plot and a fused dose overlay on the planning CT.

Both are PNG images (matplotlib, Agg) for the PDF, the dashboard and ``dosimetry-dvh.png``.
The DVH curves are exact (every voxel of the region on the dose grid, :mod:`.dvh`). The
overlay shows the dose resampled (linear) onto one axial planning-CT slice through the
liver's centre of mass, through the registration (planning -> emission points), in the
radiological view of :mod:`pipeline.encode.overlay`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray

from pipeline.dosimetry import dvh
from pipeline.dosimetry.compute import DoseOutput
from pipeline.dosimetry.study import ct_image
from pipeline.encode.overlay import display_transform
from pipeline.volume import CTVolume

DVH_REGIONS = ("liver", "normal_liver", "tumour", "lung")
"""Regions drawn in the DVH plot, where present."""


@dataclass(frozen=True)
class DvhCurve:
    """One cumulative DVH curve.

    Parameters
    ----------
    label : str
        Legend text (source and region).
    dose_gy : ndarray
        Dose levels, Gy, ascending.
    volume_percent : ndarray
        Percentage of the region receiving at least each level, %.
    """

    label: str
    dose_gy: NDArray[np.float64]
    volume_percent: NDArray[np.float64]


def dvh_curves(
    output: DoseOutput, source: str, names: Sequence[str] = DVH_REGIONS, points: int = 200
) -> list[DvhCurve]:
    """Cumulative DVH curves of the named regions of one dosimetry.

    Parameters
    ----------
    output : DoseOutput
        Dose grid and regions on it.
    source : str
        Legend prefix (e.g. ``MAA SPECT``).
    names : sequence of str
        Regions wanted (absent or empty ones are skipped).
    points : int
        Dose levels per curve, from 0 to the largest dose of the regions drawn.
    """
    dose = sitk.GetArrayFromImage(output.dose)
    masks = {n: output.regions[n] for n in names if n in output.regions and output.regions[n].any()}
    if not masks:
        return []
    top = max(float(dose[m].max()) for m in masks.values())
    levels = np.linspace(0.0, max(top, 1.0) * 1.02, points)
    return [
        DvhCurve(
            f"{source}: {name.replace('_', ' ')}",
            levels,
            dvh.cumulative_dvh(dvh.region_doses(dose, mask), levels),
        )
        for name, mask in masks.items()
    ]


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def dvh_png(
    curves: Sequence[DvhCurve], title: str = "Cumulative dose-volume histograms", dpi: int = 110
) -> bytes:
    """The curves on one plot (MAA prediction solid, Y-90 PET dashed), PNG bytes."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=dpi)
    for curve in curves:
        style = "--" if curve.label.startswith("Y-90") else "-"
        ax.plot(curve.dose_gy, curve.volume_percent, style, label=curve.label)
    ax.set_xlabel("Absorbed dose (Gy)")
    ax.set_ylabel("Volume receiving at least the dose (%)")
    ax.set_ylim(0, 102)
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=9)
    if curves:
        ax.legend(fontsize=7)
    return _png(fig)


def dose_on_planning(output: DoseOutput, planning: CTVolume) -> NDArray[np.float64]:
    """The dose grid resampled (linear) onto the planning CT grid, Gy, (z, y, x)."""
    reference = ct_image(planning)
    transform: sitk.Transform = (
        sitk.Transform() if output.registration is None else output.registration.transform
    )
    resampled = sitk.Resample(
        output.dose, reference, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat64
    )
    return np.asarray(sitk.GetArrayFromImage(resampled), dtype=np.float64)


def fused_png(
    planning: CTVolume,
    dose_gy: NDArray[np.floating],
    liver: NDArray[np.bool_],
    title: str,
    window: tuple[float, float] = (60.0, 400.0),
    dpi: int = 110,
) -> bytes:
    """One axial planning-CT slice through the liver's centre with the dose in colour.

    Parameters
    ----------
    planning : CTVolume
        Planning CT.
    dose_gy : ndarray, shape of the planning CT
        Dose on the planning grid (:func:`dose_on_planning`), Gy.
    liver : ndarray of bool, shape of the planning CT
        Liver on the planning grid (its outline is drawn; its centre picks the slice).
    title : str
        Caption.
    window : tuple of float
        CT window centre and width, HU.
    dpi : int
        Figure resolution.
    """
    k = round(float(np.argwhere(liver)[:, 0].mean())) if liver.any() else planning.shape[0] // 2
    transform = display_transform(planning.row_cosine, planning.column_cosine)
    centre, width = window
    grey = np.clip((transform.apply(planning.hu[k]) - (centre - width / 2)) / width, 0, 1)
    dose = transform.apply(np.asarray(dose_gy[k], dtype=np.float64))
    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=dpi)
    ax.imshow(grey, cmap="gray", interpolation="nearest")
    top = float(dose_gy.max()) if dose_gy.size else 0.0
    shown = np.ma.masked_less(dose, 0.02 * top if top > 0 else 1.0)
    image = ax.imshow(
        shown, cmap="jet", alpha=0.45, vmin=0.0, vmax=max(top, 1.0), interpolation="bilinear"
    )
    if liver[k].any():
        ax.contour(
            transform.apply(liver[k].astype(float)), levels=[0.5], colors="white", linewidths=0.6
        )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="Gy")
    ax.set_title(f"{title}\nslice {k + 1}/{planning.shape[0]}", fontsize=8)
    ax.set_axis_off()
    for x, y, text in ((0.5, 0.96, "A"), (0.5, 0.04, "P"), (0.03, 0.5, "R"), (0.97, 0.5, "L")):
        ax.text(
            x,
            y,
            text,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="white",
            fontweight="bold",
        )
    return _png(fig)
