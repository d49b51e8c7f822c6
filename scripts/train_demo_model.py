#!/usr/bin/env python
"""Train the bundled demo nnU-Net v2 model on synthetic phantoms, or the tiny test models.

Demo model — not for clinical use. See ``docs/demo-model.md`` for the recorded run.

Examples
--------
Tiny two-fold test models (toy ellipsoids, about a minute each on 2 CPU cores)::

    python scripts/train_demo_model.py tiny --out tests/unit/segment/models

Demo model (phantoms from ``pipeline.synth``)::

    python scripts/train_demo_model.py demo --out models --cases 40 --epochs 30 \
        --iterations 40 --work /tmp/dicomnode-train
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline.segment.training.export import TrainingCase, dataset_folder_name
from pipeline.segment.training.plans import SmallPlan

WORK_DEFAULT = Path("/tmp/dicomnode-train")


def _set_nnunet_env(work: Path) -> None:
    """Point nnU-Net's folders at scratch space."""
    for var in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        (work / var).mkdir(parents=True, exist_ok=True)
        os.environ[var] = str(work / var)
    os.environ["nnUNet_n_proc_DA"] = "1"  # noqa: SIM112 (nnU-Net's name)


def _two_fold_splits(ids: list[str], n_val: int) -> list[dict[str, list[str]]]:
    """Two folds whose validation sets are disjoint blocks of ``n_val`` cases."""
    val0, val1 = ids[:n_val], ids[n_val:2 * n_val]
    return [{"train": [i for i in ids if i not in val0], "val": val0},
            {"train": [i for i in ids if i not in val1], "val": val1}]


def _record_path(args: argparse.Namespace, name: str) -> Path:
    return args.work / f"record_{name}.json"


def _update_record(args: argparse.Namespace, name: str, **entries: object) -> dict:
    path = _record_path(args, name)
    record = json.loads(path.read_text()) if path.exists() else {}
    for key, value in entries.items():
        if isinstance(value, dict) and isinstance(record.get(key), dict):
            record[key].update(value)
        else:
            record[key] = value
    path.write_text(json.dumps(record, indent=2))
    return record


def _train(args: argparse.Namespace, dataset_id: int, name: str,
           cases: Callable[[], list], channel_names: list[str], label_names: dict[int, str],
           plan: SmallPlan, n_val: int, dest: Path, metadata: dict,
           log: Callable[[str], None]) -> None:
    """Run ``args.step``: prepare, train one fold (``args.fold``), package, or all three."""
    from pipeline.segment.training.workflow import (
        PLANS_NAME,
        package_model,
        prepare_dataset,
        train_fold,
    )

    if args.step in ("all", "prepare"):
        t0 = time.time()
        prepared = cases()
        ids = [c.identifier for c in prepared]
        prepare_dataset(dataset_id, name, prepared, channel_names, label_names, plan,
                        _two_fold_splits(ids, n_val), num_processes=2)
        _update_record(
            args, name, command_prepare=_command(), seed=args.seed, cases=len(prepared),
            splits=_two_fold_splits(ids, n_val), prepare_s=round(time.time() - t0, 1),
            plan={"configuration": plan.configuration, "spacing_mm": list(plan.spacing_mm),
                  "patch_size": list(plan.patch_size),
                  "features_per_stage": list(plan.features_per_stage),
                  "batch_size": plan.batch_size})
        log(f"{name}: prepared {len(prepared)} cases in {time.time() - t0:.0f} s")
    folds = (0, 1) if args.step == "all" else ((args.fold,) if args.step == "train" else ())
    for fold in folds:
        t = time.time()
        train_fold(dataset_id, name, plan, fold, args.epochs, args.iterations,
                   args.val_iterations, args.seed, threads=args.threads,
                   augmentation_processes=args.n_proc_da, time_budget_s=args.time_budget_s,
                   init_weights=(None if args.init_from is None else
                                 args.init_from / f"fold_{fold}" / "checkpoint_final.pth"))
        _update_record(
            args, name, epochs=args.epochs, iterations_per_epoch=args.iterations,
            val_iterations_per_epoch=args.val_iterations, torch_threads=args.threads,
            augmentation_processes=args.n_proc_da, time_budget_s=args.time_budget_s,
            trainer="nnUNetTrainerDicomnodeShort (pipeline.segment.training.trainer)",
            machine=f"{platform.machine()}, {os.cpu_count()} CPUs (shared), CPU only",
            train_s_per_fold={str(fold): round(time.time() - t, 1)},
            init_from={str(fold): None if args.init_from is None else str(args.init_from)},
            command_train={str(fold): _command()})
        log(f"{name}: fold {fold} trained in {time.time() - t:.0f} s")
    if args.step in ("all", "package"):
        results = (args.work / "nnUNet_results" / dataset_folder_name(dataset_id, name)
                   / f"nnUNetTrainerDicomnodeShort__{PLANS_NAME}__{plan.configuration}")
        record = json.loads(_record_path(args, name).read_text())
        package_model(results, (0, 1), dest, {**metadata, "training": record})
        log(f"{name}: packaged into {dest}")


