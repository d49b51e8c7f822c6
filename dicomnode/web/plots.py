"""Server-side plots for the overview page, rendered with matplotlib to SVG.

Figures are built with the object API (no pyplot state), so rendering is safe from the web
server's worker threads.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

FIGURE_SIZE_IN = (7.0, 2.6)
"""Width and height of every plot, in inches."""


def _hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _hours(now: datetime, hours: int) -> list[datetime]:
    last = _hour(now)
    return [last - timedelta(hours=hours - 1 - index) for index in range(hours)]


def _svg(figure: Figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue()


def jobs_per_hour_svg(created: Sequence[datetime], now: datetime, *, hours: int = 48) -> bytes:
    """Bar chart of jobs created per hour over the last ``hours`` hours (UTC)."""
    slots = _hours(now, hours)
    x = date2num(slots)
    counts = Counter(_hour(value) for value in created)
    figure = Figure(figsize=FIGURE_SIZE_IN)
    axes = figure.add_subplot()
    axes.bar(x, [counts.get(slot, 0) for slot in slots], width=1 / 24 * 0.9, align="edge",
             color="#3b6ea5")
    axes.set_ylim(bottom=0, top=max([1, *counts.values()]) * 1.1)
    axes.set_title(f"Jobs per hour (last {hours} h, UTC)", fontsize=10)
    axes.set_ylabel("jobs")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.xaxis_date()
    figure.autofmt_xdate()
    return _svg(figure)


def processing_time_svg(durations_s: Sequence[float]) -> bytes:
    """Histogram of job processing times (last attempt, start to finish), in seconds."""
    figure = Figure(figsize=FIGURE_SIZE_IN)
    axes = figure.add_subplot()
    if durations_s:
        axes.hist(durations_s, bins=min(30, max(5, len(durations_s))), color="#4a8f5b")
    else:
        axes.text(0.5, 0.5, "no finished jobs yet", ha="center", va="center",
                  transform=axes.transAxes)
    axes.set_title(f"Processing time distribution ({len(durations_s)} jobs)", fontsize=10)
    axes.set_xlabel("seconds")
    axes.set_ylabel("jobs")
    return _svg(figure)


def delivery_failures_svg(
    failures: Sequence[tuple[datetime, str]], now: datetime, *, hours: int = 48
) -> bytes:
    """Stacked bars of failed sends per hour (transient and permanent)."""
    slots = _hours(now, hours)
    x = date2num(slots)
    figure = Figure(figsize=FIGURE_SIZE_IN)
    axes = figure.add_subplot()
    bottom = [0] * len(slots)
    for status, colour in (("transient", "#e0a030"), ("permanent", "#c03030")):
        counts = Counter(_hour(at) for at, kind in failures if kind == status)
        values = [counts.get(slot, 0) for slot in slots]
        axes.bar(x, values, bottom=bottom, width=1 / 24 * 0.9, align="edge", color=colour,
                 label=status)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_ylim(bottom=0, top=max([1, *bottom]) * 1.1)
    axes.set_title(f"Delivery failures per hour (last {hours} h, UTC)", fontsize=10)
    axes.set_ylabel("failed sends")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=8, loc="upper left")
    axes.xaxis_date()
    figure.autofmt_xdate()
    return _svg(figure)
