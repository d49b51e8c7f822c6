"""Figures over cases: per-structure statistics with bootstrap CIs, lesion detection,
volume agreement (ICC, Bland-Altman) and the risk-coverage curve of the confidence score.

Only cases with status ``ok`` count. Per-structure statistics use the cases whose reference
holds the structure (a structure absent from the reference, correctly or not, is judged by
lesion-level false positives, not by averaging a Dice of 1 or 0); NaN figures (undefined,
see the empty-mask rules) are left out and counted. Volume agreement uses every case whose
reference mapping holds the structure, an empty one as 0 mL. The risk of a case is
1 - Dice of ``risk_structure``; cases without a confidence score are left out of the curve.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pipeline.validate.evaluate import METRICS
from pipeline.validate.metrics.agreement import bland_altman, icc
from pipeline.validate.metrics.bootstrap import bootstrap_ci, mean_ci
from pipeline.validate.metrics.risk import RiskCoverage, operating_point, risk_coverage
from pipeline.validate.settings import ValidationSettings

AGREEMENT_MIN_CASES = 3
"""Fewest cases for ICC and Bland-Altman of a structure."""


def _value(v: Any) -> float:
    return float("nan") if v is None else float(v)


def structure_rows(records: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per-structure rows of the ``ok`` cases, each with its ``case_id``, in case order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        if rec.get("status") != "ok":
            continue
        for row in rec["structures"]:
            out.setdefault(row["structure"], []).append({"case_id": rec["case_id"], **row})
    return out


def describe(values: Sequence[float], settings: ValidationSettings) -> dict[str, float]:
    """n, NaN count, mean, SD, median, quartiles and bootstrap CI of the mean."""
    v = np.asarray(values, float)
    finite = v[np.isfinite(v)]
    nan = float("nan")
    if finite.size == 0:
        return {
            "n": 0,
            "n_undefined": int(v.size),
            "mean": nan,
            "sd": nan,
            "median": nan,
            "q1": nan,
            "q3": nan,
            "ci_low": nan,
            "ci_high": nan,
        }
    low, high = mean_ci(finite, settings.bootstrap, settings.seed)
    return {
        "n": int(finite.size),
        "n_undefined": int(v.size - finite.size),
        "mean": float(finite.mean()),
        "sd": float(finite.std(ddof=1)) if finite.size > 1 else nan,
        "median": float(np.median(finite)),
        "q1": float(np.quantile(finite, 0.25)),
        "q3": float(np.quantile(finite, 0.75)),
        "ci_low": low,
        "ci_high": high,
    }


def per_structure(
    records: Sequence[dict[str, Any]], settings: ValidationSettings
) -> dict[str, dict[str, dict[str, float]]]:
    """structure -> metric -> statistics, over the cases whose reference holds it."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for structure, rows in structure_rows(records).items():
        present = [r for r in rows if not r["reference_empty"]]
        if not present:
            continue
        out[structure] = {
            m: describe([_value(r.get(m)) for r in present], settings)
            for m in METRICS
            if any(m in r for r in present)
        }
    return out


def lesion_summary(
    records: Sequence[dict[str, Any]], settings: ValidationSettings
) -> dict[str, Any] | None:
    """Pooled lesion sensitivity (all, >= 10 mm) and false positives per case, with CIs."""
    cases = [r["lesions"] for r in records if r.get("status") == "ok" and r.get("lesions")]
    if not cases:
        return None
    keys = (
        "n_reference",
        "n_detected",
        "n_reference_large",
        "n_detected_large",
        "n_false_positive",
        "n_predicted",
    )
    table = {k: np.array([c[k] for c in cases], float) for k in keys}

    def pooled(num: str, den: str) -> tuple[float, tuple[float, float]]:
        def stat(idx: np.ndarray) -> float:
            d = table[den][idx].sum()
            return float(table[num][idx].sum() / d) if d > 0 else float("nan")

        total = table[den].sum()
        value = float(table[num].sum() / total) if total > 0 else float("nan")
        return value, bootstrap_ci(len(cases), stat, settings.bootstrap, settings.seed)

    sens, sens_ci = pooled("n_detected", "n_reference")
    large, large_ci = pooled("n_detected_large", "n_reference_large")
    fp = table["n_false_positive"]
    fp_ci = mean_ci(fp, settings.bootstrap, settings.seed)
    return {
        "cases": len(cases),
        **{k: int(v.sum()) for k, v in table.items()},
        "sensitivity": sens,
        "sensitivity_ci": list(sens_ci),
        "sensitivity_large": large,
        "sensitivity_large_ci": list(large_ci),
        "false_positives_per_case": float(fp.mean()),
        "false_positives_per_case_ci": list(fp_ci),
    }


def volume_agreement(
    records: Sequence[dict[str, Any]], settings: ValidationSettings
) -> dict[str, dict[str, Any]]:
    """structure -> ICC (all six forms, CI of ICC(2,1)), Bland-Altman and the volume pairs."""
    out: dict[str, dict[str, Any]] = {}
    for structure, rows in structure_rows(records).items():
        pred = np.array([r["volume_pred_ml"] for r in rows], float)
        ref = np.array([r["volume_ref_ml"] for r in rows], float)
        if len(rows) < AGREEMENT_MIN_CASES:
            continue
        table = np.column_stack([ref, pred])
        result = icc(table)

        def stat(idx: np.ndarray, table: np.ndarray = table) -> float:
            return icc(table[idx]).icc2_1

        ci = bootstrap_ci(len(rows), stat, settings.bootstrap, settings.seed)
        out[structure] = {
            "n": len(rows),
            "icc": result.to_dict(),
            "icc2_1_ci": list(ci),
            "bland_altman_ml": bland_altman(pred, ref).to_dict(),
            "case_ids": [r["case_id"] for r in rows],
            "pred_ml": pred.tolist(),
            "ref_ml": ref.tolist(),
        }
    return out