def _command() -> str:
    return " ".join(["python", "scripts/train_demo_model.py", *sys.argv[1:]])


def tiny(args: argparse.Namespace) -> None:
    """Train the two tiny test models (organ+lesion, and a cascade lesion stage)."""
    from pipeline.segment.geometry import bounding_box
    from pipeline.segment.training.toy import LESION_LABEL, ORGAN_LABEL, TOY_SPACING_MM, toy_case

    plan = SmallPlan("3d_tiny", TOY_SPACING_MM, (16, 32, 32), (8, 16, 32), batch_size=2)
    toy = [(f"toy_{s:03d}", *toy_case(args.seed + s)) for s in range(args.cases)]

    def stage1() -> list[TrainingCase]:
        return [TrainingCase(i, [hu], lab, TOY_SPACING_MM) for i, hu, lab in toy]

    def stage2() -> list[TrainingCase]:
        out = []
        for i, hu, lab in toy:
            box = bounding_box(lab > 0, TOY_SPACING_MM, args.crop_margin_mm)
            assert box is not None
            organ = (lab[box] > 0).astype(np.float32)
            lesion = (lab[box] == LESION_LABEL).astype(np.uint8)
            out.append(TrainingCase(i, [hu[box], organ], lesion, TOY_SPACING_MM))
        return out

    desc = "Tiny test model on toy ellipsoids; for engine tests only, not for clinical use."
    _train(args, 901, "TinyOrgan", stage1, ["CT"],
           {ORGAN_LABEL: "liver", LESION_LABEL: "metastasis"}, plan, 2, args.out / "tiny_organ",
           {"name": "tiny-organ", "version": "0.1.0", "demo": True, "description": desc,
            "labels": {str(ORGAN_LABEL): "liver", str(LESION_LABEL): "metastasis"}}, print)
    _train(args, 902, "TinyLesionCascade", stage2, ["CT", "noNorm"], {1: "metastasis"},
           plan, 2, args.out / "tiny_lesion_cascade",
           {"name": "tiny-lesion-cascade", "version": "0.1.0", "demo": True,
            "description": desc + " Input: CT cropped to the organ + organ mask channel.",
            "labels": {"1": "metastasis"},
            "input": {"crop_to": ["liver"], "crop_margin_mm": args.crop_margin_mm,
                      "extra_channels": ["liver"]}}, print)


