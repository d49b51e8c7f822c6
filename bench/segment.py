"""Wall time and peak memory of the segmentation engine per stage (not run in CI).

Two modes:

``--realistic`` (default): one synthetic portal-venous series of 512x512 pixels and
``--slices`` slices (default 300, 1.25 mm), read from DICOM like a job does, segmented with
the default configuration (the bundled demo model — not for clinical use). Prints each
stage's wall time, its share of the total and the peak resident memory of the process
during it; then the baseline (the networks' inference, all folds), nnU-Net's preprocessing
as the model's plans prescribe (crop, normalise, resample to the network spacing), and
dicomnode's own overhead (everything else: back to the CT grid, composition,
post-processing, confidence); and the Dice / liver volume error against the ground truth
on the CT grid.

    python bench/segment.py --realistic [--slices 300] [--work DIR] [--threads 2]

Model and engine options: ``--model FOLDER --folds 0 1 2 3 4 --no-postprocess`` (e.g. the
random-weight full-size model of ``bench/segment_compare.py --fullsize``),
``--sliding-window auto|dicomnode|nnunet --precision auto|fp32|bf16|fp16 --tile-batch N
--compile``, ``--warm-run`` (one untimed run first).

``--phantoms``: accuracy and run time on held-out training-style phantoms:

    python bench/segment.py --phantoms --seeds 1000 1001 1002 --spacing 2.0
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.segment.config import ModelConfig, SegmentationConfig
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.metrics import evaluate
from pipeline.select.volume import build_volume_checked
from pipeline.synth import Phase
from pipeline.synth.phantom import make_phantom
from pipeline.synth.spec import SeriesSpec, StudySpec
from pipeline.synth.study import write_study
from pipeline.volume import CTVolume

THIN_SPACING_MM = 1.25
"""Slice thickness and spacing of the realistic series, mm."""


class RssSampler:
    """Samples the resident set size of this process every ``period_s`` seconds.

    Parameters
    ----------
    period_s : float
        Sampling period, s.
    """

    def __init__(self, period_s: float = 0.01) -> None:
        self.period_s = period_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_bytes() -> int:
        """Current resident set size, bytes (from ``/proc/self/statm``)."""
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.rss_bytes()))
            time.sleep(self.period_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, t0: float, t1: float) -> int:
        """Peak RSS sampled in ``[t0, t1]``, bytes (the nearest earlier sample if none)."""
        inside = [rss for t, rss in self.samples if t0 <= t <= t1]
        if inside:
            return max(inside)
        earlier = [rss for t, rss in self.samples if t <= t0]
        return earlier[-1] if earlier else 0


def realistic_series(work: Path, seed: int, slices: int) -> tuple[CTVolume, np.ndarray]:
    """Write (once) and read a 512x512 portal-venous series centred on the liver.

    Returns
    -------
    volume : CTVolume
        The series as the pipeline reads it.
    truth : ndarray of uint8, shape (z, y, x)
        Ground-truth labels (``DEMO_LABELS``) on the same grid and slice order.
    """
    study_dir = work / f"study-{seed}-{slices}"
    if not (study_dir / "truth" / "series.json").exists():
        lo, hi = make_phantom(seed).liver_bbox
        centre = (float(lo[2]) + float(hi[2])) / 2.0
        half = (slices - 1) * THIN_SPACING_MM / 2.0
        spec = StudySpec(seed=seed, profile="realistic", series=(
            SeriesSpec(phase=Phase.PORTAL_VENOUS, slice_thickness_mm=THIN_SPACING_MM,
                       spacing_mm=THIN_SPACING_MM, z_range_mm=(centre - half, centre + half),
                       description="Portal venous 1.25mm"),))
        print(f"writing the series to {study_dir} ...", flush=True)
        write_study(study_dir, spec, volumes=False)
    entry = json.loads((study_dir / "truth" / "series.json").read_text())[0]
    volume = build_volume_checked(sorted((study_dir / entry["folder"]).glob("*.dcm"))).volume
    truth = np.load(study_dir / "truth" / "labels" / f"{entry['series_instance_uid']}.npy")
    if truth.shape != volume.shape:
        raise SystemExit(f"truth {truth.shape} and series {volume.shape} differ")
    return volume, truth


def stage_rows(timings: dict[str, float], t_start: float,
               sampler: RssSampler) -> list[dict[str, Any]]:
    """Stages in the order they ran, each with seconds and the peak RSS while it ran.

    The engine's stages are sequential, so each one's window is the sum of the earlier
    durations after ``t_start``.
    """
    rows = []
    t = t_start
    for name, seconds in timings.items():
        if name == "total":
            continue
        rows.append({"stage": name, "s": seconds,
                     "peak_rss_mb": sampler.peak_between(t, t + seconds) / 2**20})
        t += seconds
    return rows


def engine_config(args: argparse.Namespace) -> SegmentationConfig:
    """The engine's configuration from the command line (default: the demo model)."""
    fields: dict[str, Any] = {
        "device": args.device, "cpu_threads": args.threads,
        "sliding_window": args.sliding_window, "precision": args.precision,
        "tile_batch_size": args.tile_batch, "compile_network": args.compile}
    if args.model is not None or args.folds is not None:
        model: dict[str, Any] = {}
        if args.model is not None:
            fields["models_dir"] = args.model.resolve().parent
            model["folder"] = args.model.name
        if args.folds is not None:
            model["folds"] = tuple(args.folds)
        fields["models"] = {"demo": ModelConfig(**model)}
    if args.no_postprocess:
        fields["postprocess"] = {}
    return SegmentationConfig(**fields)


