"""``dicomnode run``: the whole pipeline on a folder, no network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dicomnode.cli.app import app


@app.command("run")
def run(
    input_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder of DICOM files (searched recursively).",
            exists=True,
            file_okay=True,
            dir_okay=True,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (result.json, SEG, SR, PDF).")],
    config: Annotated[
        Path | None, typer.Option("--config", help="Configuration YAML file.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print result.json instead of a summary.")
    ] = False,
) -> None:
    """Run selection, segmentation, quantification and the DICOM writers on a folder.

    A study that cannot be measured still writes result.json with the reason and exits 0;
    only a failure of the program itself exits non-zero.
    """
    from dicomnode.cli.show import print_result
    from dicomnode.config import ConfigError, load_config
    from pipeline.run.study import run_study
    from pipeline.segment.engine import ModelError, SegmentationEngine

    try:
        pipeline_config = load_config(config).pipeline
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    engine = SegmentationEngine(pipeline_config.segmentation)
    try:
        engine.verify()
    except ModelError as exc:  # a configuration problem, said before any work
        typer.echo(f"model error: {exc}\n(details: dicomnode models check)", err=True)
        raise typer.Exit(2) from exc
    study = run_study([input_dir], out, pipeline_config, engine=engine, run_id="cli")
    if as_json:
        typer.echo(json.dumps(study.result, indent=2))
    else:
        print_result(study.result, out)
