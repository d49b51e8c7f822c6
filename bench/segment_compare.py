"""dicomnode's sliding window against nnU-Net's own ``nnUNetPredictor``, side by side.

Both run the same model on the same network input (the model's preprocessing of the input
done once): nnU-Net with ``predict_logits_from_preprocessed_data`` (its fold loop, float16
sums, fp16 autocast on CUDA, ``perform_everything_on_device`` on CUDA) and the argmax of its
result; dicomnode with :class:`pipeline.segment.sliding_window.SlidingWindowPredictor` (all
folds warm, tiles and mirrors batched, float32 sums, argmax on the device) at each
requested precision and tile batch. Per fold count and mirroring it prints both wall times
(median of ``--repeats`` alternating runs), the ratio nnU-Net / dicomnode (above 1: ours
is faster), and the agreement of the label maps: voxels that differ, how many of them are
ties of nnU-Net's own logits (best two within its float16 rounding, ``max |logit| x
2^-10``), and the smallest Dice over the labels.

Inputs: ``--input realistic`` (default) the 512x512 portal-venous series of
``bench/segment.py --realistic`` (``--slices``), ``--input random --shape Z Y X`` a random
network-grid image (timing of a large network on a CPU). Models: ``--model FOLDER`` (default
the bundled demo model: Demo model - not for clinical use; fold counts above its two folds
repeat them), or ``--fullsize DIR``: a random-weight nnU-Net 3d_fullres network (1.5 mm,
patch 128^3, 6 stages of 32-320 features, 31 M parameters) written to DIR with as many
folds as the largest ``--folds``.

    python bench/segment_compare.py --folds 1 2 --precision fp32 bf16 --tile-batch 1 4
    python bench/segment_compare.py --fullsize /tmp/fullsize --input random \\
        --shape 128 128 128 --folds 1 --mirror on --precision fp32 bf16
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from segment import realistic_series

from pipeline.segment.config import ModelConfig, SegmentationConfig, StageConfig
from pipeline.segment.inference import ModelRunner
from pipeline.segment.label_agreement import compare_labels
from pipeline.segment.model_folders import verify_config
from pipeline.segment.sliding_window import SlidingWindowPredictor, WindowOptions
from pipeline.segment.training.random_model import (
    FULL_SIZE,
    build_random_model,
    parameter_count,
)

DEMO = Path(__file__).resolve().parents[1] / "models" / "demo_liver"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device: torch.device, fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    _sync(device)
    t0 = time.perf_counter()
    out = fn(*args)
    _sync(device)
    return time.perf_counter() - t0, out


def _runner(
    folder: Path, folds: tuple[int, ...], device: torch.device, mirror: bool
) -> ModelRunner:
    config = SegmentationConfig(
        models_dir=folder.parent,
        models={"m": ModelConfig(folder=folder.name, folds=folds)},
        stages=(StageConfig(model="m"),),
        device=device.type,
    )
    return ModelRunner(
        verify_config(config)["m"], device, mirror, 0.5, WindowOptions(predictor="nnunet")
    )


def _fold_list(folder: Path, count: int) -> tuple[int, ...]:
    available = sorted(
        int(p.name.split("_")[1])
        for p in folder.glob("fold_*")
        if (p / "checkpoint_final.pth").exists()
    )
    return tuple(available[i % len(available)] for i in range(count))


def _input(args: argparse.Namespace, runner: ModelRunner) -> torch.Tensor:
    if args.input == "random":
        rng = np.random.default_rng(0)
        return torch.from_numpy(rng.normal(size=(1, *args.shape)).astype(np.float32))
    volume, _ = realistic_series(args.work, args.seed, args.slices)
    hu = np.asarray(volume.hu, dtype=np.float32)[None]
    spacing = tuple(float(s) for s in volume.spacing_mm)
    data, _ = runner.preprocess(hu, (spacing[0], spacing[1], spacing[2]))
    return data


def _nnunet(runner: ModelRunner, data: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    logits = runner._predictor.predict_logits_from_preprocessed_data(data)
    labels = torch.max(logits.float(), 0).indices.to(torch.uint8).cpu().numpy()
    return logits, labels


def _ours(predictor: SlidingWindowPredictor, data: torch.Tensor) -> np.ndarray:
    out = predictor.predict(data)
    labels: np.ndarray = torch.max(out.logits, 0).indices.to(torch.uint8).cpu().numpy()
    return labels


def compare(args: argparse.Namespace, folder: Path, device: torch.device) -> list[dict[str, Any]]:
    """Every fold count x mirroring x precision x tile batch; one row each."""
    rows = []
    data: torch.Tensor | None = None
    for n_folds in args.folds:
        folds = _fold_list(folder, n_folds)
        for mirror in [m == "on" for m in args.mirror]:
            runner = _runner(folder, folds, device, mirror)
            if data is None:
                t0 = time.perf_counter()
                data = _input(args, runner)
                print(
                    f"network input {tuple(data.shape)} ({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
            cm = runner._predictor.configuration_manager
            ours = {}
            for precision in args.precision:
                for batch in args.tile_batch:
                    ours[(precision, batch)] = SlidingWindowPredictor(
                        runner._predictor.network,
                        runner._parameters,
                        cm.patch_size,
                        runner._predictor.label_manager.num_segmentation_heads,
                        device,
                        fold_keys=folds,
                        mirror_axes=runner.mirror_axes,
                        tile_step_size=0.5,
                        tile_batch_size=batch,
                        precision=precision,
                        compile_network=args.compile,
                    )
            if args.warmup:
                _nnunet(runner, data)
                for predictor in ours.values():
                    _ours(predictor, data)
            times: dict[Any, list[float]] = {"nnunet": [], **{k: [] for k in ours}}
            labels: dict[Any, np.ndarray] = {}
            logits: torch.Tensor | None = None
            for _ in range(args.repeats):
                seconds, (logits, labels["nnunet"]) = _timed(device, _nnunet, runner, data)
                times["nnunet"].append(seconds)
                for key, predictor in ours.items():
                    seconds, labels[key] = _timed(device, _ours, predictor, data)
                    times[key].append(seconds)
            assert logits is not None
            tie = float(logits.abs().max()) * 2.0**-10
            base = statistics.median(times["nnunet"])
            passes = 2 ** len(runner.mirror_axes)
            label = (
                f"{n_folds} fold{'s' if n_folds > 1 else ''}, {passes} pass"
                f"{'es' if passes > 1 else ''}/tile"
            )
            for key in ours:
                agreement = compare_labels(labels[key], logits, tie)
                ours_s = statistics.median(times[key])
                rows.append(
                    {
                        "case": label,
                        "folds": n_folds,
                        "mirror": mirror,
                        "precision": key[0],
                        "tile_batch": key[1],
                        "nnunet_s": round(base, 3),
                        "ours_s": round(ours_s, 3),
                        "nnunet_runs_s": [round(t, 3) for t in times["nnunet"]],
                        "ours_runs_s": [round(t, 3) for t in times[key]],
                        "speedup": round(base / ours_s, 3),
                        "agreement": agreement.to_dict(),
                    }
                )
                _print_row(rows[-1])
    return rows


def _print_row(r: dict[str, Any]) -> None:
    a = r["agreement"]
    print(
        f"{r['case']:<36}{r['precision']:>6}{r['tile_batch']:>6}{r['nnunet_s']:>10.2f}"
        f"{r['ours_s']:>9.2f}{r['speedup']:>8.2f}x{a['differing']:>10}{a['ties']:>7}"
        f"{a['min_dice']:>9.4f}",
        flush=True,
    )


def main() -> None:
    """Parse the arguments, run the comparison, print the table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEMO, help="trained-model folder")
    parser.add_argument(
        "--fullsize",
        type=Path,
        help="write and use a random-weight full-size 3d_fullres model in this folder",
    )
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mirror", nargs="+", choices=("on", "off"), default=["on"])
    parser.add_argument(
        "--precision", nargs="+", choices=("fp32", "bf16", "fp16"), default=["fp32", "bf16"]
    )
    parser.add_argument("--tile-batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--compile", action="store_true", help="torch.compile (CUDA)")
    parser.add_argument("--input", choices=("realistic", "random"), default="realistic")
    parser.add_argument(
        "--shape",
        type=int,
        nargs=3,
        default=[128, 128, 128],
        help="random input: network-grid shape (z, y, x)",
    )
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/dicomnode-bench-segment"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--warmup",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one untimed run of each first (default: on CUDA)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    device = torch.device(
        "cuda"
        if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
        else "cpu"
    )
    if args.warmup is None:
        args.warmup = device.type == "cuda"
    torch.set_num_threads(args.threads)
    folder = args.model
    if args.fullsize is not None:
        folder = args.fullsize
        if not all(  # reuse a folder written before
            (folder / f"fold_{k}" / "checkpoint_final.pth").exists() for k in range(max(args.folds))
        ):
            build_random_model(folder, FULL_SIZE, folds=range(max(args.folds)))
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu, {args.threads} threads of {os.cpu_count()} cores"
    )
    print(
        f"model {folder} ({parameter_count(folder) / 1e6:.1f} M parameters per fold); "
        f"device {name}; torch {torch.__version__}; load average before "
        f"{os.getloadavg()[0]:.2f}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')}"
    )
    print(
        f"{'case':<36}{'prec':>6}{'batch':>6}{'nnU-Net s':>10}{'ours s':>9}{'ratio':>9}"
        f"{'differ':>10}{'ties':>7}{'min Dice':>9}"
    )
    rows = compare(args, folder, device)
    print(f"load average after {os.getloadavg()[0]:.2f}")
    summary = {"model": str(folder), "device": name, "torch": torch.__version__, "rows": rows}
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
