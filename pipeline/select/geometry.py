"""Geometry QA of CT slices on their headers alone (no pixel data needed).

A set of slices forms one correct volume when they share FrameOfReferenceUID, orientation,
matrix and pixel spacing, are stacked along their normal without tilt, and are evenly spaced
with no duplicates and no gaps. Every violation is a :class:`GeometryProblem` with a named
:class:`~pipeline.select.reasons.GeometryReason`; nothing is averaged or repaired.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from highdicom.spatial import get_volume_positions
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from pipeline.select.config import GeometryConfig
from pipeline.select.frames import frame_number
from pipeline.select.headers import slice_normal, tm_seconds
from pipeline.select.reasons import GeometryReason

_REQUIRED = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns")


@dataclass(frozen=True)
class GeometryProblem:
    """One geometry problem.

    Parameters
    ----------
    reason : GeometryReason
        The named reason.
    detail : str
        Human-readable detail (positions in mm, counts).
    """

    reason: GeometryReason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"


@dataclass(frozen=True)
class GeometryReport:
    """Result of :func:`check_geometry`.

    Parameters
    ----------
    order : list[int]
        Indices into the input, of the slices kept (one per SOPInstanceUID, and frame of a
        multi-frame image), sorted by
        ascending position along the normal (row cosine x column cosine).
    slice_spacing_mm : float or None
        Nominal (median) spacing along the normal, mm; None when it cannot be determined.
    findings : list[GeometryProblem]
        Every problem found, blocking ones and notes.
    """

    order: list[int]
    slice_spacing_mm: float | None
    findings: list[GeometryProblem] = field(default_factory=list)

    @property
    def blocking(self) -> list[GeometryProblem]:
        """Findings that prevent a correct volume."""
        return [f for f in self.findings if f.reason.blocking]

    @property
    def ok(self) -> bool:
        """True when the slices form one correct volume."""
        return not self.blocking


def _floats(value: Iterable[object]) -> tuple[float, ...]:
    return tuple(float(str(v)) for v in value)


def geometry_key(ds: Dataset, config: GeometryConfig) -> tuple[object, ...]:
    """Key grouping slices that may form one volume: FrameOfReferenceUID, orientation
    (rounded to the orientation tolerance), Rows, Columns and PixelSpacing (0.001 mm)."""
    digits = max(0, int(-np.floor(np.log10(config.orientation_tolerance))))
    iop = tuple(round(v, digits) + 0.0 for v in _floats(ds.get("ImageOrientationPatient", ())))
    spacing = tuple(round(v, 3) for v in _floats(ds.get("PixelSpacing", ())))
    return (
        str(ds.get("FrameOfReferenceUID", "")),
        iop,
        int(ds.get("Rows", 0)),
        int(ds.get("Columns", 0)),
        spacing,
    )


def group_by_geometry(datasets: Sequence[Dataset], config: GeometryConfig) -> list[list[Dataset]]:
    """Split slices into groups of equal :func:`geometry_key`, largest group first."""
    groups: dict[tuple[object, ...], list[Dataset]] = defaultdict(list)
    for ds in datasets:
        groups[geometry_key(ds, config)].append(ds)
    return sorted(groups.values(), key=len, reverse=True)


def absent_geometry(ds: Dataset) -> list[str]:
    """Attributes a volume needs (position, orientation, pixel spacing, rows, columns) that
    a slice lacks or holds empty."""
    return [keyword for keyword in _REQUIRED if ds.get(keyword) in (None, "")]


def positions_along_normal(datasets: Sequence[Dataset]) -> NDArray[np.float64]:
    """Position (mm) of each slice along the first slice's normal."""
    normal = slice_normal(datasets[0].ImageOrientationPatient)
    pos = np.array([_floats(ds.ImagePositionPatient) for ds in datasets], dtype=np.float64)
    return np.asarray(pos @ normal, dtype=np.float64)


def has_duplicate_positions(datasets: Sequence[Dataset], config: GeometryConfig) -> bool:
    """Whether two slices share a position along the normal (within tolerance)."""
    d = np.sort(positions_along_normal(datasets))
    return bool(np.any(np.diff(d) < config.duplicate_tolerance_mm))


def split_stacks(
    datasets: Sequence[Dataset], config: GeometryConfig
) -> list[tuple[str, list[Dataset]]]:
    """Split one geometry group with duplicate positions into stacks.

    Tries TemporalPositionIndex, AcquisitionNumber, then clusters of AcquisitionTime
    separated by more than ``acquisition_time_gap_s``. A split is used only when it gives at
    least two stacks, none with duplicate positions.

    Parameters
    ----------
    datasets : sequence of Dataset
        Slices of one geometry group.
    config : GeometryConfig
        Tolerances.

    Returns
    -------
    list of (str, list of Dataset)
        ``(label, slices)`` per stack; a single ``("", datasets)`` when there are no
        duplicate positions or no header splits them.
    """
    whole = [("", list(datasets))]
    if not config.split_stacks or any(absent_geometry(ds) for ds in datasets) \
            or not has_duplicate_positions(datasets, config):
        return whole  # slices without geometry are rejected by check_geometry
    splitters: list[tuple[str, Callable[[Dataset], object]]] = [
        ("TemporalPositionIndex", lambda ds: ds.get("TemporalPositionIndex")),
        ("AcquisitionNumber", lambda ds: ds.get("AcquisitionNumber")),
    ]
    for name, key in splitters:
        parts: dict[object, list[Dataset]] = defaultdict(list)
        for ds in datasets:
            parts[key(ds)].append(ds)
        if None not in parts and _valid_split(parts.values(), config):
            return [(f"{name}={k}", v) for k, v in sorted(parts.items(), key=lambda kv: str(kv[0]))]
    by_time = _split_by_time(datasets, config)
    if by_time is not None:
        return by_time
    return whole


