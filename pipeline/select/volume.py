"""Building a :class:`~pipeline.volume.CTVolume` from CT slices, with geometry QA.

Pixel data is decoded by pydicom (compressed transfer syntaxes through python-gdcm or
pylibjpeg) and converted to HU with each slice's own RescaleSlope/RescaleIntercept. A slice
whose header was read without pixel data is read from its file once, when needed; the frames
of a multi-frame CT image (:mod:`pipeline.select.frames`) are slices too, each image decoded
once for all of its frames that are needed, with each frame's own rescale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom import dcmread
from pydicom.dataset import Dataset

from pipeline.select.config import GeometryConfig
from pipeline.select.frames import FrameHeader, frame_headers, frame_number, iter_stored_frames
from pipeline.select.geometry import GeometryProblem, GeometryReport, check_geometry
from pipeline.select.headers import number
from pipeline.select.native import read_native
from pipeline.select.reasons import GeometryReason
from pipeline.volume import CTVolume


class VolumeError(Exception):
    """The slices do not form one correct volume.

    Parameters
    ----------
    reasons : list[GeometryReason]
        The named blocking reasons, without repeats, in the order found.
    findings : list[GeometryProblem]
        Every finding with its detail (blocking ones and notes).
    """

    def __init__(self, reasons: list[GeometryReason],
                 findings: list[GeometryProblem] | None = None):
        self.reasons = reasons
        self.findings = findings or []
        details = "; ".join(str(f) for f in self.findings if f.reason.blocking)
        super().__init__(details or ", ".join(r.value for r in reasons))


@dataclass(frozen=True)
class BuiltVolume:
    """A volume and the non-blocking findings (notes) recorded while building it.

    Parameters
    ----------
    volume : CTVolume
        The volume.
    notes : list[GeometryProblem]
        Findings that did not prevent the build (e.g. per-slice rescale applied).
    """

    volume: CTVolume
    notes: list[GeometryProblem]


def _as_datasets(items: Iterable[Dataset | Path | str]) -> list[Dataset]:
    out: list[Dataset] = []
    for item in items:
        ds = item if isinstance(item, Dataset) else dcmread(item, stop_before_pixels=True)
        out.extend(frame_headers(ds))
    return out


def slice_hu(ds: Dataset, out: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
    """HU of one slice: stored values x RescaleSlope + RescaleIntercept (of this slice).

    Parameters
    ----------
    ds : Dataset
        A single-frame CT image; when it has no PixelData (header read alone) its file is
        read: its Pixel Data value alone where the header read found where it lies
        (``native_pixels``, :mod:`pipeline.select.native`), else the whole file.
        Frames of a multi-frame image are read by :func:`read_hu_into`.
    out : ndarray of float32, shape (Rows, Columns), optional
        Where to write the HU (e.g. the slice of a volume); a new array when not given.

    Returns
    -------
    ndarray of float32, shape (Rows, Columns)
        Hounsfield units (``out`` when given).

    Raises
    ------
    VolumeError
        ``UNREADABLE_PIXELS`` when the pixel data cannot be decoded or has another shape
        than Rows x Columns.
    """
    try:
        where = getattr(ds, "native_pixels", None)
        native = None if where is None or "PixelData" in ds else read_native(ds, where)
        if native is not None:
            return _to_hu(native, ds, out)
        full = ds if "PixelData" in ds else dcmread(ds.filename)
        stored = _checked_shape(full.pixel_array, ds)
    except Exception as exc:  # pydicom raises many types for undecodable pixel data
        raise _unreadable(ds, exc) from exc
    return _to_hu(stored, full, out)


def _checked_shape(stored: NDArray[Any], ds: Dataset) -> NDArray[Any]:
    if stored.shape != (int(ds.Rows), int(ds.Columns)):
        raise ValueError(f"pixel array shape {stored.shape}")
    return stored


def _unreadable(ds: Dataset, exc: Exception) -> VolumeError:
    finding = GeometryProblem(
        GeometryReason.UNREADABLE_PIXELS,
        f"{ds.get('SOPInstanceUID', '?')}: {type(exc).__name__}: {exc}",
    )
    return VolumeError([GeometryReason.UNREADABLE_PIXELS], [finding])


def _to_hu(
    stored: NDArray[Any], header: Dataset, out: NDArray[np.float32] | None = None
) -> NDArray[np.float32]:
    """Stored values to HU, in ``out`` when given (no temporary slice-sized array)."""
    slope = float(header.get("RescaleSlope", 1) or 1)
    intercept = float(header.get("RescaleIntercept", 0) or 0)
    if out is None:
        out = np.empty(stored.shape, dtype=np.float32)
    out[...] = stored
    if slope != 1.0:
        out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)
    return out


def read_hu_slices(datasets: Sequence[Dataset]) -> NDArray[np.float32]:
    """HU of the given slices, stacked in the given order, shape (n, Rows, Columns).

    Raises
    ------
    VolumeError
        ``UNREADABLE_PIXELS`` when a slice cannot be decoded.
    """
    rows, cols = int(datasets[0].Rows), int(datasets[0].Columns)
    out = np.empty((len(datasets), rows, cols), dtype=np.float32)
    read_hu_into(out, datasets, range(len(datasets)))
    return out


def read_hu_into(
    out: NDArray[np.float32], datasets: Sequence[Dataset], at: Sequence[int]
) -> None:
    """Read the HU of ``datasets[j]`` into ``out[at[j]]``; the frames of one multi-frame
    image are decoded in one pass over it.

    Parameters
    ----------
    out : ndarray of float32, shape (n, Rows, Columns)
        Where the slices go (HU).
    datasets : sequence of Dataset
        Slices (single-frame images or frame headers).
    at : sequence of int
        Index into ``out`` of each slice.

    Raises
    ------
    VolumeError
        ``UNREADABLE_PIXELS`` when a slice cannot be decoded.
    """
    frames: list[FrameHeader] = []
    frame_at: list[int] = []
    for ds, k in zip(datasets, at, strict=True):
        if isinstance(ds, FrameHeader):
            frames.append(ds)
            frame_at.append(k)
        else:
            slice_hu(ds, out[k])
    try:
        for j, stored in iter_stored_frames(frames):
            _to_hu(_checked_shape(stored, frames[j]), frames[j], out[frame_at[j]])
    except Exception as exc:  # pydicom raises many types for undecodable pixel data
        raise _unreadable(frames[0].image, exc) from exc


def build_volume_checked(
    datasets_or_paths: Iterable[Dataset | Path | str], config: GeometryConfig | None = None
) -> BuiltVolume:
    """Check the slices' geometry, then read them into a volume, keeping the notes.

    Parameters
    ----------
    datasets_or_paths : iterable of Dataset, Path or str
        CT slices of one stack, in any order; paths are read header first.
    config : GeometryConfig, optional
        Tolerances; defaults to ``GeometryConfig()``.

    Returns
    -------
    BuiltVolume
        The volume (slices ascending along the normal) and the notes.

    Raises
    ------
    VolumeError
        With every blocking :class:`GeometryReason` when the slices are not one correct
        volume, or ``UNREADABLE_PIXELS`` when pixel data cannot be decoded.
    """
    cfg = config or GeometryConfig()
    datasets = _as_datasets(datasets_or_paths)
    report = check_geometry(datasets, cfg)
    raise_if_blocking(report)
    ordered = [datasets[i] for i in report.order]
    hu = read_hu_slices(ordered)
    return BuiltVolume(volume_from_slices(ordered, hu, report), report.findings)


def raise_if_blocking(report: GeometryReport) -> None:
    """Raise :class:`VolumeError` when the report has blocking findings."""
    if report.ok:
        return
    reasons = list(dict.fromkeys(f.reason for f in report.blocking))
    raise VolumeError(reasons, report.findings)


def volume_from_slices(
    ordered: Sequence[Dataset], hu: NDArray[np.float32], report: GeometryReport
) -> CTVolume:
    """Wrap sorted slices and their HU array as a :class:`CTVolume`.

    Parameters
    ----------
    ordered : sequence of Dataset
        Slices sorted ascending along the normal (``report.order``).
    hu : ndarray of float32, shape (z, y, x)
        HU of those slices in that order.
    report : GeometryReport
        The passing geometry report (gives the slice spacing).
    """
    first = ordered[0]
    iop = [float(v) for v in first.ImageOrientationPatient]
    row_spacing, col_spacing = (float(v) for v in first.PixelSpacing)
    origin = [float(v) for v in first.ImagePositionPatient]
    return CTVolume(
        hu=hu,
        spacing_mm=(float(report.slice_spacing_mm or 0.0), row_spacing, col_spacing),
        origin_mm=(origin[0], origin[1], origin[2]),
        row_cosine=(iop[0], iop[1], iop[2]),
        column_cosine=(iop[3], iop[4], iop[5]),
        sop_instance_uids=[str(ds.SOPInstanceUID) for ds in ordered],
        frame_numbers=_frame_numbers(ordered),
        series_instance_uid=str(first.get("SeriesInstanceUID", "")),
        study_instance_uid=str(first.get("StudyInstanceUID", "")),
        frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "")),
        slice_thickness_mm=number(first, "SliceThickness") or 0.0,
        source_paths=_source_paths(ordered),
    )


def _frame_numbers(ordered: Sequence[Dataset]) -> list[int]:
    numbers = [frame_number(ds) for ds in ordered]
    return [n or 0 for n in numbers] if any(numbers) else []


def _source_paths(ordered: Sequence[Dataset]) -> list[str]:
    paths = [getattr(ds, "filename", None) for ds in ordered]
    return [str(p) for p in paths] if all(isinstance(p, str | Path) for p in paths) else []


def build_volume(
    datasets_or_paths: Iterable[Dataset | Path | str], config: GeometryConfig | None = None
) -> CTVolume:
    """Build a checked :class:`CTVolume` from CT slices of one stack.

    Parameters
    ----------
    datasets_or_paths : iterable of Dataset, Path or str
        CT slices in any order.
    config : GeometryConfig, optional
        Tolerances; defaults to ``GeometryConfig()``.

    Returns
    -------
    CTVolume
        HU volume, slices ascending along the normal (row cosine x column cosine).

    Raises
    ------
    VolumeError
        ``reasons`` lists every blocking :class:`GeometryReason`.
    """
    return build_volume_checked(datasets_or_paths, config).volume
