"""What a synthetic study contains: series specifications and size profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .tissue import Phase

AXIAL_IOP: tuple[tuple[float, float, float], tuple[float, float, float]] = (
    (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
"""Row and column cosines of a standard axial image (head-first supine)."""

PRONE_IOP: tuple[tuple[float, float, float], tuple[float, float, float]] = (
    (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0))
"""Axial image of a prone patient (image rotated by 180 degrees; slices still ascend)."""

FEET_FIRST_IOP: tuple[tuple[float, float, float], tuple[float, float, float]] = (
    (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
"""Axial image mirrored left-right: the slice normal points to the feet."""


class SeriesKind(StrEnum):
    """What a series is."""

    AXIAL = "axial"
    LOCALIZER = "localizer"
    DOSE_REPORT = "dose_report"


class Kernel(StrEnum):
    """Reconstruction kernel family (written as a vendor ConvolutionKernel name)."""

    SOFT = "soft"
    BONE = "bone"
    LUNG = "lung"


class Vendor(StrEnum):
    """Naming style of the reconstruction kernels and equipment."""

    GE = "ge"
    SIEMENS = "siemens"


KERNEL_NAMES: dict[Vendor, dict[Kernel, str]] = {
    Vendor.GE: {Kernel.SOFT: "STANDARD", Kernel.BONE: "BONE", Kernel.LUNG: "LUNG"},
    Vendor.SIEMENS: {Kernel.SOFT: "Br40d", Kernel.BONE: "Br64d", Kernel.LUNG: "Bl57d"},
}
"""ConvolutionKernel value per vendor and kernel family."""


@dataclass(frozen=True)
class SeriesSpec:
    """One series of a synthetic study.

    Parameters
    ----------
    kind : SeriesKind
        Axial CT series, localizer (scout) or dose-report screen.
    phase : Phase or None
        Contrast phase of the acquisition (None for a dose report).
    slice_thickness_mm : float
        SliceThickness: the anatomy is averaged over this thickness, mm.
    spacing_mm : float, optional
        Distance between slice centres along the normal, mm (default: the thickness).
    pixel_spacing_mm : float, optional
        In-plane pixel size, mm (default: the study's).
    matrix : int, optional
        Rows = Columns (default: the study's).
    row_cosine, column_cosine : tuple of float
        ImageOrientationPatient (e.g. :data:`PRONE_IOP` for a flipped patient).
    reversed_order : bool
        InstanceNumber decreases along the slice normal (instead of increasing).
    kernel : Kernel
        Reconstruction kernel family: noise and edge enhancement follow it.
    description : str
        SeriesDescription (may be empty or misleading on purpose).
    contrast_tags : bool
        Write ContrastBolusAgent / ContrastBolusStartTime (for contrast phases).
    low_dose : bool
        Low-dose, low-contrast acquisition: more noise, weaker enhancement.
    z_range_mm : tuple of float, optional
        Inferior and superior patient z covered, mm (default: the study's coverage).
    rescale_intercept : float
        RescaleIntercept; stored value = HU - intercept.
    unsigned : bool
        Store uint16 (PixelRepresentation 0) instead of int16.
    images : int
        Number of images of a localizer (1: frontal; 2: frontal and lateral).
    orientation : tuple of 6 float, optional
        ImageOrientationPatient as one 6-tuple; when given it replaces ``row_cosine`` and
        ``column_cosine``.
    """

    kind: SeriesKind = SeriesKind.AXIAL
    phase: Phase | None = Phase.PORTAL_VENOUS
    slice_thickness_mm: float = 5.0
    spacing_mm: float | None = None
    pixel_spacing_mm: float | None = None
    matrix: int | None = None
    row_cosine: tuple[float, float, float] = AXIAL_IOP[0]
    column_cosine: tuple[float, float, float] = AXIAL_IOP[1]
    reversed_order: bool = False
    kernel: Kernel = Kernel.SOFT
    description: str = ""
    contrast_tags: bool = True
    low_dose: bool = False
    z_range_mm: tuple[float, float] | None = None
    rescale_intercept: float = -1024.0
    unsigned: bool = False
    images: int = 1
    orientation: tuple[float, float, float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.orientation is not None:
            o = tuple(float(v) for v in self.orientation)
            object.__setattr__(self, "row_cosine", (o[0], o[1], o[2]))
            object.__setattr__(self, "column_cosine", (o[3], o[4], o[5]))
        # accept the enums' string values too (defined terms also accept their string)
        object.__setattr__(self, "kind", SeriesKind(self.kind))
        object.__setattr__(self, "kernel", Kernel(self.kernel))
        if self.phase is not None:
            object.__setattr__(self, "phase", Phase(self.phase))

    @property
    def slice_spacing_mm(self) -> float:
        """Effective slice spacing (the thickness when not given), mm."""
        return float(self.spacing_mm if self.spacing_mm is not None else self.slice_thickness_mm)


@dataclass(frozen=True)
class Profile:
    """Size of a synthetic study.

    Parameters
    ----------
    name : str
        Profile name.
    matrix : int
        Rows = Columns of axial images.
    thin_mm : float
        Thickness of the thin reconstructions, mm.
    master_dz_mm : float
        Sampling step along z of the shared anatomy grid (thin series spacing must be a
        multiple of it), mm.
    liver_only : bool
        Cover only the liver (+ margin) instead of the whole abdomen.
    localizer_pixel_mm : float
        Pixel size of the localizer, mm.
    """

    name: str
    matrix: int
    thin_mm: float
    master_dz_mm: float
    liver_only: bool
    localizer_pixel_mm: float


PROFILES: dict[str, Profile] = {
    "small": Profile("small", 112, 2.5, 1.25, True, 4.0),
    "realistic": Profile("realistic", 512, 0.625, 0.625, False, 1.0),
}
"""Available profiles: ``small`` (fast tests) and ``realistic`` (512x512, 300-600 slices)."""


@dataclass(frozen=True)
class StudySpec:
    """A whole synthetic study.

    Parameters
    ----------
    seed : int
        Phantom seed (also seeds UIDs, noise and every random choice of the study).
    profile : str
        Size profile name (``small`` or ``realistic``).
    series : tuple of SeriesSpec
        The series, in acquisition order (series numbers follow this order unless given).
    phantom_overrides : dict
        Keyword overrides for :func:`~pipeline.synth.phantom.make_phantom`.
    vendor : Vendor
        Kernel naming style.
    series_numbers : tuple of int, optional
        SeriesNumber of each series (default 1, 2, ...; a dose report gets 999).
    """

    seed: int
    profile: str = "small"
    series: tuple[SeriesSpec, ...] = ()
    phantom_overrides: dict[str, Any] = field(default_factory=dict)
    vendor: Vendor = Vendor.GE
    series_numbers: tuple[int, ...] | None = None


def expected_choice(series: tuple[SeriesSpec, ...]) -> int | None:
    """Index of the series a correct selection must choose, or None if none qualifies.

    The rule: axial, portal venous, soft kernel, slice thickness within 0.5-3 mm; among
    those the thinnest, then standard dose before low dose, then the finest pixel spacing,
    then the first.
    """
    best: tuple[float, bool, float, int] | None = None
    for i, s in enumerate(series):
        if (s.kind is SeriesKind.AXIAL and s.phase is Phase.PORTAL_VENOUS
                and s.kernel is Kernel.SOFT and 0.5 <= s.slice_thickness_mm <= 3.0):
            key = (s.slice_thickness_mm, s.low_dose, s.pixel_spacing_mm or 0.0, i)
            if best is None or key < best:
                best = key
    return None if best is None else best[3]
