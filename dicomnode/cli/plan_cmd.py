"""``dicomnode plan``: re-plan FLR and SIRT of a processed study with planner inputs.

Reads the newest version of ``RESULT_DIR/result.json`` (``result.json`` is version 1,
``result.vN.json`` version N), recomputes the plan with the inputs given, writes the next
version (the earlier files stay) and, where the folder holds the study's ``seg.dcm``, its
``sr.vN.dcm``, ``summary.vN.pdf`` and ``summary-pdf.vN.dcm``
(:mod:`pipeline.run.replan_outputs`), and prints the plan.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dicomnode.cli.app import app
from pipeline.durable import atomic_write

if TYPE_CHECKING:
    from pipeline.encode.config import EncodeConfig
    from pipeline.quantify.config import QuantificationConfig
    from pipeline.quantify.inputs import PatientInfo, PlannerInputs

_VERSIONED = re.compile(r"^result\.v(\d+)\.json$")


def result_versions(result_dir: Path) -> dict[int, Path]:
    """Result files of a study by version number (``result.json`` is version 1)."""
    found = {}
    if (result_dir / "result.json").is_file():
        found[1] = result_dir / "result.json"
    for path in result_dir.iterdir():
        match = _VERSIONED.match(path.name)
        if match and path.is_file():
            found[int(match.group(1))] = path
    return found


def write_new_version(result_dir: Path, doc: dict[str, Any]) -> Path:
    """Write ``doc`` as the next free ``result.vN.json`` durably (temp file, fsync, rename)."""
    version = max(result_versions(result_dir), default=1) + 1
    target = result_dir / f"result.v{version}.json"
    doc["result_version"] = version
    return atomic_write(target, json.dumps(doc, indent=2, allow_nan=False).encode("utf-8"))


def newest_result(result_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The newest result version of a study folder: its path and document.

    Raises
    ------
    ValueError
        The folder has no result, or the newest one has no quantification (rejected).
    """
    versions = result_versions(result_dir)
    if not versions:
        raise ValueError("no result.json in the folder")
    base = versions[max(versions)]
    previous = json.loads(base.read_text(encoding="utf-8"))
    if "volumes_ml" not in previous or "tumour_burden" not in previous:
        raise ValueError(f"{base.name} has no quantification (rejected study?)")
    return base, previous


def replan_folder(result_dir: Path, base: Path, previous: dict[str, Any],
                  planner: PlannerInputs, patient: PatientInfo,
                  config: QuantificationConfig, encode_config: EncodeConfig
                  ) -> tuple[dict[str, Any], list[Path]]:
    """Re-plan a study folder's newest result and write the next version beside it.

    Parameters
    ----------
    result_dir : Path
        The study folder.
    base, previous : Path, dict
        Its newest result file and document (:func:`newest_result`).
    planner, patient : PlannerInputs, PatientInfo
        Inputs given now (they override the earlier version's).
    config, encode_config : QuantificationConfig, EncodeConfig
        Quantification and writer settings.

    Returns
    -------
    doc : dict
        The new result document.
    written : list of Path
        ``result.vN.json`` and, where the folder holds ``seg.dcm``, ``sr.vN.dcm``,
        ``summary.vN.pdf`` and ``summary-pdf.vN.dcm``.
    """
    from pipeline.quantify.quantify import replan
    from pipeline.run.replan_outputs import write_replan_outputs

    study_date = None if (previous.get("inputs") or {}).get("study_date") \
        else _seg_study_date(result_dir)
    doc = replan(previous, planner, config, patient, study_date)
    doc["supersedes"] = base.name
    written = [write_new_version(result_dir, doc)]
    if (result_dir / "seg.dcm").is_file():
        written += write_replan_outputs(result_dir, doc, int(doc["result_version"]),
                                        encode_config)
    return doc, written


def _load_config(path: Path | None) -> tuple[Any, Any]:
    """(QuantificationConfig, EncodeConfig) from a quantification YAML or a root config."""
    from pipeline.encode.config import EncodeConfig
    from pipeline.quantify.config import QuantificationConfig

    if path is None:
        return QuantificationConfig(), EncodeConfig()
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if "quantification" in data or "encode" in data:
        return (QuantificationConfig(**data.get("quantification") or {}),
                EncodeConfig(**data.get("encode") or {}))
    return QuantificationConfig(**data), EncodeConfig()


def _seg_study_date(result_dir: Path) -> dt.date | None:
    """StudyDate of the study's SEG (None without one)."""
    import pydicom

    from pipeline.run.report_content import study_date

    seg = result_dir / "seg.dcm"
    return study_date(pydicom.dcmread(seg, stop_before_pixels=True)) if seg.is_file() else None


def _custom(values: list[str]) -> dict[str, list[int]]:
    out = {}
    for value in values:
        name, _, segs = value.partition(":")
        try:
            out[name.strip()] = [int(s) for s in segs.split(",") if s.strip()]
        except ValueError as exc:
            raise typer.BadParameter(f"{value!r}: expected NAME:7,8",
                                     param_hint="--custom-resection") from exc
    return out


