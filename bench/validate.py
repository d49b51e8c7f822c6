"""Benchmark: time and peak memory of the validation figures of one case at CT sizes.

Writes one synthetic small-profile study (``--dir``), takes the truth label map of its
expected series as the reference and a shifted copy without segment VIII as the
prediction, upsamples both by ``--upsample`` (z, y, x) (2 5 5 turns 3.66 mm pixels and
2.5 mm slices into 0.73 mm x 1.25 mm, about 58 M voxels: a realistic abdominal CT) and
times :func:`pipeline.validate.evaluate.evaluate_case`. No model runs. Not run in CI.

    python bench/validate.py [--dir DIR] [--seed 1000] [--upsample 2 5 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813

from pipeline.structures import DEMO_LABELS
from pipeline.synth.study import write_study
from pipeline.validate.evaluate import evaluate_case
from pipeline.validate.labelmaps import LabelImage


def _image(labels: np.ndarray, spacing_zyx: tuple[float, float, float]) -> LabelImage:
    image = sitk.GetImageFromArray(labels)
    image.SetSpacing(spacing_zyx[::-1])
    return LabelImage(image, dict(DEMO_LABELS))


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dicomnode-bench-validate"))
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--upsample", type=int, nargs=3, default=[2, 5, 5])
    args = parser.parse_args()
    if not (args.dir / "truth" / "series.json").is_file():
        write_study(args.dir, args.seed, "small", volumes=False)
    series = json.loads((args.dir / "truth" / "series.json").read_text())
    entry = next(e for e in series if e["expected_choice"])
    truth = np.load(args.dir / "truth" / "labels" / f"{entry['series_instance_uid']}.npy")
    pred = np.roll(truth, 1, axis=2)
    pred[pred == 8] = 0
    fz, fy, fx = args.upsample
    spacing = (entry["spacing_mm"] / fz, entry["pixel_spacing_mm"][0] / fy,
               entry["pixel_spacing_mm"][1] / fx)

    def up(a: np.ndarray) -> np.ndarray:
        return a.repeat(fz, 0).repeat(fy, 1).repeat(fx, 2).astype(np.uint16)

    ref_image, pred_image = _image(up(truth), spacing), _image(up(pred), spacing)
    t0 = time.perf_counter()
    figures = evaluate_case(pred_image, ref_image)
    wall = time.perf_counter() - t0
    print(json.dumps({
        "shape_zyx": list(ref_image.array.shape), "spacing_mm": [round(s, 3) for s in spacing],
        "evaluate_s": round(wall, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "liver_dice": next(r["dice"] for r in figures.rows if r["structure"] == "liver"),
    }, indent=2))


if __name__ == "__main__":
    main()