def demo(args: argparse.Namespace) -> None:
    """Train the demo model on phantoms from ``pipeline.synth``."""
    from pipeline.structures import DEMO_LABELS

    log_path = args.work / "progress.log"

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        with log_path.open("a") as fh:
            fh.write(line + "\n")

    def cases() -> list[TrainingCase]:
        from pipeline.synth.render import render_training_case

        out = []
        noise: list[float | None] = [None] * args.cases
        if args.noise_hu:
            low, high = (float(v) for v in args.noise_hu)
            noise = [float(v) for v in
                     np.random.default_rng([args.seed, 2]).uniform(low, high, args.cases)]
        for s in range(args.cases):
            spacing = float(args.render_spacing[s % len(args.render_spacing)])
            hu, labels, sp = render_training_case(
                args.seed + s, spacing_zyx_mm=(spacing,) * 3, noise_hu=noise[s],
                inplane_subsamples=args.inplane_subsamples)
            out.append(TrainingCase(f"phantom_{args.seed + s:05d}", [hu.astype(np.float32)],
                                    labels.astype(np.uint8),
                                    (float(sp[0]), float(sp[1]), float(sp[2]))))
        log(f"rendered {len(out)} phantoms, shape {out[0].labels.shape}")
        return out

    patch = (args.patch[0], args.patch[1], args.patch[2])
    plan = SmallPlan("3d_demo", (args.spacing,) * 3, patch, tuple(args.features),
                     batch_size=args.batch)
    metadata = {
        "name": "dicomnode-demo-liver",
        "version": args.version,
        "demo": True,
        "description": ("Demo model — not for clinical use. Small nnU-Net v2 (3d, "
                        f"{len(args.features)} stages, features {list(args.features)}, "
                        f"{args.spacing} mm) trained on synthetic phantoms only: Couinaud "
                        "segments 1-8, metastases, portal vein, hepatic veins, IVC."),
        "labels": {str(v): s.value for v, s in DEMO_LABELS.items()},
    }
    _train(args, 501, "DemoLiverPhantom", cases, ["CT"],
           {v: s.value for v, s in DEMO_LABELS.items()}, plan, args.n_val,
           args.out / "demo_liver", metadata, log)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and train."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("tiny", "demo"))
    parser.add_argument("--step", choices=("all", "prepare", "train", "package"),
                        default="all", help="run one step only (train: one --fold)")
    parser.add_argument("--fold", type=int, default=0, help="fold trained by --step train")
    parser.add_argument("--out", type=Path, required=True, help="folder receiving the model(s)")
    parser.add_argument("--work", type=Path, default=WORK_DEFAULT, help="scratch folder")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--n-val", type=int, default=4, help="validation cases per fold (demo)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--val-iterations", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--n-proc-da", type=int, default=0,
                        help="augmentation worker processes (0 = in-process, reproducible)")
    parser.add_argument("--time-budget-s", type=float, default=None,
                        help="wall-clock budget per fold; epochs are cut to fit")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="packaged model folder whose fold_N weights start fold N "
                             "(continue training)")
    parser.add_argument("--crop-margin-mm", type=float, default=6.0)
    parser.add_argument("--spacing", type=float, default=4.0, help="demo network spacing, mm")
    parser.add_argument("--render-spacing", type=float, nargs="+", default=[2.0],
                        help="spacing(s) the phantoms are rendered at, mm (several: taken in "
                             "turn, phantom by phantom)")
    parser.add_argument("--inplane-subsamples", type=int, default=1,
                        help="samples per pixel edge in-plane when rendering (above 1: "
                             "partial-volume boundaries as in studies with coarse pixels)")
    parser.add_argument("--noise-hu", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="per-phantom noise drawn uniformly from [LOW, HIGH] HU "
                             "(default: about 10 HU at 2 mm)")
    parser.add_argument("--patch", type=int, nargs=3, default=(32, 48, 48))
    parser.add_argument("--features", type=int, nargs="+", default=(8, 16, 32, 64, 96))
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--version", default="0.1.0")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    _set_nnunet_env(args.work)
    import torch

    torch.set_num_threads(args.threads)
    (tiny if args.kind == "tiny" else demo)(args)


if __name__ == "__main__":
    main()
