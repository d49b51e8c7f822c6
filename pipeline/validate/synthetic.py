"""A synthetic case set: ``dicomnode synth`` studies with exact ground truth.

Seeds must not be those the demo model was trained on (20261122-20261161, listed in
``models/demo_liver/dicomnode.json``); the default first seed, 1000, is far from them.
Studies already written are kept, so the case set grows or resumes without rewriting.

The default studies are as easy as the demo model's training phantoms, so nearly every
case gets the same liver Dice and a confidence score has nothing to rank. *Hard* cases
(``synth_hard_<seed>/``) make the segmentation fail in the ways a site sees: one portal
venous series per study under one of the :data:`HARD_CONDITIONS`, in turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.synth.phantom import make_phantom
from pipeline.synth.spec import PROFILES, SeriesKind, SeriesSpec, StudySpec
from pipeline.synth.study import write_study
from pipeline.synth.tissue import Phase

DEFAULT_FIRST_SEED = 1000
"""First seed of ``dicomnode validate --synthetic N``."""

DEFAULT_FIRST_HARD_SEED = 2000
"""First seed of ``dicomnode validate --synthetic-hard N``."""


@dataclass(frozen=True)
class HardCondition:
    """A way to make a synthetic study hard to segment.

    Parameters
    ----------
    name : str
        Short name (recorded in the case's ``truth/hard.json``).
    low_dose : bool
        Low-dose acquisition: 2.2 x the noise and 0.65 x the enhancement
        (:mod:`pipeline.synth.series_volume`).
    phantom : dict
        Overrides of :func:`pipeline.synth.phantom.make_phantom` (contrast, lesions, shape).
    liver_cut : float
        Fraction of the liver's cranio-caudal extent left out of the series at the top
        (partial coverage), 0 for full coverage.
    """

    name: str
    low_dose: bool = False
    phantom: dict[str, Any] = field(default_factory=dict)
    liver_cut: float = 0.0


HARD_CONDITIONS: tuple[HardCondition, ...] = (
    HardCondition("low dose", low_dose=True, phantom={"enhancement_scale": 1.1}),
    HardCondition(
        "atypical shape, weak contrast",
        phantom={
            "liver_yaw_deg": 30.0,
            "right_lobe_factor": 1.3,
            "left_lobe_factor": 0.7,
            "enhancement_scale": 0.8,
        },
    ),
    HardCondition(
        "partial liver coverage, weak contrast", liver_cut=0.5, phantom={"enhancement_scale": 0.8}
    ),
    HardCondition(
        "large tumour burden", phantom={"lesion_diameters_mm": (25.0, 30.0, 35.0, 40.0, 45.0)}
    ),
)
"""The hard conditions, applied in turn to consecutive hard seeds."""


def hard_study_spec(seed: int, condition: HardCondition, profile: str = "small") -> StudySpec:
    """A study of one thin soft-kernel portal venous series under a hard condition.

    Parameters
    ----------
    seed : int
        Seed of the phantom and the study.
    condition : HardCondition
        What makes the study hard.
    profile : str
        ``small`` or ``realistic``.

    Returns
    -------
    StudySpec
        The study (the series is the one a correct selection must choose).
    """
    prof = PROFILES[profile]
    z_range = None
    if condition.liver_cut > 0.0:
        low, high = make_phantom(seed, **condition.phantom).liver_bbox
        z0, z1 = float(low[2]), float(high[2])
        z_range = (z0 - 15.0, z1 - condition.liver_cut * (z1 - z0))
    series = SeriesSpec(
        SeriesKind.AXIAL,
        Phase.PORTAL_VENOUS,
        prof.thin_mm,
        description="Portal venous",
        low_dose=condition.low_dose,
        z_range_mm=z_range,
    )
    return StudySpec(seed, profile, (series,), dict(condition.phantom))


def write_synthetic_cases(
    root: Path, n: int, first_seed: int = DEFAULT_FIRST_SEED, profile: str = "small"
) -> list[Path]:
    """Write ``n`` synthetic studies as ``root/synth_<seed>/`` (seeds first_seed, +1, ...).

    Parameters
    ----------
    root : Path
        Case-set folder (created).
    n : int
        Number of studies.
    first_seed : int
        Seed of the first study.
    profile : str
        ``small`` (112 x 112 pixels, fast) or ``realistic`` (512 x 512).

    Returns
    -------
    list[Path]
        The case folders, in seed order.
    """
    folders = []
    for seed in range(first_seed, first_seed + n):
        folder = root / f"synth_{seed}"
        if not (folder / "truth" / "series.json").is_file():
            write_study(folder, seed, profile, volumes=False)
        folders.append(folder)
    return folders


def write_hard_cases(
    root: Path, n: int, first_seed: int = DEFAULT_FIRST_HARD_SEED, profile: str = "small"
) -> list[Path]:
    """Write ``n`` hard synthetic studies as ``root/synth_hard_<seed>/``.

    Seed ``first_seed + i`` gets ``HARD_CONDITIONS[i % len(HARD_CONDITIONS)]``; its name is
    written to ``truth/hard.json``. Studies already written are kept.

    Parameters
    ----------
    root : Path
        Case-set folder (created).
    n : int
        Number of studies.
    first_seed : int
        Seed of the first study.
    profile : str
        ``small`` or ``realistic``.

    Returns
    -------
    list[Path]
        The case folders, in seed order.
    """
    folders = []
    for i in range(n):
        seed = first_seed + i
        condition = HARD_CONDITIONS[i % len(HARD_CONDITIONS)]
        folder = root / f"synth_hard_{seed}"
        if not (folder / "truth" / "series.json").is_file():
            write_study(folder, hard_study_spec(seed, condition, profile), volumes=False)
            (folder / "truth" / "hard.json").write_text(
                json.dumps({"condition": condition.name}) + "\n", encoding="utf-8"
            )
        folders.append(folder)
    return folders