def _risk_pairs(
    records: Sequence[dict[str, Any]], structure: str
) -> list[tuple[str, float, float, bool | None]]:
    """(case, confidence, risk = 1 - Dice, review flag) of the ``ok`` cases with a score."""
    pairs: list[tuple[str, float, float, bool | None]] = []
    for rec in records:
        if rec.get("status") != "ok" or rec.get("confidence") is None:
            continue
        dice = next((r.get("dice") for r in rec["structures"] if r["structure"] == structure), None)
        if dice is not None and math.isfinite(dice):
            flag = rec.get("review_recommended")
            pairs.append(
                (
                    rec["case_id"],
                    float(rec["confidence"]),
                    1.0 - float(dice),
                    None if flag is None else bool(flag),
                )
            )
    return pairs


def confidence_summary(
    records: Sequence[dict[str, Any]], settings: ValidationSettings
) -> dict[str, Any] | None:
    """Risk-coverage curve and AURC (risk = 1 - Dice of the risk structure) of the score,
    the oracle and a random order, with bootstrap CIs, and the configured cut-off's point."""
    pairs = _risk_pairs(records, settings.risk_structure)
    if not pairs:
        return None
    conf = np.array([p[1] for p in pairs])
    risk = np.array([p[2] for p in pairs])
    rc = risk_coverage(conf, risk)

    def ci(stat: Callable[[RiskCoverage], float]) -> list[float]:
        return list(
            bootstrap_ci(
                len(pairs),
                lambda idx: stat(risk_coverage(conf[idx], risk[idx])),
                settings.bootstrap,
                settings.seed,
            )
        )

    cut = operating_point(conf, risk, settings.review_below_score)
    flags = [p[3] for p in pairs]
    review = None
    if all(f is not None for f in flags):
        flagged = np.array(flags, bool)
        review = {
            "n_flagged": int(flagged.sum()),
            "risk_flagged": float(risk[flagged].mean()) if flagged.any() else None,
            "risk_accepted": float(risk[~flagged].mean()) if (~flagged).any() else None,
        }
    return {
        "risk": f"1 - Dice ({settings.risk_structure})",
        "n": len(pairs),
        "aurc": rc.aurc,
        "aurc_x100": 100.0 * rc.aurc,
        "aurc_ci": ci(lambda r: r.aurc),
        "aurc_optimal": rc.aurc_optimal,
        "aurc_optimal_ci": ci(lambda r: r.aurc_optimal),
        "aurc_random": rc.aurc_random,
        "aurc_random_ci": ci(lambda r: r.aurc_random),
        "gain_over_random": rc.aurc_random - rc.aurc,
        "gain_over_random_ci": ci(lambda r: r.aurc_random - r.aurc),
        "excess_aurc": rc.aurc - rc.aurc_optimal,
        "cutoff": {
            "score": cut.threshold,
            "coverage": cut.coverage,
            "n_flagged": cut.n_flagged,
            "risk_accepted": cut.risk_accepted,
            "risk_flagged": cut.risk_flagged,
        },
        "review_flag": review,
        "risk_all": rc.risk_all,
        "coverage": rc.coverage,
        "selective_risk": rc.risk,
        "thresholds": rc.thresholds,
        "oracle_coverage": rc.oracle_coverage,
        "oracle_risk": rc.oracle_risk,
        "confidence": conf.tolist(),
        "case_risk": risk.tolist(),
        "case_ids": [p[0] for p in pairs],
    }


def volume_ratio_within(
    records: Sequence[dict[str, Any]], structure: str = "liver", low: float = 0.9, high: float = 1.1
) -> str | None:
    """ "k/n cases" whose volume ratio of ``structure`` lies in [low, high] (the SIRT figure)."""
    rows = [r for r in structure_rows(records).get(structure, []) if not r["reference_empty"]]
    if not rows:
        return None
    k = sum(1 for r in rows if r["volume_ratio"] is not None and low <= r["volume_ratio"] <= high)
    return f"{k}/{len(rows)} cases"


def cldice_range(structures: dict[str, dict[str, dict[str, float]]]) -> str | None:
    """ "max–min" of the mean clDice over the tubular structures (the Chierici figure)."""
    means = [
        m["cldice"]["mean"]
        for m in structures.values()
        if "cldice" in m and math.isfinite(m["cldice"]["mean"])
    ]
    return f"{max(means):.3f}–{min(means):.3f}" if means else None


def summarise(records: Sequence[dict[str, Any]], settings: ValidationSettings) -> dict[str, Any]:
    """The whole summary (content of ``summary.json``)."""
    status = [r.get("status") for r in records]
    structures = per_structure(records, settings)
    return {
        "settings": {
            "tolerance_mm": settings.tolerance_mm,
            "bootstrap": settings.bootstrap,
            "seed": settings.seed,
            "risk_structure": settings.risk_structure,
            "review_below_score": settings.review_below_score,
            "ci": "95 % percentile bootstrap over cases, of the mean",
        },
        "cases": {
            "total": len(records),
            "ok": status.count("ok"),
            "rejected": status.count("rejected"),
            "error": status.count("error"),
        },
        "demo": any(r.get("demo") for r in records),
        "structures": structures,
        "cldice_range": cldice_range(structures),
        "liver_volume_ratio_within": volume_ratio_within(records),
        "lesions": lesion_summary(records, settings),
        "volume_agreement": volume_agreement(records, settings),
        "confidence": confidence_summary(records, settings),
    }
