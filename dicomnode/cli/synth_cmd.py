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
    nm: Annotated[
        list[str] | None,
        typer.Option("--nm", help="Add nuclear-medicine studies of the same patient: maa "
                                  "(Tc-99m MAA SPECT/CT + planar views) and/or y90pet (Y-90 "
                                  "PET/CT); repeat the option or give a comma list."),
    ] = None,
    lsf: Annotated[float | None, typer.Option("--lsf", help="Lung shunt fraction [0.08].")] = None,
    tn: Annotated[float | None, typer.Option(
        "--tn", help="Tumour-to-normal concentration ratio [3.0].")] = None,
    administered_gbq: Annotated[float | None, typer.Option(
        "--administered-gbq", help="Y-90 activity reaching the patient, GBq [2.0].")] = None,
    territory: Annotated[str | None, typer.Option(
        "--territory", help="Perfused territory: whole, right (S5-8) or left (S2-4) "
                            "[right].")] = None,
) -> None:
    """Write a synthetic study: DICOM files under OUT/dicom/, ground truth under OUT/truth/.

    The truth holds label maps per axial series, volumes.json (exact volumes in mL) and
    series.json (every series, and which one a correct selection must choose). With --nm,
    NM/PET studies of the same patient go to OUT/dicom/maa/ and OUT/dicom/y90pet/ and their
    truth (LSF, T/N, misregistration, exact mean doses) to OUT/truth/dosimetry.json. The
    images show a synthetic phantom, not a patient.
    """
    from pydantic import ValidationError

    from pipeline.synth.config import NmSynthConfig, SynthConfig
    from pipeline.synth.study import write_study

    defaults = SynthConfig()
    given = {"kinds": [k.strip() for v in nm or [] for k in v.split(",") if k.strip()],
             "lsf": lsf, "tn_ratio": tn, "administered_gbq": administered_gbq,
             "territory": territory}
    try:
        cfg = SynthConfig.model_validate({
            "seed": defaults.seed if seed is None else seed,
            "profile": defaults.profile if profile is None else profile,
            "exact_volumes": defaults.exact_volumes})
        nm_cfg = NmSynthConfig.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    truth = write_study(out, cfg.seed, cfg.profile, volumes=cfg.exact_volumes)
    n_files = sum(int(e.get("n_instances", 0)) for e in truth.series)
    typer.echo(f"wrote {len(truth.series)} series ({n_files} files) to {out / 'dicom'}; "
               f"truth in {out / 'truth'}; expected series {truth.expected_series_uid}")
    if nm_cfg.kinds:
        from pipeline.synth.nm_activity import Territory
        from pipeline.synth.nm_study import NmKind, NmOptions, write_nm_studies

        dosimetry = write_nm_studies(truth, NmOptions(
            kinds=tuple(NmKind(k) for k in nm_cfg.kinds), lsf=nm_cfg.lsf,
            tn_ratio=nm_cfg.tn_ratio, administered_gbq=nm_cfg.administered_gbq,
            territory=Territory(nm_cfg.territory)))
        typer.echo(f"wrote {', '.join(dosimetry['studies'])} under {out / 'dicom'}; truth in "
                   f"{out / 'truth' / 'dosimetry.json'}")
