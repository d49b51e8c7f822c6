"""Benchmark: ``dicomnode run`` on one study for two code trees, stage times and peak memory.

Each tree runs the pipeline as ``dicomnode run STUDY --out OUT/<name>`` does (default
configuration, :func:`pipeline.run.study.run_study`) in a fresh process with ``PYTHONPATH``
set to the tree. That process reads its peak resident set size (``VmHWM``) at the end of
every stage and resets it (``/proc/self/clear_refs``), so each stage's peak is its own
(what runs between two stages counts towards the next one); ``startup`` is the imports and
the model check before the first stage, and the process's peak is the largest of them —
what ``/usr/bin/time -v`` reports for ``dicomnode run``. Linux only.

The stage table (``stages_s`` and ``segmentation.timings_s`` of ``result.json``, and each
stage's peak) is printed side by side with the ratios new / base. The two runs' outputs
are compared: ``result.json`` (timings and paths left out) and the pixel data of every
DICOM object written.

Not run in CI. Usage::

    dicomnode synth /tmp/s11 --profile realistic --seed 11     # 454-slice thin series
    dicomnode synth /tmp/s59 --profile realistic --seed 59     # 640-slice thin series
    python bench/study.py /tmp/s11/dicom --base /work/main --new . [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pydicom

_TIMING_KEYS = {"stages_s", "timings_s"}

_PROBE = """
import json, sys
from pathlib import Path

def peak_gb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e6
    raise RuntimeError("no VmHWM in /proc/self/status")

def reset():
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")

from dicomnode.config import load_config
from pipeline.run.study import run_study
from pipeline.segment.engine import SegmentationEngine

config = load_config(None).pipeline
engine = SegmentationEngine(config.segmentation)
engine.verify()
peaks = {"startup": peak_gb()}
reset()

def on_stage(name, seconds, message):
    peaks[name] = peak_gb()
    reset()

run_study([Path(sys.argv[1])], Path(sys.argv[2]), config, engine=engine, run_id="cli",
          on_stage=on_stage)
peaks["after the stages"] = peak_gb()
print(json.dumps(peaks))
"""


def run_tree(tree: Path, study: Path, out: Path) -> dict[str, Any]:
    """Run the pipeline from ``tree`` on ``study``; wall time, peak RSS and stage times.

    Returns
    -------
    dict
        ``wall_s`` (the process, s), ``peak_rss_gb`` (the process, GB), ``stage_peak_gb``
        (stage -> GB), ``stages`` (stage -> s) and the ``result`` document.
    """
    env = {**os.environ, "PYTHONPATH": str(tree.resolve()), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(study), str(out)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{tree}: the pipeline failed:\n{proc.stderr[-4000:]}")
    peaks: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    result = json.loads((out / "result.json").read_text())
    stages = dict(result.get("stages_s", {}))
    for name, value in (result.get("segmentation") or {}).get("timings_s", {}).items():
        stages[f"segment.{name}"] = value
    return {
        "wall_s": wall,
        "peak_rss_gb": max(peaks.values()),
        "stage_peak_gb": peaks,
        "stages": stages,
        "result": result,
    }


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if k not in _TIMING_KEYS}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("/"):
        return "<path>"
    return obj


def different_pixels(base: Path, new: Path) -> list[str]:
    """Names of the DICOM files whose pixel data differ between two output folders (or
    that only one of them has)."""
    names = {p.name for p in base.glob("*.dcm")} | {p.name for p in new.glob("*.dcm")}
    out = []
    for name in sorted(names):
        if not (base / name).exists() or not (new / name).exists():
            out.append(name)
            continue
        a, b = (pydicom.dcmread(d / name) for d in (base, new))
        if a.get("PixelData") != b.get("PixelData"):
            out.append(name)
    return out


def _ratio(a: float | None, b: float | None) -> str:
    return f"{b / a:.2f}" if a and b is not None else ""


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def table(base: dict[str, Any], new: dict[str, Any]) -> str:
    """The side-by-side table: stage time (s) and stage peak RSS (GB), ratios new / base."""
    rows = [("stage", "base s", "new s", "new/base", "base GB", "new GB", "new/base")]
    names = list(dict.fromkeys([*base["stage_peak_gb"], *base["stages"], *new["stages"]]))
    for name in names:
        a, b = base["stages"].get(name), new["stages"].get(name)
        pa, pb = base["stage_peak_gb"].get(name), new["stage_peak_gb"].get(name)
        rows.append((name, _num(a), _num(b), _ratio(a, b), _num(pa), _num(pb), _ratio(pa, pb)))
    rows.append(
        (
            "process",
            _num(base["wall_s"]),
            _num(new["wall_s"]),
            _ratio(base["wall_s"], new["wall_s"]),
            _num(base["peak_rss_gb"]),
            _num(new["peak_rss_gb"]),
            _ratio(base["peak_rss_gb"], new["peak_rss_gb"]),
        )
    )
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, width, strict=True))
        )
        for r in rows
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="folder of DICOM files")
    parser.add_argument("--base", type=Path, required=True, help="code tree of the baseline")
    parser.add_argument("--new", type=Path, required=True, help="code tree to compare")
    parser.add_argument("--out", type=Path, default=None, help="output folder (temp if not)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="dicomnode-bench-study-"))
    base = run_tree(args.base, args.study.resolve(), (out / "base").resolve())
    new = run_tree(args.new, args.study.resolve(), (out / "new").resolve())
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    print(table(base, new))
    same = _clean(base["result"]) == _clean(new["result"])
    print(f"result.json equal (timings and paths left out): {same}")
    differ = different_pixels(out / "base", out / "new")
    print(f"DICOM pixel data equal: {not differ}" + (f" (differ: {differ})" if differ else ""))
    print(
        json.dumps(
            {
                "base": {k: v for k, v in base.items() if k != "result"},
                "new": {k: v for k, v in new.items() if k != "result"},
                "result_equal": same,
                "pixel_data_differ": differ,
            }
        )
    )


if __name__ == "__main__":
    main()