def _valid_split(parts: Iterable[Sequence[Dataset]], config: GeometryConfig) -> bool:
    groups = list(parts)
    return len(groups) >= 2 and not any(has_duplicate_positions(g, config) for g in groups)


def _split_by_time(
    datasets: Sequence[Dataset], config: GeometryConfig
) -> list[tuple[str, list[Dataset]]] | None:
    parsed = [tm_seconds(ds.get("AcquisitionTime")) for ds in datasets]
    times = [t for t in parsed if t is not None]
    if len(times) != len(datasets):
        return None
    order = sorted(range(len(datasets)), key=lambda i: times[i])
    clusters: list[list[int]] = [[order[0]]]
    for prev, cur in itertools.pairwise(order):
        if times[cur] - times[prev] > config.acquisition_time_gap_s:
            clusters.append([])
        clusters[-1].append(cur)
    parts = [[datasets[i] for i in c] for c in clusters]
    if not _valid_split(parts, config):
        return None
    return [
        (f"AcquisitionTime={datasets[c[0]].AcquisitionTime}", p)
        for c, p in zip(clusters, parts, strict=True)
    ]


def check_geometry(datasets: Sequence[Dataset], config: GeometryConfig) -> GeometryReport:
    """Check that slices form one correct volume, and sort them.

    Parameters
    ----------
    datasets : sequence of Dataset
        Slice headers (pixel data not needed).
    config : GeometryConfig
        Tolerances and minimum slice count.

    Returns
    -------
    GeometryReport
        Sorted order, nominal spacing and every finding.
    """
    findings: list[GeometryProblem] = []
    keep: dict[tuple[str, int], int] = {}
    for i, ds in enumerate(datasets):
        keep.setdefault((str(ds.get("SOPInstanceUID", i)), frame_number(ds) or 0), i)
    if len(keep) < len(datasets):
        findings.append(
            GeometryProblem(
                GeometryReason.DUPLICATE_INSTANCES,
                f"{len(datasets) - len(keep)} repeated SOPInstanceUID(s), first copy kept",
            )
        )
    idx = list(keep.values())
    slices = [datasets[i] for i in idx]
    missing = sorted({k for ds in slices for k in absent_geometry(ds)})
    if not slices or missing:
        findings.append(GeometryProblem(GeometryReason.MISSING_GEOMETRY,
                                        f"absent: {', '.join(missing)}"))
        return GeometryReport(idx, None, findings)
    mixed = _mixed_findings(slices, config)
    if mixed:
        return GeometryReport(idx, None, findings + mixed)
    if len(slices) < config.min_slices:
        findings.append(
            GeometryProblem(
                GeometryReason.TOO_FEW_SLICES,
                f"{len(slices)} slices, at least {config.min_slices} required",
            )
        )
    d = positions_along_normal(slices)
    local = np.argsort(d, kind="stable")
    order = [idx[int(k)] for k in local]
    sorted_d = d[local]
    findings.extend(_tilt_findings([slices[int(k)] for k in local], config))
    findings.extend(_value_notes(slices))
    if len(slices) < 2:
        return GeometryReport(order, None, findings)
    diffs = np.diff(sorted_d)
    duplicates = diffs < config.duplicate_tolerance_mm
    if np.any(duplicates):
        at = ", ".join(f"{v:.2f}" for v in sorted_d[1:][duplicates][:5])
        findings.append(
            GeometryProblem(
                GeometryReason.DUPLICATE_POSITIONS,
                f"{int(duplicates.sum())} slice(s) share a position (at {at} mm along the normal)",
            )
        )
        return GeometryReport(order, None, findings)
    spacing = float(np.median(diffs))
    findings.extend(_spacing_findings(sorted_d, spacing, config))
    if not any(f.reason.blocking for f in findings):
        findings.extend(_highdicom_cross_check(slices, [int(k) for k in local], spacing, config))
    return GeometryReport(order, spacing, findings)


