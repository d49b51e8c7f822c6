"""``dicomnode synth``: write a synthetic abdominal CT study with its ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dicomnode.cli.app import app


@app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Argument(help="Output folder (dicom/ and truth/ are created).")],
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the phantom and the study [default: 0].")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Size: small (fast tests) or realistic (512x512) "
                                       "[default: small]."),
    ] = None,
) -> None:
    """Write a synthetic study: DICOM files under OUT/dicom/, ground truth under OUT/truth/.

    The truth holds label maps per axial series, volumes.json (exact volumes in mL) and
    series.json (every series, and which one a correct selection must choose). The images
    show a synthetic phantom, not a patient.
    """
    from pydantic import ValidationError

    from pipeline.synth.config import SynthConfig
    from pipeline.synth.study import write_study

    defaults = SynthConfig()
    try:
        cfg = SynthConfig.model_validate({
            "seed": defaults.seed if seed is None else seed,
            "profile": defaults.profile if profile is None else profile,
            "exact_volumes": defaults.exact_volumes})
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    truth = write_study(out, cfg.seed, cfg.profile, volumes=cfg.exact_volumes)
    n_files = sum(int(e.get("n_instances", 0)) for e in truth.series)
    typer.echo(f"wrote {len(truth.series)} series ({n_files} files) to {out / 'dicom'}; "
               f"truth in {out / 'truth'}; expected series {truth.expected_series_uid}")