def run_realistic(args: argparse.Namespace) -> None:
    """Stage breakdown on a realistic series; prints a table and JSON."""
    volume, truth = realistic_series(args.work, args.seed, args.slices)
    engine = SegmentationEngine(engine_config(args))
    t_load = time.perf_counter()
    engine.load()
    print(f"models loaded (warm) in {time.perf_counter() - t_load:.1f} s")
    if args.warm_run:
        engine.segment(volume)
    with RssSampler() as sampler:
        rss_before = RssSampler.rss_bytes()
        t_start = time.perf_counter()
        result = engine.segment(volume)
    rows = stage_rows(result.timings_s, t_start, sampler)
    total = result.timings_s["total"]
    inference = sum(r["s"] for r in rows if ".inference." in r["stage"])
    preprocess = sum(r["s"] for r in rows if r["stage"].endswith(".preprocess"))
    overhead = total - inference - preprocess
    figures = evaluate(result.labelmap, result.labels, truth, volume.spacing_mm)
    device = (torch.cuda.get_device_name() if result.device == "cuda"
              else f"cpu ({args.threads} threads of {os.cpu_count()} cores)")
    print(f"series {volume.shape} (z, y, x), spacing {volume.spacing_mm} mm; device {device}; "
          f"RSS before {rss_before / 2**20:.0f} MiB")
    print(f"{'stage':<32}{'seconds':>9}{'share':>8}{'peak RSS MiB':>14}")
    for r in rows:
        print(f"{r['stage']:<32}{r['s']:>9.1f}{r['s'] / total:>8.0%}{r['peak_rss_mb']:>14.0f}")
    print(f"{'total':<32}{total:>9.1f}")
    print(f"{'model inference (baseline)':<32}{inference:>9.1f}{inference / total:>8.0%}")
    print(f"{'nnU-Net preprocessing (plans)':<32}{preprocess:>9.1f}{preprocess / total:>8.0%}")
    print(f"{'dicomnode overhead (the rest)':<32}{overhead:>9.1f}{overhead / total:>8.0%}")
    print(f"liver Dice {figures['liver_dice']:.3f}, liver volume error "
          f"{figures['liver_volume_error_pct']:+.1f} %, segments "
          f"{figures['couinaud_dice_mean']:.3f}")
    summary = {
        "shape_zyx": list(volume.shape), "device": device, "total_s": round(total, 2),
        "sliding_window": [s.get("sliding_window") for s in result.stages],
        "inference_s": round(inference, 2), "nnunet_preprocess_s": round(preprocess, 2),
        "overhead_s": round(overhead, 2), "overhead_share": round(overhead / total, 3),
        "stages": [{k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
                   for r in rows],
        "liver_dice": figures["liver_dice"],
        "liver_volume_error_pct": figures["liver_volume_error_pct"],
        "couinaud_dice_mean": figures["couinaud_dice_mean"],
        "dice": figures["dice"]}
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


def _phantom_volume(hu: np.ndarray, spacing: tuple[float, float, float]) -> CTVolume:
    return CTVolume(hu=hu.astype(np.float32), spacing_mm=spacing, origin_mm=(0.0, 0.0, 0.0),
                    row_cosine=(1.0, 0.0, 0.0), column_cosine=(0.0, 1.0, 0.0),
                    sop_instance_uids=[], series_instance_uid="", study_instance_uid="",
                    frame_of_reference_uid="", slice_thickness_mm=spacing[0])


def _mean(values: list[Any]) -> float | None:
    numbers = [v for v in values if v is not None]
    return statistics.fmean(numbers) if numbers else None


def run_phantoms(args: argparse.Namespace) -> None:
    """Accuracy and run time on held-out training-style phantoms; prints JSON."""
    from pipeline.synth.render import render_training_case

    engine = SegmentationEngine(engine_config(args))
    cases = []
    for seed in args.seeds:
        hu, truth, spacing = render_training_case(seed, spacing_zyx_mm=(args.spacing,) * 3)
        sp = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
        t0 = time.perf_counter()
        result = engine.segment(_phantom_volume(hu, sp))
        wall = time.perf_counter() - t0
        figures = evaluate(result.labelmap, result.labels, truth, sp)
        cases.append({"seed": seed, "shape_zyx": list(hu.shape), "wall_s": round(wall, 2),
                      "timings_s": {k: round(v, 2) for k, v in result.timings_s.items()},
                      "confidence": round(result.confidence.score, 3),
                      "fold_dice": {s.value: round(d, 3) for s, d in result.fold_dice.items()},
                      **figures})
    summary = {
        "model": engine.verify()[0].to_dict(),
        "device": engine.device,
        "spacing_mm": args.spacing,
        "mean": {
            "liver_dice": _mean([c["liver_dice"] for c in cases]),
            "couinaud_dice": _mean([c["couinaud_dice_mean"] for c in cases]),
            "metastasis_large_dice": _mean([c["metastasis_large_dice"] for c in cases]),
            "abs_liver_volume_error_pct": _mean([abs(c["liver_volume_error_pct"])
                                                 for c in cases]),
            "wall_s": _mean([c["wall_s"] for c in cases[1:] or cases]),
        },
        "cases": cases,
    }
    print(json.dumps(summary, indent=2))


def main() -> None:
    """Parse the arguments and run one mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--realistic", action="store_true", help="stage breakdown (default)")
    mode.add_argument("--phantoms", action="store_true", help="accuracy on phantoms")
    parser.add_argument("--slices", type=int, default=300, help="realistic: slices")
    parser.add_argument("--seed", type=int, default=1, help="realistic: phantom seed")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dicomnode-bench-segment"),
                        help="realistic: folder the series is written to (kept, reused)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000, 1001, 1002],
                        help="phantoms: seeds")
    parser.add_argument("--spacing", type=float, default=2.0, help="phantoms: spacing, mm")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--model", type=Path, help="trained-model folder (default: demo)")
    parser.add_argument("--folds", type=int, nargs="+", help="folds (default: the model's)")
    parser.add_argument("--no-postprocess", action="store_true",
                        help="no post-processing rules (a random-weight model)")
    parser.add_argument("--sliding-window", default="auto",
                        choices=("auto", "dicomnode", "nnunet"))
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--tile-batch", type=int, help="patches per forward pass")
    parser.add_argument("--compile", action="store_true", help="torch.compile (CUDA)")
    parser.add_argument("--warm-run", action="store_true",
                        help="realistic: segment once untimed first (CUDA warm-up)")
    parser.add_argument("--json", type=Path, help="realistic: also write the JSON here")
    args = parser.parse_args()
    if args.phantoms:
        run_phantoms(args)
    else:
        run_realistic(args)


if __name__ == "__main__":
    main()