@app.command("plan")
def plan_command(
    result_dir: Annotated[Path, typer.Argument(
        exists=True, file_okay=False, help="Folder of a processed study (with result.json).")],
    lsf: Annotated[float | None, typer.Option(
        "--lsf", help="Lung shunt fraction as a fraction (0.08 = 8 %).")] = None,
    tn: Annotated[float | None, typer.Option("--tn", help="Tumour-to-normal ratio.")] = None,
    territory: Annotated[str | None, typer.Option(
        "--territory", help="whole, right, left or segments:2,3.")] = None,
    microspheres: Annotated[str | None, typer.Option(
        "--microspheres", help="resin or glass.")] = None,
    target_dose_gy: Annotated[float | None, typer.Option(
        "--target-dose-gy", help="Single-compartment mean dose to the territory, Gy.")] = None,
    tumour_dose_gy: Annotated[float | None, typer.Option(
        "--tumour-dose-gy", help="Partition model tumour dose goal, Gy.")] = None,
    normal_limit_gy: Annotated[float | None, typer.Option(
        "--normal-limit-gy", help="Partition model normal-liver dose cap, Gy.")] = None,
    residual: Annotated[float | None, typer.Option(
        "--residual", help="Residual fraction left in vial and lines (0.01 = 1 %).")] = None,
    bilirubin: Annotated[float | None, typer.Option(
        "--bilirubin", help="Total bilirubin, mg/dL.")] = None,
    prior_lung_dose_gy: Annotated[float | None, typer.Option(
        "--prior-lung-dose-gy", help="Lung dose of earlier sessions, Gy.")] = None,
    pretreated: Annotated[bool | None, typer.Option(
        "--pretreated/--not-pretreated",
        help="Liver pretreated or compromised (bilobar resin limit 30 Gy instead of 40 Gy).")]
        = None,
    disease: Annotated[str | None, typer.Option(
        "--disease", help="hcc or mcrc (selects the tumour-dose threshold).")] = None,
    calibration_time: Annotated[dt.datetime | None, typer.Option(
        "--calibration-time", formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help="Date and time the vial's activity is stated for, e.g. 2026-03-02T12:00.")]
        = None,
    administration_time: Annotated[dt.datetime | None, typer.Option(
        "--administration-time", formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help="Planned date and time of administration, e.g. 2026-03-05T12:00.")] = None,
    liver_condition: Annotated[str | None, typer.Option(
        "--liver-condition", help="normal, chemotherapy or cirrhosis.")] = None,
    resection: Annotated[str | None, typer.Option(
        "--resection", help="Planned resection (for hypertrophy), e.g. right_hepatectomy.")]
        = None,
    custom_resection: Annotated[list[str] | None, typer.Option(
        "--custom-resection", help="NAME:SEGMENTS resected, e.g. posterior:6,7 (repeatable).")]
        = None,
    prior_sflr: Annotated[float | None, typer.Option(
        "--prior-sflr", help="sFLR of the planned resection on the prior study, %.")] = None,
    pve_date: Annotated[dt.datetime | None, typer.Option(
        "--pve-date", formats=["%Y-%m-%d"],
        help="Date of the portal-vein embolisation (KGR = DH / weeks since it).")] = None,
    height_m: Annotated[float | None, typer.Option("--height-m", help="Height, m.")] = None,
    weight_kg: Annotated[float | None, typer.Option("--weight-kg", help="Weight, kg.")] = None,
    config_path: Annotated[Path | None, typer.Option(
        "--config", exists=True, dir_okay=False,
        help="YAML with the quantification settings (or a root config with a "
             "'quantification' section).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new JSON document.")]
        = False,
) -> None:
    """Recompute FLR and SIRT from RESULT_DIR's newest result with planner inputs.

    Writes RESULT_DIR/result.vN.json (the next version; earlier versions stay) and, when the
    folder holds the study's seg.dcm, sr.vN.dcm (naming the earlier SR as its predecessor),
    summary.vN.pdf and summary-pdf.vN.dcm; prints the plan. Planner inputs given here
    override those of the earlier version.
    """
    from pydantic import ValidationError

    from pipeline.quantify.inputs import (
        Disease,
        LiverCondition,
        Microspheres,
        PatientInfo,
        PlannerInputs,
    )
    from pipeline.quantify.summary import format_plan

    try:
        base, previous = newest_result(result_dir)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="RESULT_DIR") from exc
    try:
        device = None if microspheres is None else Microspheres(microspheres)
        condition = None if liver_condition is None else LiverCondition(liver_condition)
        tumour_type = None if disease is None else Disease(disease)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        planner = PlannerInputs(
            lung_shunt_fraction=lsf, tumour_to_normal_ratio=tn, territory=territory,
            microspheres=device, target_dose_gy=target_dose_gy,
            tumour_target_dose_gy=tumour_dose_gy, normal_liver_dose_limit_gy=normal_limit_gy,
            residual_fraction=residual, bilirubin_mg_dl=bilirubin,
            prior_lung_dose_gy=prior_lung_dose_gy, pretreated=pretreated, disease=tumour_type,
            calibration_time=calibration_time, administration_time=administration_time,
            liver_condition=condition, planned_resection=resection,
            custom_resections=_custom(custom_resection or []),
            prior_sflr_percent=prior_sflr, pve_date=None if pve_date is None else pve_date.date())
        patient = PatientInfo(height_m=height_m, weight_kg=weight_kg)
        config, encode_config = _load_config(config_path)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    doc, written = replan_folder(result_dir, base, previous, planner, patient, config,
                                 encode_config)
    typer.echo(json.dumps(doc, indent=2) if as_json else format_plan(doc))
    for path in written:
        typer.echo(f"written: {path}", err=True)
    if not (result_dir / "seg.dcm").is_file():
        typer.echo("no seg.dcm in the folder: no new SR or PDF written", err=True)
