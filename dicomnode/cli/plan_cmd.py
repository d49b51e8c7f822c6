"""``dicomnode plan``: re-plan FLR and SIRT of a processed study with planner inputs.

Reads the newest version of ``RESULT_DIR/result.json`` (``result.json`` is version 1,
``result.vN.json`` version N), checks the inputs given (:func:`dicomnode.planning.inputs.
plan_inputs`, the same checks as the dashboard's planner form), recomputes the plan and
writes the next version (the earlier files stay): where the folder holds the study's
``seg.dcm``, its ``sr.vN.dcm``, ``summary.vN.pdf`` and ``summary-pdf.vN.dcm``, then
``result.vN.json`` (:mod:`dicomnode.planning.versions`), and prints the plan.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from dicomnode.cli.app import app

OPTION_OF_FIELD = {
    "lung_shunt_percent": "--lsf",
    "tumour_to_normal_ratio": "--tn",
    "territory": "--territory",
    "territory_segments": "--territory",
    "microspheres": "--microspheres",
    "target_dose_gy": "--target-dose-gy",
    "tumour_dose_gy": "--tumour-dose-gy",
    "normal_limit_gy": "--normal-limit-gy",
    "residual_percent": "--residual",
    "bilirubin_mg_dl": "--bilirubin",
    "prior_lung_dose_gy": "--prior-lung-dose-gy",
    "pretreated": "--pretreated",
    "disease": "--disease",
    "calibration_time": "--calibration-time",
    "administration_time": "--administration-time",
    "liver_condition": "--liver-condition",
    "planned_resection": "--resection",
    "custom_resections": "--custom-resection",
    "prior_sflr_percent": "--prior-sflr",
    "pve_date": "--pve-date",
    "height_m": "--height-m",
    "weight_kg": "--weight-kg",
}
"""The command-line option of each planner field (:data:`dicomnode.planning.inputs.PLAN_FIELDS`)."""


def _load_config(path: Path | None) -> tuple[Any, Any]:
    """(QuantificationConfig, EncodeConfig) from a quantification YAML or a root config."""
    from pipeline.encode.config import EncodeConfig
    from pipeline.quantify.config import QuantificationConfig

    if path is None:
        return QuantificationConfig(), EncodeConfig()
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if "quantification" in data or "encode" in data:
        return (
            QuantificationConfig(**data.get("quantification") or {}),
            EncodeConfig(**data.get("encode") or {}),
        )
    return QuantificationConfig(**data), EncodeConfig()


def _percent(fraction: str | None) -> str | None:
    """A fraction as typed (0.08) as the exact percentage the planner fields take (8.00)."""
    if fraction is None:
        return None
    try:
        return str(Decimal(fraction) * 100)
    except InvalidOperation:
        return fraction  # plan_inputs names it as not a number


def _territory(value: str | None) -> tuple[str | None, str | None]:
    """``segments:5,6`` -> (``segments``, ``5,6``); other territories as they are."""
    if value is None:
        return None, None
    kind, _, segments = value.partition(":")
    return kind.strip(), (segments or None)


def field_values(options: dict[str, Any]) -> dict[str, str]:
    """The command line's planner options as the raw field values ``plan_inputs`` reads.

    LSF and residual are fractions on the command line (``--lsf 0.08``) and percentages in
    the fields; ``--territory segments:5,6`` gives territory and segments.
    """
    values = {
        name: value
        for name, value in options.items()
        if value is not None
        and name not in ("lsf", "residual", "territory", "pretreated", "custom")
    }
    territory, segments = _territory(options.get("territory"))
    values.update(
        lung_shunt_percent=_percent(options.get("lsf")),
        residual_percent=_percent(options.get("residual")),
        territory=territory,
        territory_segments=segments,
        custom_resections="; ".join(options.get("custom") or []) or None,
    )
    if options.get("pretreated") is not None:
        values["pretreated"] = "yes" if options["pretreated"] else "no"
    return {name: str(value) for name, value in values.items() if value is not None}


@app.command("plan")
def plan_command(
    result_dir: Annotated[
        Path,
        typer.Argument(
            exists=True, file_okay=False, help="Folder of a processed study (with result.json)."
        ),
    ],
    lsf: Annotated[
        str | None, typer.Option("--lsf", help="Lung shunt fraction as a fraction (0.08 = 8 %).")
    ] = None,
    tn: Annotated[str | None, typer.Option("--tn", help="Tumour-to-normal ratio.")] = None,
    territory: Annotated[
        str | None, typer.Option("--territory", help="whole, right, left or segments:2,3.")
    ] = None,
    microspheres: Annotated[
        str | None, typer.Option("--microspheres", help="resin or glass.")
    ] = None,
    target_dose_gy: Annotated[
        str | None,
        typer.Option("--target-dose-gy", help="Single-compartment mean dose to the territory, Gy."),
    ] = None,
    tumour_dose_gy: Annotated[
        str | None, typer.Option("--tumour-dose-gy", help="Partition model tumour dose goal, Gy.")
    ] = None,
    normal_limit_gy: Annotated[
        str | None,
        typer.Option("--normal-limit-gy", help="Partition model normal-liver dose cap, Gy."),
    ] = None,
    residual: Annotated[
        str | None,
        typer.Option("--residual", help="Residual fraction left in vial and lines (0.01 = 1 %)."),
    ] = None,
    bilirubin: Annotated[
        str | None, typer.Option("--bilirubin", help="Total bilirubin, mg/dL.")
    ] = None,
    prior_lung_dose_gy: Annotated[
        str | None, typer.Option("--prior-lung-dose-gy", help="Lung dose of earlier sessions, Gy.")
    ] = None,
    pretreated: Annotated[
        bool | None,
        typer.Option(
            "--pretreated/--not-pretreated",
            help="Liver pretreated or compromised (bilobar resin limit 30 Gy instead of 40 Gy).",
        ),
    ] = None,
    disease: Annotated[
        str | None,
        typer.Option("--disease", help="hcc or mcrc (selects the tumour-dose threshold)."),
    ] = None,
    calibration_time: Annotated[
        str | None,
        typer.Option(
            "--calibration-time",
            help="Date and time the vial's activity is stated for, e.g. 2026-03-02T12:00.",
        ),
    ] = None,
    administration_time: Annotated[
        str | None,
        typer.Option(
            "--administration-time",
            help="Planned date and time of administration, e.g. 2026-03-05T12:00.",
        ),
    ] = None,
    liver_condition: Annotated[
        str | None, typer.Option("--liver-condition", help="normal, chemotherapy or cirrhosis.")
    ] = None,
    resection: Annotated[
        str | None,
        typer.Option(
            "--resection", help="Planned resection (for hypertrophy), e.g. right_hepatectomy."
        ),
    ] = None,
    custom_resection: Annotated[
        list[str] | None,
        typer.Option(
            "--custom-resection", help="NAME:SEGMENTS resected, e.g. posterior:6,7 (repeatable)."
        ),
    ] = None,
    prior_sflr: Annotated[
        str | None,
        typer.Option("--prior-sflr", help="sFLR of the planned resection on the prior study, %."),
    ] = None,
    pve_date: Annotated[
        str | None,
        typer.Option(
            "--pve-date",
            help="Date of the portal-vein embolisation, e.g. 2026-01-15 "
            "(KGR = DH / weeks since it).",
        ),
    ] = None,
    height_m: Annotated[str | None, typer.Option("--height-m", help="Height, m.")] = None,
    weight_kg: Annotated[str | None, typer.Option("--weight-kg", help="Weight, kg.")] = None,
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            exists=True,
            dir_okay=False,
            help="YAML with the quantification settings (or a root config with a "
            "'quantification' section).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new JSON document.")] = False,
) -> None:
    """Recompute FLR and SIRT from RESULT_DIR's newest result with planner inputs.

    Writes, when the folder holds the study's seg.dcm, sr.vN.dcm (naming the earlier SR as
    its predecessor), summary.vN.pdf and summary-pdf.vN.dcm, then RESULT_DIR/result.vN.json
    (the next version; earlier versions stay; a failure leaves no part of version N);
    prints the plan. Planner inputs given here override those of the earlier version.
    """
    import json

    from pydantic import ValidationError

    from dicomnode.planning.inputs import PlanInputError, plan_inputs
    from dicomnode.planning.versions import compute_plan, write_plan
    from pipeline.quantify.summary import format_plan

    values = field_values(
        {
            "lsf": lsf,
            "tumour_to_normal_ratio": tn,
            "territory": territory,
            "microspheres": microspheres,
            "target_dose_gy": target_dose_gy,
            "tumour_dose_gy": tumour_dose_gy,
            "normal_limit_gy": normal_limit_gy,
            "residual": residual,
            "bilirubin_mg_dl": bilirubin,
            "prior_lung_dose_gy": prior_lung_dose_gy,
            "pretreated": pretreated,
            "disease": disease,
            "calibration_time": calibration_time,
            "administration_time": administration_time,
            "liver_condition": liver_condition,
            "planned_resection": resection,
            "custom": custom_resection,
            "prior_sflr_percent": prior_sflr,
            "pve_date": pve_date,
            "height_m": height_m,
            "weight_kg": weight_kg,
        }
    )
    try:
        planner, patient = plan_inputs(values)
    except PlanInputError as exc:
        problems = "; ".join(
            f"{OPTION_OF_FIELD.get(name, name)}: {message}" for name, message in exc.errors.items()
        )
        raise typer.BadParameter(problems) from exc
    try:
        config, encode_config = _load_config(config_path)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc
    try:
        preview = compute_plan(result_dir, planner, patient, config)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="RESULT_DIR") from exc
    written = write_plan(preview, encode_config)
    typer.echo(json.dumps(preview.doc, indent=2) if as_json else format_plan(preview.doc))
    for path in written.paths:
        typer.echo(f"written: {path}", err=True)
    if not written.dicom:
        typer.echo("no seg.dcm in the folder: no new SR or PDF written", err=True)
