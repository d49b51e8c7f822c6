"""``dicomnode validate``: measure the segmentation on a local case set (site validation)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dicomnode.cli.app import app


@app.command("validate")
def validate(
    cases: Annotated[
        Path,
        typer.Argument(
            help="Case-set folder: one sub-folder per case with dicom/ and a reference "
            "(reference.nii.gz + labels.yaml, reference.dcm as DICOM-SEG, or a "
            "'dicomnode synth' study)."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Output folder (CSV, JSON, plots, report.html; per-case cache)."
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Configuration YAML (series selection and segmentation)."),
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="Evaluate existing predictions from this folder instead of running the pipeline.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    tolerance_mm: Annotated[
        float, typer.Option("--tolerance-mm", min=0.0, help="NSD tolerance, mm.")
    ] = 3.0,
    bootstrap: Annotated[
        int,
        typer.Option("--bootstrap", min=0, help="Bootstrap resamples of the confidence intervals."),
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    risk_structure: Annotated[
        str,
        typer.Option(
            "--risk-structure",
            help="Structure whose 1 - Dice is the risk of the risk-coverage curve "
            "(liver, metastasis, metastasis_10mm, ...).",
        ),
    ] = "liver",
    synthetic: Annotated[
        int,
        typer.Option(
            "--synthetic",
            min=0,
            help="First write N synthetic small-profile studies into CASES "
            "(kept if already there).",
        ),
    ] = 0,
    synthetic_seed: Annotated[
        int,
        typer.Option(
            "--synthetic-seed",
            help="Seed of the first synthetic study (not a training seed of the model).",
        ),
    ] = 1000,
    synthetic_hard: Annotated[
        int,
        typer.Option(
            "--synthetic-hard",
            min=0,
            help="First write N hard synthetic small-profile studies "
            "into CASES (low dose, weak contrast, partial liver, "
            "small lesions, atypical shape; kept if already "
            "there).",
        ),
    ] = 0,
    synthetic_hard_seed: Annotated[
        int, typer.Option("--synthetic-hard-seed", help="Seed of the first hard synthetic study.")
    ] = 2000,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
) -> None:
    """Run the pipeline (or read predictions) on every case and compare with the reference.

    Writes metrics.csv/metrics.json (every figure per case and structure), summary.csv/
    summary.json (with bootstrap CIs), plots/ and report.html to OUT. Cases already in
    OUT/cases/ with the same settings are not recomputed (resumable).
    """
    from dicomnode.config import ConfigError, load_config
    from pipeline.segment.model_folders import DEMO_NOTICE, ModelError
    from pipeline.validate.cases import CaseError, discover_cases
    from pipeline.validate.html_report import write_report
    from pipeline.validate.runner import Runner
    from pipeline.validate.settings import ValidationSettings
    from pipeline.validate.summary import summarise
    from pipeline.validate.synthetic import write_hard_cases, write_synthetic_cases

    try:
        pipeline_config = load_config(config).pipeline
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if synthetic:
        write_synthetic_cases(cases, synthetic, synthetic_seed)
    if synthetic_hard:
        write_hard_cases(cases, synthetic_hard, synthetic_hard_seed)
    try:
        case_list = discover_cases(cases)
    except CaseError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if not case_list:
        typer.echo(f"{cases}: no case folders", err=True)
        raise typer.Exit(2)
    cutoff = pipeline_config.segmentation.confidence.review_below_score
    settings = ValidationSettings(
        tolerance_mm=tolerance_mm,
        bootstrap=bootstrap,
        seed=seed,
        risk_structure=risk_structure,
        review_below_score=cutoff,
    )
    runner = Runner(out, settings, pipeline_config, predictions)
    try:
        records = runner.run(case_list, progress=progress)
    except ModelError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    summary = summarise(records, settings)
    write_report(out, records, summary)
    counts = summary["cases"]
    typer.echo(
        f"{counts['ok']} of {counts['total']} cases measured ({counts['rejected']} "
        f"rejected, {counts['error']} failed); report: {out / 'report.html'}"
    )
    for name in ("liver", "metastasis"):
        dice = summary["structures"].get(name, {}).get("dice")
        if dice and dice["n"]:
            typer.echo(
                f"  {name} Dice mean {dice['mean']:.3f} "
                f"[{dice['ci_low']:.3f}, {dice['ci_high']:.3f}] (n={dice['n']})"
            )
    conf = summary["confidence"]
    if conf:
        typer.echo(
            f"  AURC ({conf['risk']}, n={conf['n']}): score {conf['aurc']:.4f}, "
            f"oracle {conf['aurc_optimal']:.4f}, random {conf['aurc_random']:.4f}; "
            f"review cut-off {cutoff:g} flags {conf['cutoff']['n_flagged']}"
        )
    if summary["demo"]:
        typer.echo(DEMO_NOTICE)
