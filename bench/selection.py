"""Benchmark: series selection alone (``select_series``) for two code trees, per phase.

Writes (or reuses) the study of ``bench/e2e.py`` (realistic profile, 512x512: a thin
portal-venous series of ``--slices`` slices plus 5 mm arterial and portal-venous series),
then runs selection on it in a fresh process per tree with ``PYTHONPATH`` set to that tree.
Each phase is timed by wrapping the selector's own steps (the same names in both trees):

- header read: ``read_headers`` (strict check of every file, headers without pixels);
- candidates: grouping into series and stacks (``_candidates``);
- evidence sampling: sampled slices decoded and measured (``_image_evidence``);
- other assessment: geometry checks, thickness, kernel, header phase, scores (the rest of
  ``_assess``);
- ranking: ``rank``;
- chosen-volume decode: ``_read_full`` (the chosen stack's remaining slices);

and pixel decodes are counted at pydicom's decoder (``tests/pixel_decodes.py``, all series
together);
the process's peak resident memory is given too.
The runs' selection results (chosen series, ranking with reasons) are compared.

Not run in CI. Usage::

    python bench/selection.py --base /work/main --new . [--slices 300] [--seed 1]
        [--repeat 3] [--study DICOM_FOLDER]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PHASES = (
    ("read_headers", "header read"),
    ("_candidates", "candidates"),
    ("_image_evidence", "evidence sampling"),
    ("_assess", "other assessment"),
    ("rank", "ranking"),
    ("_read_full", "chosen-volume decode"),
)
"""Selector functions timed, and the row name of each."""


def _write_study(folder: Path, seed: int, slices: int) -> Path:
    """Write the ``bench/e2e.py`` study into ``folder`` unless it is there; its DICOM folder."""
    dicom = folder / "dicom"
    if dicom.is_dir():
        return dicom
    spec = importlib.util.spec_from_file_location("bench_e2e", Path(__file__).with_name("e2e.py"))
    assert spec is not None and spec.loader is not None
    e2e = importlib.util.module_from_spec(spec)
    sys.modules["bench_e2e"] = e2e
    spec.loader.exec_module(e2e)
    from pipeline.synth.study import write_study

    write_study(folder, e2e.realistic_spec(seed, slices), volumes=False)
    return dicom


def _timed(name: str, times: dict[str, float], real: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            times[name] = times.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def worker(study: Path) -> dict[str, Any]:
    """Run selection once in this process (imports from ``PYTHONPATH``); times and result."""
    import pipeline.select.selector as selector
    from pipeline.select.config import SelectionConfig

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pixel_decodes import count_decodes

    times: dict[str, float] = {}
    for name, _ in PHASES:
        setattr(selector, name, _timed(name, times, getattr(selector, name)))
    decodes = count_decodes(setattr)
    start = time.perf_counter()
    result = selector.select_series([study], SelectionConfig())
    total = time.perf_counter() - start
    times["_assess"] -= times.get("_image_evidence", 0.0)
    return {
        "total_s": total,
        "phases_s": times,
        "pixel_decodes": sum(decodes.values()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "shape": list(result.chosen.shape) if result.chosen is not None else None,
        "series": result.to_dict(),
    }


def run_tree(tree: Path, study: Path) -> dict[str, Any]:
    """One selection run with ``PYTHONPATH=tree`` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(tree.resolve()), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", str(study)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout.splitlines()[-1]))


def _median(runs: list[dict[str, Any]], key: str | None) -> float:
    values = [r["total_s"] if key is None else r["phases_s"].get(key, 0.0) for r in runs]
    return statistics.median(values)


def table(base: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    """Side-by-side medians (s) and the ratio new / base."""
    rows = [("phase", "base s", "new s", "new/base")]
    for key, label in [*PHASES, (None, "select total")]:
        b, n = _median(base, key), _median(new, key)
        rows.append((label, f"{b:.3f}", f"{n:.3f}", f"{n / b:.2f}" if b else "-"))
    rows.append(("pixel decodes", str(base[0]["pixel_decodes"]),
                 str(new[0]["pixel_decodes"]), ""))
    b_rss = statistics.median(r["peak_rss_mb"] for r in base)
    n_rss = statistics.median(r["peak_rss_mb"] for r in new)
    rows.append(("peak RSS MB", f"{b_rss:.0f}", f"{n_rss:.0f}", f"{n_rss / b_rss:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = zip(row, widths, strict=True)
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(cells)))
    return "\n".join(lines)


def main() -> None:
    """Command line (see the module description)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base", type=Path, default=Path("/work/main"), help="baseline tree")
    parser.add_argument("--new", type=Path, default=Path("."), help="tree under test")
    parser.add_argument("--slices", type=int, default=300, help="slices of the thin series")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic study")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tree (median)")
    parser.add_argument("--study", type=Path,
                        help="folder of DICOM files to select from, used as it is (default: "
                        "the bench/e2e.py study, written once to a temporary folder)")
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker)))
        return
    study = args.study or _write_study(
        Path(tempfile.gettempdir()) / f"bench-select-{args.seed}-{args.slices}",
        args.seed,
        args.slices,
    )
    base: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for _ in range(args.repeat):  # interleaved, so that load on the machine hits both
        base.append(run_tree(args.base, study))
        new.append(run_tree(args.new, study))
    same = base[0]["series"] == new[0]["series"]
    made = "" if args.study else f" ({args.slices} thin slices, seed {args.seed})"
    print(f"study {study}{made}, median of {args.repeat} run(s) per tree, "
          f"base {args.base} vs new {args.new}")
    print(table(base, new))
    print(f"selection result identical (chosen series, ranking, reasons): {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
