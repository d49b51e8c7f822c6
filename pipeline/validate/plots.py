"""The report's plots (matplotlib, Agg backend) as PNG bytes.

Box plots of a figure per structure, Bland-Altman plots of volumes, and the risk-coverage
curve of the confidence score. A demo-model run stamps every plot with the notice.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from pipeline.segment.model_folders import DEMO_NOTICE


def _png(fig: Figure, demo: bool) -> bytes:
    if demo:
        fig.suptitle(DEMO_NOTICE, fontsize=8, color="#b00")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def box_plot(values: Mapping[str, Sequence[float]], label: str, demo: bool) -> bytes:
    """Box plot of one figure per structure.

    Parameters
    ----------
    values : dict[str, sequence of float]
        Structure name -> per-case values (finite ones).
    label : str
        Axis label (figure and unit).
    demo : bool
        Stamp the demo-model notice.
    """
    names = [k for k, v in values.items() if len(v)]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(names) + 2), 3.6))
    ax.boxplot([list(values[k]) for k in names], showmeans=True)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=45, ha="right")
    ax.set_ylabel(label)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig, demo)


def bland_altman_plot(
    pred: Sequence[float], ref: Sequence[float], ba: dict[str, Any], title: str, demo: bool
) -> bytes:
    """Difference (prediction - reference) against mean, with bias and limits of agreement."""
    mean = [(p + r) / 2 for p, r in zip(pred, ref, strict=True)]
    diff = [p - r for p, r in zip(pred, ref, strict=True)]
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    ax.scatter(mean, diff, s=18)
    for y, style in ((ba["bias"], "-"), (ba["lower"], "--"), (ba["upper"], "--")):
        ax.axhline(y, linestyle=style, color="grey", linewidth=1)
    ax.set_xlabel("mean of prediction and reference (mL)")
    ax.set_ylabel("prediction - reference (mL)")
    ax.set_title(
        f"{title}: bias {ba['bias']:.1f} mL, LoA [{ba['lower']:.1f}, {ba['upper']:.1f}] mL",
        fontsize=9,
    )
    return _png(fig, demo)


def risk_coverage_plot(confidence: dict[str, Any], demo: bool) -> bytes:
    """Selective risk against coverage of the score, the oracle and a random order, with
    the configured review cut-off marked.

    Parameters
    ----------
    confidence : dict
        The ``confidence`` part of the summary (:func:`pipeline.validate.summary.summarise`).
    demo : bool
        Stamp the demo-model notice.
    """
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    ax.step(
        confidence["coverage"],
        confidence["selective_risk"],
        where="post",
        label=f"confidence score (AURC {confidence['aurc']:.4f})",
    )
    ax.step(
        confidence["oracle_coverage"],
        confidence["oracle_risk"],
        where="post",
        linestyle=":",
        color="green",
        label=f"oracle (AURC {confidence['aurc_optimal']:.4f})",
    )
    ax.axhline(
        confidence["aurc_random"],
        linestyle="--",
        color="grey",
        label=f"random order (expected AURC {confidence['aurc_random']:.4f})",
    )
    cut = confidence["cutoff"]
    if cut["coverage"] > 0:
        ax.plot(
            [cut["coverage"]],
            [cut["risk_accepted"]],
            marker="o",
            color="#b00",
            linestyle="none",
            label=f"review cut-off: score < {cut['score']:g} flags {cut['n_flagged']} "
            f"of {confidence['n']}",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("coverage (fraction of cases accepted)")
    ax.set_ylabel(f"selective risk: {confidence['risk']}")
    ax.legend(fontsize=7)
    return _png(fig, demo)
