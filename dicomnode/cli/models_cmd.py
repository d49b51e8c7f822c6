"""``dicomnode models check``: the configured models, their folders and weights hashes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dicomnode.cli.app import app
from dicomnode.cli.node_cmds import ConfigOption, _load

if TYPE_CHECKING:
    from pipeline.segment.model_folders import ModelCheck

models_app = typer.Typer(help="Inspect the configured segmentation models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def model_summary(report: ModelCheck) -> dict[str, Any]:
    """JSON-able summary of one model's check (``models check --json``)."""
    info = report.info
    return {
        "key": report.key,
        "folder": str(report.folder),
        "used": report.used,
        "ok": not report.problems,
        "problems": list(report.problems),
        "warnings": list(report.warnings),
        "plans": report.plans,
        "identity": None if info is None else info.to_dict(),
    }


def _print(report: ModelCheck) -> None:
    status = "OK" if not report.problems else ("MISSING" if report.used else "unused, broken")
    typer.echo(f"{report.key}: {status}{'' if report.used else ' (not used by a stage)'}")
    typer.echo(f"  folder: {report.folder}")
    if report.plans:
        typer.echo(
            f"  plans: {report.plans.get('plans_name')} of {report.plans.get('dataset_name')}"
        )
        for name, conf in report.plans.get("configurations", {}).items():
            typer.echo(
                f"    {name}: spacing {conf.get('spacing')} mm, patch {conf.get('patch_size')}"
            )
    info = report.info
    if info is not None:
        typer.echo(f"  model: {info.name} {info.version}{' (demo)' if info.is_demo else ''}")
        for fold, digest in info.fold_sha256.items():
            typer.echo(f"  fold_{fold}/{info.checkpoint} sha256 {digest}")
        typer.echo(f"  weights_sha256 (all folds) {info.weights_sha256}")
        typer.echo("  labels: " + ", ".join(f"{v}->{s.value}" for v, s in info.labels.items()))
    for problem in report.problems:
        typer.echo(f"  missing/wrong: {problem}")
    for warning in report.warnings:
        typer.echo(f"  warning: {warning}")


@models_app.command("check")
def models_check(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """List the configured models, verify each folder and print the weights' SHA-256.

    Checks dataset.json, plans.json (readable, the configured plans and configuration), the
    trainer class in the installed nnU-Net, the checkpoint of every configured fold, the
    label mapping and the stages' channels; hashes every checkpoint. Exit 0 when every
    model a stage uses is usable, 2 otherwise (each problem is named).
    """
    from pipeline.segment.model_folders import check_config

    segmentation = _load(config).pipeline.segmentation
    reports = check_config(segmentation, find_trainer=True)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "models_dir": str(segmentation.resolved_models_dir()),
                    "preset": segmentation.preset,
                    "models": [model_summary(r) for r in reports],
                },
                indent=2,
            )
        )
    else:
        typer.echo(
            f"models folder: {segmentation.resolved_models_dir()}"
            + (f" (preset {segmentation.preset})" if segmentation.preset else "")
        )
        for report in reports:
            _print(report)
    if any(r.problems and r.used for r in reports):
        raise typer.Exit(code=2)
