"""Benchmark: image-based dosimetry on a 128^3 SPECT and a 200^3 PET (synthetic arrays).

Each case runs in a fresh subprocess so that its peak resident memory (ru_maxrss) is its
own; tracemalloc's peak (numpy allocations; SimpleITK's own buffers are not traced) is
reported per stage. Stages:

- ``register``: rigid CT-CT registration (:func:`pipeline.dosimetry.register.register_ct`)
  of an emission CT (the planning CT resampled onto the emission grid with a known 3-degree,
  15 mm transform) to a 3 mm planning CT of the synthetic phantom;
- ``regions_nn``: every planning region (liver, tumour, normal liver, segments, lesions,
  lung) onto the emission grid, nearest-neighbour;
- ``fractions``: partial-volume fractions of liver and lung (3 x 3 x 3 subsamples);
- ``dose``: local-deposition dose (MAA scaling for SPECT, decay correction for PET);
- ``dvh``: mean, D50/D70/D90/D95, V70/V100/V120/V205 of every region;
- ``baseline_means``: numpy mean dose of the same regions, ``dose[mask].mean()`` (the mean
  alone, for scale: ``dvh / baseline_means`` is the price of the exact sorted-dose DVH).

Not run in CI. Usage::

    python bench/dosimetry.py [--case spect|pet|all]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The script's folder comes first on sys.path and bench/pipeline.py would shadow the package.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

CASES = {"spect": (128, 4.8), "pet": (200, 4.0)}
"""Case -> (voxels per edge, voxel size in mm) of the emission grid."""


def _timed(stages: dict[str, dict[str, float]], name: str, fn: Callable[[], Any]) -> Any:
    tracemalloc.start()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stages[name] = {"s": round(seconds, 3), "traced_peak_mb": round(peak / 2**20, 1)}
    return value


def run_case(case: str) -> dict[str, Any]:
    """Run every stage of one case; returns the figures as a mapping."""
    import SimpleITK as sitk  # noqa: N813

    from pipeline.dosimetry import dvh, ldm, masks
    from pipeline.dosimetry.register import register_ct
    from pipeline.quantify.config import QuantificationConfig
    from pipeline.structures import DEMO_LABELS
    from pipeline.synth.render import render_training_case

    n, mm = CASES[case]
    hu, labelmap, _ = render_training_case(1, (3.0, 3.0, 3.0), noise_hu=10.0)
    planning = sitk.GetImageFromArray(hu)
    planning.SetSpacing((3.0, 3.0, 3.0))
    planning.SetOrigin((-100.0, -120.0, -300.0))
    lung = np.zeros(labelmap.shape, bool)
    lung[-20:, 20:60, 10:-10] = hu[-20:, 20:60, 10:-10] < -500      # a stand-in lung
    regions = masks.planning_regions(labelmap, DEMO_LABELS, lung=lung)
    centre = planning.TransformContinuousIndexToPhysicalPoint(
        [s / 2 for s in planning.GetSize()])
    grid = sitk.Image([n, n, n], sitk.sitkFloat32)
    grid.SetSpacing((mm, mm, mm))
    grid.SetOrigin(tuple(c - n * mm / 2 for c in centre))
    known = sitk.Euler3DTransform()
    known.SetCenter(centre)
    known.SetRotation(0.0, 0.0, math.radians(3.0))
    known.SetTranslation((10.0, -5.0, 10.0))
    emission_ct = sitk.Resample(planning, grid, known.GetInverse(), sitk.sitkLinear, -1024.0)
    rng = np.random.default_rng(0)
    stages: dict[str, dict[str, float]] = {}
    found = _timed(stages, "register", lambda: register_ct(planning, emission_ct))
    on_grid = _timed(stages, "regions_nn",
                     lambda: masks.regions_on_grid(regions, planning, grid, found))
    _timed(stages, "fractions", lambda: masks.region_fractions(
        regions, planning, grid, found, subsamples=3, names=["liver", "lung"]))
    k = QuantificationConfig().constants()
    liver_lung = on_grid["liver"] | on_grid["lung"]
    image = rng.gamma(2.0, 50.0, (n, n, n)) * (1.0 + 4.0 * on_grid["tumour"])
    voxel_ml = mm**3 / 1000.0
    if case == "spect":
        dose = _timed(stages, "dose", lambda: ldm.maa_dose(image, liver_lung, voxel_ml, 2.0, k))
    else:
        dose = _timed(stages, "dose", lambda: ldm.pet_dose(image * 1e3, 20.0, k))
    nonempty = {name: m for name, m in on_grid.items() if m.any()}
    _timed(stages, "dvh", lambda: [dvh.region_dose(name, dose, m, voxel_ml)
                                   for name, m in nonempty.items()])

    _timed(stages, "baseline_means",
           lambda: [float(dose[m].mean()) for m in nonempty.values()])
    return {"case": case, "grid": [n, n, n], "voxel_mm": mm, "regions": len(nonempty),
            "registration_error_mm": _error_mm(found.transform, known, planning, labelmap),
            "stages": stages,
            "total_s": round(sum(v["s"] for k_, v in stages.items()
                                 if k_ != "baseline_means"), 3),
            "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _error_mm(found: Any, known: Any, planning: Any, labelmap: np.ndarray) -> float:
    points = [planning.TransformIndexToPhysicalPoint([int(i) for i in idx[::-1]])
              for idx in np.argwhere(labelmap > 0)[::500]]
    return round(max(float(np.linalg.norm(np.subtract(found.TransformPoint(p),
                                                      known.TransformPoint(p))))
                     for p in points), 3)


def main() -> None:
    """Run the cases in subprocesses and print a table and one JSON line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--child", choices=list(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.child)))
        return
    cases = list(CASES) if args.case == "all" else [args.case]
    for case in cases:
        out = subprocess.run([sys.executable, __file__, "--child", case], check=True,
                             capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        print(f"{case}: grid {result['grid']} at {result['voxel_mm']} mm, "
              f"{result['regions']} regions, registration error "
              f"{result['registration_error_mm']} mm, total {result['total_s']} s, "
              f"ru_maxrss {result['maxrss_mb']} MB")
        print(f"  {'stage':<16}{'s':>9}{'traced peak MB':>16}")
        for name, figures in result["stages"].items():
            print(f"  {name:<16}{figures['s']:>9.3f}{figures['traced_peak_mb']:>16.1f}")
        base = result["stages"]["baseline_means"]["s"]
        print(f"  dvh / baseline_means: {result['stages']['dvh']['s'] / base:.2f}")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