def _mixed_findings(slices: Sequence[Dataset], config: GeometryConfig) -> list[GeometryProblem]:
    checks: list[tuple[GeometryReason, Callable[[Dataset], object]]] = [
        (GeometryReason.MIXED_FRAME_OF_REFERENCE, lambda ds: str(ds.get("FrameOfReferenceUID"))),
        (GeometryReason.MIXED_MATRIX, lambda ds: (int(ds.Rows), int(ds.Columns))),
        (
            GeometryReason.MIXED_PIXEL_SPACING,
            lambda ds: tuple(round(v, 3) for v in _floats(ds.PixelSpacing)),
        ),
    ]
    found = []
    for reason, key in checks:
        values = sorted({str(key(ds)) for ds in slices})
        if len(values) > 1:
            found.append(GeometryProblem(reason, f"{len(values)} values: {'; '.join(values[:4])}"))
    iops = np.array([_floats(ds.ImageOrientationPatient) for ds in slices])
    spread = float(np.max(np.ptp(iops, axis=0)))
    if spread > config.orientation_tolerance:
        found.append(
            GeometryProblem(
                GeometryReason.MIXED_ORIENTATION, f"direction cosines differ by up to {spread:.4f}"
            )
        )
    return found


def _tilt_findings(sorted_slices: Sequence[Dataset], config: GeometryConfig
                   ) -> list[GeometryProblem]:
    found = []
    tilts = [float(ds.get("GantryDetectorTilt", 0) or 0) for ds in sorted_slices]
    worst = max(tilts, key=abs)
    if abs(worst) > config.max_tilt_deg:
        found.append(GeometryProblem(GeometryReason.GANTRY_TILT,
                                     f"GantryDetectorTilt {worst:g} deg"))
    if len(sorted_slices) >= 2:
        first = np.asarray(_floats(sorted_slices[0].ImagePositionPatient))
        last = np.asarray(_floats(sorted_slices[-1].ImagePositionPatient))
        span = last - first
        normal = slice_normal(sorted_slices[0].ImageOrientationPatient)
        norm = float(np.linalg.norm(span))
        if norm > 0:
            angle = float(np.degrees(np.arccos(min(1.0, abs(float(span @ normal)) / norm))))
            if angle > config.max_tilt_deg:
                found.append(
                    GeometryProblem(
                        GeometryReason.GANTRY_TILT,
                        f"stacking direction {angle:.2f} deg from the slice normal",
                    )
                )
    return found


def _value_notes(slices: Sequence[Dataset]) -> list[GeometryProblem]:
    found = []
    rescale = {
        (float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0))
        for ds in slices
    }
    if len(rescale) > 1:
        found.append(
            GeometryProblem(
                GeometryReason.RESCALE_VARIES,
                f"{len(rescale)} (slope, intercept) pairs; applied per slice",
            )
        )
    thickness = {str(ds.get("SliceThickness", "")) for ds in slices}
    if len(thickness) > 1:
        found.append(
            GeometryProblem(
                GeometryReason.MIXED_SLICE_THICKNESS, f"SliceThickness values {sorted(thickness)}"
            )
        )
    return found


def _spacing_findings(
    sorted_d: NDArray[np.float64], spacing: float, config: GeometryConfig
) -> list[GeometryProblem]:
    found = []
    diffs = np.diff(sorted_d)
    gaps = diffs > config.gap_factor * spacing
    if np.any(gaps):
        where = [f"{sorted_d[i]:.2f}..{sorted_d[i + 1]:.2f}" for i in np.flatnonzero(gaps)[:5]]
        missing = int(np.sum(np.round(diffs[gaps] / spacing) - 1))
        found.append(
            GeometryProblem(
                GeometryReason.MISSING_SLICES,
                f"about {missing} slice(s) missing, gaps at {', '.join(where)} mm "
                f"(nominal spacing {spacing:.3f} mm)",
            )
        )
    irregular = (np.abs(diffs - spacing) > config.spacing_rtol * spacing) & ~gaps
    if np.any(irregular):
        found.append(
            GeometryProblem(
                GeometryReason.IRREGULAR_SPACING,
                f"spacings {diffs[irregular].min():.3f}..{diffs[irregular].max():.3f} mm vs "
                f"nominal {spacing:.3f} mm ({int(irregular.sum())} interval(s))",
            )
        )
    return found


def _highdicom_cross_check(
    slices: Sequence[Dataset], local_order: list[int], spacing: float, config: GeometryConfig
) -> list[GeometryProblem]:
    positions = [_floats(slices[k].ImagePositionPatient) for k in local_order]
    tol = 1.0 - float(np.cos(np.radians(max(config.max_tilt_deg, 1e-3))))
    hd_spacing, _ = get_volume_positions(
        positions,
        _floats(slices[0].ImageOrientationPatient),
        rtol=config.spacing_rtol,
        perpendicular_tol=tol,
        sort=False,
        index_convention="RD",
    )
    if hd_spacing is None:
        return [
            GeometryProblem(
                GeometryReason.NOT_A_REGULAR_VOLUME,
                "highdicom.spatial.get_volume_positions rejects the sorted positions",
            )
        ]
    if abs(float(hd_spacing) - spacing) > config.spacing_rtol * spacing:
        return [
            GeometryProblem(
                GeometryReason.NOT_A_REGULAR_VOLUME,
                f"highdicom spacing {float(hd_spacing):.3f} mm vs median {spacing:.3f} mm",
            )
        ]
    return []
