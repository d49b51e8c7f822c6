"""Settings of series selection (``selection:`` in config.yaml).

Every field has a documented default, so an empty section selects with the rules described
in ``docs/selection.md``. Nested sections group the rules the way an administrator reads
them: which images are candidates, what geometry is accepted, slice thickness, kernel,
contrast phase, liver coverage.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pipeline.select.terms import ContrastPhase, KernelClass

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class CandidateConfig(BaseModel):
    """Which images may become a volume at all."""

    model_config = _FROZEN

    allow_derived: bool = Field(
        default=False, description="Accept ImageType DERIVED images (value 1) as candidates."
    )
    allow_secondary: bool = Field(
        default=False, description="Accept ImageType SECONDARY images (value 2) as candidates."
    )
    exclude_emission_ct: bool = Field(
        default=True,
        description="Reject CT series that share their FrameOfReferenceUID with an NM or "
        "PET image of the input (the CT of a SPECT/CT or PET/CT).",
    )
    allow_non_axial: bool = Field(
        default=False,
        description="Accept series whose slice normal is far from the head-foot axis.",
    )
    max_axial_angle_deg: float = Field(
        default=30.0,
        gt=0,
        le=90,
        description="Largest angle (degrees) between the slice normal and the patient's "
        "head-foot axis for a series to count as axial.",
    )
    localizer_keywords: tuple[str, ...] = Field(
        default=(
            "localizer",
            "localiser",
            "topogram",
            "scout",
            "surview",
            "scanogram",
            "scoutview",
            "topogramm",
        ),
        description="Whole words of SeriesDescription/ImageType naming a localizer "
        "(case-insensitive).",
    )
    dose_screen_keywords: tuple[str, ...] = Field(
        default=("dose", "dosis", "dosereport", "protocol", "protokoll"),
        description="Whole words of SeriesDescription naming a dose report or protocol screen.",
    )


class GeometryConfig(BaseModel):
    """What a set of slices must satisfy to be one correct volume."""

    model_config = _FROZEN

    min_slices: int = Field(default=20, ge=2, description="Fewest slices a volume may have.")
    spacing_rtol: float = Field(
        default=0.05,
        gt=0,
        lt=0.5,
        description="Largest deviation of a slice spacing from the nominal (median) "
        "spacing, as a fraction of it, before the spacing counts as irregular.",
    )
    gap_factor: float = Field(
        default=1.5,
        gt=1,
        description="A slice spacing above this multiple of the nominal spacing is a gap "
        "(missing slices).",
    )
    duplicate_tolerance_mm: float = Field(
        default=0.05,
        gt=0,
        description="Slices closer than this along the normal (mm) share one position.",
    )
    orientation_tolerance: float = Field(
        default=1e-3,
        gt=0,
        description="Largest difference of ImageOrientationPatient direction cosines "
        "between slices of one volume.",
    )
    max_tilt_deg: float = Field(
        default=0.5,
        ge=0,
        description="Largest |GantryDetectorTilt| and largest angle between the stacking "
        "direction and the slice normal (degrees).",
    )
    split_stacks: bool = Field(
        default=True,
        description="Split a series with duplicate positions into stacks by "
        "TemporalPositionIndex, AcquisitionNumber or AcquisitionTime clusters.",
    )
    acquisition_time_gap_s: float = Field(
        default=10.0,
        gt=0,
        description="A pause of more than this (seconds) between AcquisitionTimes starts a "
        "new stack when splitting by time.",
    )


class ThicknessConfig(BaseModel):
    """Preferred and acceptable SliceThickness."""

    model_config = _FROZEN

    preferred_min_mm: float = Field(default=0.5, ge=0, description="Thinnest preferred slice (mm).")
    preferred_max_mm: float = Field(default=3.0, gt=0, description="Thickest preferred slice (mm).")
    max_mm: float = Field(
        default=5.0,
        gt=0,
        description="Thickest acceptable slice (mm); thicker series are rejected.",
    )
    preferred_score: float = Field(
        default=20.0, description="Score added for a thickness inside the preferred range."
    )
    thick_penalty: float = Field(
        default=20.0,
        ge=0,
        description="Score subtracted for a thickness above the preferred range but "
        "acceptable (a reliability penalty, recorded as 'thick_slices').",
    )
    score_per_mm: float = Field(
        default=1.0,
        ge=0,
        description="Score subtracted per mm of thickness, so that thinner wins among "
        "otherwise equal series.",
    )


class KernelRule(BaseModel):
    """One rule: a regular expression searched in an attribute, and the class it means."""

    model_config = _FROZEN

    attribute: str = Field(
        default="ConvolutionKernel",
        description="DICOM keyword whose text is searched (ConvolutionKernel or "
        "SeriesDescription).",
    )
    pattern: str = Field(description="Python regular expression, searched case-insensitively.")
    kernel_class: KernelClass = Field(description="Kernel class when the pattern matches.")


def _default_kernel_rules() -> tuple[KernelRule, ...]:
    rules = [
        ("ConvolutionKernel", r"lung|pulm|lunge|poumon|polmon", KernelClass.LUNG),
        ("ConvolutionKernel", r"^bl\d", KernelClass.LUNG),
        ("ConvolutionKernel", r"bone|knochen|osseo|edge|sharp|detail|^h[a-z]?\d", KernelClass.BONE),
        ("ConvolutionKernel", r"^[bdiq][a-z]?[5-9]\d", KernelClass.BONE),
        ("ConvolutionKernel", r"^[bdiq][a-z]?[0-4]\d", KernelClass.SOFT_TISSUE),
        ("ConvolutionKernel", r"^(standard|stnd|soft|smooth|body)", KernelClass.SOFT_TISSUE),
        ("ConvolutionKernel", r"^fc[0-2]\d", KernelClass.SOFT_TISSUE),
        ("ConvolutionKernel", r"^fc[3-9]\d", KernelClass.BONE),
        ("ConvolutionKernel", r"^[abc]$", KernelClass.SOFT_TISSUE),
        ("ConvolutionKernel", r"^[de]$", KernelClass.BONE),
        ("ConvolutionKernel", r"^l$", KernelClass.LUNG),
        ("SeriesDescription", r"\b(lung|lunge|poumon|polmone|pulmo)\b", KernelClass.LUNG),
        ("SeriesDescription", r"\b(bone|knochen|os|osseo)\b", KernelClass.BONE),
    ]
    return tuple(KernelRule(attribute=a, pattern=p, kernel_class=k) for a, p, k in rules)


class KernelConfig(BaseModel):
    """Reconstruction kernel preference."""

    model_config = _FROZEN

    rules: tuple[KernelRule, ...] = Field(
        default_factory=_default_kernel_rules,
        description="Ordered rules; the first match gives the kernel class, none: unknown. "
        "Defaults cover Siemens (B/I/Q/H + number), GE words, Canon FC numbers, Philips "
        "letters, and lung/bone words in the description.",
    )
    scores: dict[KernelClass, float] = Field(
        default_factory=lambda: {
            KernelClass.SOFT_TISSUE: 10.0,
            KernelClass.UNKNOWN: 0.0,
            KernelClass.BONE: -40.0,
            KernelClass.LUNG: -40.0,
        },
        description="Score added per kernel class.",
    )
    rejected: tuple[KernelClass, ...] = Field(
        default=(),
        description="Kernel classes that are rejected instead of penalised, e.g. [bone, lung].",
    )


class PhasePrototype(BaseModel):
    """Typical HU of aorta, portal vein and liver parenchyma in one phase."""

    model_config = _FROZEN

    aorta_hu: float = Field(description="Mean HU of the abdominal aorta lumen.")
    portal_vein_hu: float = Field(description="Mean HU of the portal vein / hepatic vessels.")
    liver_hu: float = Field(description="Mean HU of liver parenchyma.")


def _default_phase_keywords() -> dict[ContrastPhase, tuple[str, ...]]:
    return {
        ContrastPhase.PORTAL_VENOUS: (
            "portal",
            "portalvenous",
            "portalvenös",
            "portalvenoes",
            "portovenous",
            "pv",
            "pvp",
            "venous",
            "venös",
            "venoes",
            "veineux",
            "veineuse",
            "veneuse",
            "portale",
            "ven",
            "venosa",
            "venoso",
        ),
        ContrastPhase.ARTERIAL: (
            "arterial",
            "arteriell",
            "arterielle",
            "arteriel",
            "art",
            "arteriosa",
            "arterioso",
            "arteriële",
            "latearterial",
            "earlyarterial",
        ),
        ContrastPhase.NATIVE: (
            "nativ",
            "native",
            "sans",
            "senza",
            "ohne",
            "sin",
            "noncontrast",
            "nonenhanced",
            "unenhanced",
            "plain",
            "nc",
            "precontrast",
            "nativa",
            "nativo",
        ),
        ContrastPhase.DELAYED: (
            "delayed",
            "spätphase",
            "spaetphase",
            "equilibre",
            "delay",
            "spät",
            "spaet",
            "tardif",
            "tardive",
            "tardiva",
            "tardio",
            "tardía",
            "late",
            "equilibrium",
            "gleichgewicht",
            "equilibrio",
            "équilibre",
            "excretory",
            "urographic",
        ),
    }


def _default_prototypes() -> dict[ContrastPhase, PhasePrototype]:
    # What the image method measures: unenhanced vessels (~40 HU) are darker than their
    # surroundings, so the "brightest vessel-sized window" then reads nearby soft tissue.
    return {
        ContrastPhase.NATIVE: PhasePrototype(aorta_hu=60, portal_vein_hu=65, liver_hu=60),
        ContrastPhase.ARTERIAL: PhasePrototype(aorta_hu=320, portal_vein_hu=110, liver_hu=75),
        ContrastPhase.PORTAL_VENOUS: PhasePrototype(aorta_hu=175, portal_vein_hu=200, liver_hu=115),
        ContrastPhase.DELAYED: PhasePrototype(aorta_hu=100, portal_vein_hu=100, liver_hu=95),
    }


class PhaseConfig(BaseModel):
    """Contrast phase detection and preference."""

    model_config = _FROZEN

    accepted: tuple[ContrastPhase, ...] = Field(
        default=(ContrastPhase.PORTAL_VENOUS,),
        description="Phases a chosen series may have; others are rejected ('phase_not_accepted').",
    )
    scores: dict[ContrastPhase, float] = Field(
        default_factory=lambda: {
            ContrastPhase.PORTAL_VENOUS: 100.0,
            ContrastPhase.DELAYED: 40.0,
            ContrastPhase.ARTERIAL: 20.0,
            ContrastPhase.UNKNOWN: 10.0,
            ContrastPhase.NATIVE: 0.0,
        },
        description="Score added per detected phase (multiplied by the phase confidence).",
    )
    keywords: dict[ContrastPhase, tuple[str, ...]] = Field(
        default_factory=_default_phase_keywords,
        description="Whole words (case- and accent-insensitive, also two adjacent words "
        "joined, e.g. "
        "'portal venous' -> 'portalvenous', which then wins over its single words) of "
        "SeriesDescription and ProtocolName that name a phase.",
    )
    arterial_delay_s: tuple[float, float] = Field(
        default=(10.0, 45.0),
        description="AcquisitionTime - ContrastBolusStartTime range (seconds) of the "
        "arterial phase.",
    )
    portal_venous_delay_s: tuple[float, float] = Field(
        default=(50.0, 110.0),
        description="AcquisitionTime - ContrastBolusStartTime range (seconds) of the "
        "portal-venous phase.",
    )
    delayed_after_s: float = Field(
        default=150.0,
        description="AcquisitionTime - ContrastBolusStartTime (seconds) from which the "
        "phase is delayed/equilibrium.",
    )
    use_image: bool = Field(
        default=True,
        description="Measure HU of aorta, portal vein and liver on sampled slices of "
        "every geometrically valid candidate; the image wins over the header.",
    )
    image_sample_slices: int = Field(
        default=24,
        ge=5,
        description="Slices read (evenly spaced, first and last included) per candidate "
        "for image evidence and the coverage heuristic.",
    )
    prototypes: dict[ContrastPhase, PhasePrototype] = Field(
        default_factory=_default_prototypes,
        description="Typical HU of aorta, portal vein and liver per phase; the image "
        "phase is the nearest prototype.",
    )
    image_scale_hu: float = Field(
        default=35.0,
        gt=0,
        description="HU distance scale turning prototype distances into a confidence "
        "(softmax of -d^2 / (2 scale^2)).",
    )
    image_min_confidence: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Image evidence below this confidence does not override the header.",
    )


class CoverageConfig(BaseModel):
    """Whether the liver region is inside the scanned range (a heuristic)."""

    model_config = _FROZEN

    min_scan_length_mm: float = Field(
        default=120.0,
        ge=0,
        description="Shortest extent along the normal (mm) that can hold a whole liver.",
    )
    edge_area_fraction: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="From the slice with the largest liver-like area towards each end of the "
        "scan, that area must fall to this fraction of its largest or less; otherwise the "
        "liver is taken as cut off at that end.",
    )
    penalty: float = Field(
        default=50.0, ge=0, description="Score subtracted when coverage looks incomplete."
    )
    reject_incomplete: bool = Field(
        default=False, description="Reject (instead of penalise) series with incomplete coverage."
    )


class NoiseConfig(BaseModel):
    """Image noise (low-dose acquisitions), measured in the liver parenchyma."""

    model_config = _FROZEN

    max_sd_hu_at_5mm: float = Field(
        default=20.0,
        gt=0,
        description="Largest noise standard deviation (HU) scaled to a 5 mm slice "
        "(SD x sqrt(SliceThickness / 5 mm)) before the series counts as noisy ('high_noise').",
    )
    penalty: float = Field(default=30.0, ge=0, description="Score subtracted for a noisy series.")
    reject: bool = Field(default=False, description="Reject (instead of penalise) noisy series.")


class SelectionConfig(BaseModel):
    """Series selection: candidates, geometry QA, thickness, kernel, phase, coverage.

    Ranking: score = phase score x phase confidence + thickness score + kernel score
    - coverage penalty - noise penalty; accepted candidates first, then by score
    descending, ties broken by SeriesNumber then SeriesInstanceUID (ascending).
    """

    model_config = _FROZEN

    candidates: CandidateConfig = Field(
        default_factory=CandidateConfig, description="Which images may become a volume."
    )
    geometry: GeometryConfig = Field(
        default_factory=GeometryConfig, description="Volume geometry QA."
    )
    thickness: ThicknessConfig = Field(
        default_factory=ThicknessConfig, description="Slice thickness preference."
    )
    kernel: KernelConfig = Field(
        default_factory=KernelConfig, description="Reconstruction kernel preference."
    )
    phase: PhaseConfig = Field(default_factory=PhaseConfig, description="Contrast phase.")
    coverage: CoverageConfig = Field(
        default_factory=CoverageConfig, description="Liver coverage heuristic."
    )
    noise: NoiseConfig = Field(default_factory=NoiseConfig, description="Image noise.")
