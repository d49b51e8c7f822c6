"""Writes a validation's outputs: per-case CSV/JSON, summary CSV/JSON, plots, HTML report.

Files in ``OUT/``: ``metrics.csv`` (one row per case and structure, every figure),
``metrics.json`` (every case record), ``lesions.csv`` (lesion counts per case),
``cases.csv`` (status per case), ``summary.csv`` (structure x figure statistics with
bootstrap CIs), ``summary.json`` (everything summarised), ``plots/*.png`` and
``report.html`` (self-contained: plots embedded; the seed studies' published figures side
by side; the demo-model notice where a demo model produced the predictions).
"""

from __future__ import annotations

import base64
import csv
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from pipeline.segment.model_folders import DEMO_NOTICE
from pipeline.validate.evaluate import METRICS, TUBULAR, finite_or_none
from pipeline.validate.plots import bland_altman_plot, box_plot, risk_coverage_plot
from pipeline.validate.published import PUBLISHED, site_value
from pipeline.validate.summary import structure_rows

STAT_COLUMNS = ("n", "n_undefined", "mean", "sd", "median", "q1", "q3", "ci_low", "ci_high")
"""Columns of ``summary.csv`` after structure and metric."""

BOX_PLOTS = (("dice", "Dice"), ("hd95_mm", "HD95 (mm)"), ("nsd", "NSD"),
             ("volume_rel_error_pct", "volume error (%)"))
"""Figures drawn as box plots per structure: (key, axis label)."""


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in header})


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _interval(ci: Sequence[Any] | None, digits: int = 3) -> str:
    if not ci or any(v is None or not math.isfinite(v) for v in ci):
        return ""
    return f"[{_num(ci[0], digits)}, {_num(ci[1], digits)}]"


def _ci(stats: dict[str, Any] | None, digits: int = 3) -> str:
    if not stats:
        return ""
    interval = _interval([stats["ci_low"], stats["ci_high"]], digits)
    return f"{_num(stats.get('mean'), digits)} {interval}"


def _site_text(value: Any) -> str:
    if isinstance(value, float):
        return _num(value, 3)
    return "–" if value is None else str(value)


def make_plots(records: Sequence[dict[str, Any]], summary: dict[str, Any]
               ) -> list[tuple[str, str, bytes]]:
    """(file stem, title, PNG) of every plot the data allow."""
    demo = bool(summary.get("demo"))
    rows = structure_rows(records)
    plots: list[tuple[str, str, bytes]] = []
    for key, label in BOX_PLOTS:
        values = {s: [r[key] for r in rs if not r["reference_empty"] and r.get(key) is not None
                      and math.isfinite(r[key])] for s, rs in rows.items()}
        if any(values.values()):
            plots.append((f"box_{key}", f"{label} per structure", box_plot(values, label, demo)))
    tubes = {s.value for s in TUBULAR}
    cl = {s: [r["cldice"] for r in rs if not r["reference_empty"] and r.get("cldice") is not None]
          for s, rs in rows.items() if s in tubes}
    if any(cl.values()):
        plots.append(("box_cldice", "clDice per tubular structure", box_plot(cl, "clDice", demo)))
    for structure in ("liver", "metastasis"):
        agreement = summary["volume_agreement"].get(structure)
        if agreement:
            plots.append((f"bland_altman_{structure}", f"Bland–Altman, {structure} volume",
                          bland_altman_plot(agreement["pred_ml"], agreement["ref_ml"],
                                            agreement["bland_altman_ml"], structure, demo)))
    if summary.get("confidence"):
        plots.append(("risk_coverage", "Risk–coverage curve of the confidence score",
                      risk_coverage_plot(summary["confidence"], demo)))
    return plots


def render_html(records: Sequence[dict[str, Any]], summary: dict[str, Any],
                plots: Sequence[tuple[str, str, bytes]]) -> str:
    """The self-contained HTML report."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.get_template("report.html")
    models = sorted({f"{m.get('name')} {m.get('version')}" for r in records
                     for m in r.get("models") or []})
    published = [{"study": p.study, "figure": p.figure, "value": p.value,
                  "site": _site_text(site_value(summary, p.site_key))} for p in PUBLISHED]
    return template.render(
        summary=summary, notice=DEMO_NOTICE, models=", ".join(models), published=published,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        plots=[(title, base64.b64encode(png).decode("ascii")) for _, title, png in plots],
        problems=[r for r in records if r.get("status") != "ok"],
        num=_num, interval=_interval, ci=_ci)


def write_report(out: Path, records: Sequence[dict[str, Any]], summary: dict[str, Any]
                 ) -> list[Path]:
    """Write every output file (list in the module docstring); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    metric_rows = [{"case_id": r["case_id"], **row} for r in records
                   if r.get("status") == "ok" for row in r["structures"]]
    header = ("case_id", "structure", "reference_empty", "prediction_empty", *METRICS)
    _write_csv(out / "metrics.csv", header, metric_rows)
    lesion_rows = [{"case_id": r["case_id"], **r["lesions"]} for r in records
                   if r.get("status") == "ok" and r.get("lesions")]
    lesion_header = ("case_id", "n_reference", "n_detected", "n_predicted", "n_false_positive",
                     "n_reference_large", "n_detected_large", "sensitivity",
                     "sensitivity_large")
    _write_csv(out / "lesions.csv", lesion_header, lesion_rows)
    _write_csv(out / "cases.csv", ("case_id", "status", "reason", "confidence", "demo",
                                   "series_instance_uid", "seconds"), records)
    stat_rows = [{"structure": s, "metric": m, **stats}
                 for s, metrics in summary["structures"].items() for m, stats in metrics.items()]
    _write_csv(out / "summary.csv", ("structure", "metric", *STAT_COLUMNS), stat_rows)
    for name, data in (("metrics.json", list(records)), ("summary.json", summary)):
        (out / name).write_text(json.dumps(finite_or_none(data), indent=1, allow_nan=False),
                                encoding="utf-8")
    written += [out / n for n in ("metrics.csv", "lesions.csv", "cases.csv", "summary.csv",
                                  "metrics.json", "summary.json")]
    plots = make_plots(records, summary)
    (out / "plots").mkdir(exist_ok=True)
    for stem, _, png in plots:
        (out / "plots" / f"{stem}.png").write_bytes(png)
        written.append(out / "plots" / f"{stem}.png")
    (out / "report.html").write_text(render_html(records, summary, plots), encoding="utf-8")
    written.append(out / "report.html")
    return written
