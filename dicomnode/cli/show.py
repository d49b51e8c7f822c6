"""Renders a study result (``result.json``) for a person at a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _series(console: Console, series: dict[str, Any]) -> None:
    phase = series.get("phase") or {}
    console.print(f"[bold]Chosen series[/bold]: {series.get('chosen_series_instance_uid')}")
    if phase:
        confidence = _fmt(phase.get("confidence"), 2)
        console.print(f"  phase {phase.get('phase')} (confidence {confidence})")
    table = Table("rank", "series", "description", "phase", "thickness mm", "score", "accepted",
                  "reasons", title="Series ranking", title_justify="left")
    for i, r in enumerate(series.get("ranking") or [], start=1):
        table.add_row(str(i), str(r.get("series_number", "")), str(r.get("series_description", "")),
                      str(r.get("phase", "")), _fmt(r.get("slice_thickness_mm")),
                      _fmt(r.get("score")), "yes" if r.get("accepted") else "no",
                      "; ".join(r.get("reasons") or [])[:160])
    console.print(table)


def _volumes(console: Console, volumes: dict[str, Any]) -> None:
    table = Table("structure", "volume mL", title="Volumes", title_justify="left")
    for name, value in volumes.items():
        table.add_row(name, _fmt(value))
    console.print(table)


def _flr(console: Console, flr: dict[str, Any]) -> None:
    table = Table("resection", "FLR mL", "FLR % liver", "sFLR %", "FLR/BW %", "flags",
                  title=f"Future liver remnant (TELV {_fmt(flr.get('telv_ml'))} mL, "
                        f"{flr.get('telv_formula')})", title_justify="left")
    for r in flr.get("resections") or []:
        flags = ", ".join(f"{f.get('code')}: {f.get('status')}" for f in r.get("flags") or [])
        table.add_row(str(r.get("label") or r.get("name")), _fmt(r.get("flr_ml")),
                      _fmt(r.get("flr_percent_of_functional_liver")), _fmt(r.get("sflr_percent")),
                      _fmt(r.get("flr_body_weight_percent"), 2), flags or "—")
    console.print(table)


def _sirt(console: Console, sirt: dict[str, Any]) -> None:
    console.print(f"[bold]SIRT plan[/bold]: {sirt.get('status')}"
                  + (f" — missing inputs: {', '.join(sirt['missing'])}" if sirt.get("missing")
                     else ""))
    table = Table("method", "injected GBq", "vial GBq", "target Gy", "normal liver Gy",
                  "tumour Gy", "lung Gy", "missing", title_justify="left")
    for name, m in (sirt.get("methods") or {}).items():
        doses = m.get("implied_doses") or {}
        table.add_row(name, _fmt(m.get("injected_activity_gbq"), 3),
                      _fmt(m.get("vial_activity_gbq"), 3), _fmt(doses.get("target_mean_gy")),
                      _fmt(doses.get("normal_liver_gy")), _fmt(doses.get("tumour_gy")),
                      _fmt(doses.get("lung_gy")), ", ".join(m.get("missing") or []) or "—")
    console.print(table)


def print_result(result: dict[str, Any], out_dir: Path | None = None,
                 console: Console | None = None) -> None:
    """Print the chosen series and why, volumes, FLR, SIRT plan, confidence, warnings and
    where the outputs are.

    Parameters
    ----------
    result : dict
        The content of ``result.json``.
    out_dir : Path, optional
        Folder holding the outputs (their paths are printed).
    console : rich.console.Console, optional
        Where to print (standard output by default).
    """
    console = console or Console()
    if result.get("notice"):
        console.print(f"[bold red]{result['notice']}[/bold red]")
    console.print(f"[bold]Status[/bold]: {result.get('status')}"
                  + (f" — {result['reason']}" if result.get("reason") else ""))
    _series(console, result.get("series") or {})
    if result.get("volumes_ml"):
        _volumes(console, result["volumes_ml"])
    if result.get("flr"):
        _flr(console, result["flr"])
    if result.get("sirt"):
        _sirt(console, result["sirt"])
    conf = result.get("confidence")
    if conf:
        console.print(f"[bold]Confidence[/bold]: {_fmt(conf.get('score'), 2)}; review "
                      f"{'RECOMMENDED' if conf.get('review_recommended') else 'not needed'}"
                      + (f" ({'; '.join(conf.get('reasons') or [])})" if conf.get("reasons")
                         else ""))
    for w in result.get("warnings") or []:
        console.print(f"[yellow]warning[/yellow] {w.get('code')}: {w.get('message')}")
    if out_dir is not None:
        for name in result.get("outputs") or []:
            console.print(f"output: {out_dir / name}")
        console.print(f"output: {out_dir / 'result.json'}")
