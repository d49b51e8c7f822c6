"""A synthetic case set: ``dicomnode synth`` studies with exact ground truth.

Seeds must not be those the demo model was trained on (20261122-20261161, listed in
``models/demo_liver/dicomnode.json``); the default first seed, 1000, is far from them.
Studies already written are kept, so the case set grows or resumes without rewriting.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.synth.study import write_study

DEFAULT_FIRST_SEED = 1000
"""First seed of ``dicomnode validate --synthetic N``."""


def write_synthetic_cases(root: Path, n: int, first_seed: int = DEFAULT_FIRST_SEED,
                          profile: str = "small") -> list[Path]:
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
