"""Accuracy and run time of the segmentation engine on held-out synthetic phantoms.

Not part of CI. Renders phantoms with ``pipeline.synth.render.render_training_case`` for
seeds that the demo model was not trained on, runs the engine (default configuration: the
bundled demo model — not for clinical use) and prints one JSON document with per-case and
mean figures (see ``pipeline.segment.metrics.evaluate``) and timings.

    python bench/segment.py --seeds 1000 1001 1002 --spacing 2.0
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

from pipeline.segment.config import SegmentationConfig
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.metrics import evaluate
from pipeline.volume import CTVolume


def _volume(hu: np.ndarray, spacing: tuple[float, float, float]) -> CTVolume:
    return CTVolume(hu=hu.astype(np.float32), spacing_mm=spacing, origin_mm=(0.0, 0.0, 0.0),
                    row_cosine=(1.0, 0.0, 0.0), column_cosine=(0.0, 1.0, 0.0),
                    sop_instance_uids=[], series_instance_uid="", study_instance_uid="",
                    frame_of_reference_uid="", slice_thickness_mm=spacing[0])


def _mean(values: list[Any]) -> float | None:
    numbers = [v for v in values if v is not None]
    return statistics.fmean(numbers) if numbers else None


def main() -> None:
    """Run the benchmark and print JSON."""
    from pipeline.synth.render import render_training_case

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000, 1001, 1002])
    parser.add_argument("--spacing", type=float, default=2.0, help="phantom spacing, mm")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    args = parser.parse_args()
    engine = SegmentationEngine(SegmentationConfig(device=args.device,
                                                   cpu_threads=args.threads))
    cases = []
    for seed in args.seeds:
        hu, truth, spacing = render_training_case(seed, spacing_zyx_mm=(args.spacing,) * 3)
        sp = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
        t0 = time.perf_counter()
        result = engine.segment(_volume(hu, sp))
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


if __name__ == "__main__":
    main()
