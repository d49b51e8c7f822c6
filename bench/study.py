"""Benchmark: ``dicomnode run`` on one study for two code trees, stage times and peak memory.

Each tree runs ``python -m dicomnode run STUDY --out OUT/<name>`` in a fresh process with
``PYTHONPATH`` set to the tree, under ``/usr/bin/time -v`` (the whole process's peak resident
memory, as the issue measures it). The stage table comes from ``result.json`` (``stages_s``
and ``segmentation.timings_s``) and is printed side by side with the ratio new / base.
The two runs' ``result.json`` are also compared (timings and paths left out).

Not run in CI. Usage::

    dicomnode synth /tmp/s11 --profile realistic --seed 11
    python bench/study.py /tmp/s11/dicom --base /work/main --new . [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_TIMING_KEYS = {"stages_s", "timings_s"}


def _field(text: str, pattern: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"/usr/bin/time -v printed no {pattern!r}")
    return found[1]


def run_tree(tree: Path, study: Path, out: Path) -> dict[str, Any]:
    """Run the pipeline from ``tree`` on ``study``; wall time, peak RSS and stage times.

    Returns
    -------
    dict
        ``wall_s``, ``peak_rss_gb``, ``stages`` (stage -> s) and the ``result`` document.
    """
    env = {**os.environ, "PYTHONPATH": str(tree.resolve()), "OMP_NUM_THREADS": "1"}
    cmd = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "dicomnode",
        "run",
        str(study),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    rss_kb = int(_field(proc.stderr, r"Maximum resident set size \(kbytes\): (\d+)"))
    wall = _field(proc.stderr, r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)")
    seconds = sum(float(p) * 60**i for i, p in enumerate(reversed(wall.split(":"))))
    result = json.loads((out / "result.json").read_text())
    stages = dict(result.get("stages_s", {}))
    for name, value in (result.get("segmentation") or {}).get("timings_s", {}).items():
        stages[f"segment.{name}"] = value
    return {"wall_s": seconds, "peak_rss_gb": rss_kb / 1e6, "stages": stages, "result": result}


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if k not in _TIMING_KEYS}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("/"):
        return "<path>"
    return obj


def table(base: dict[str, Any], new: dict[str, Any]) -> str:
    """The side-by-side table (s and GB, ratio new / base)."""
    rows = [("stage", "base", "new", "new/base")]
    names = list(dict.fromkeys([*base["stages"], *new["stages"]]))
    pairs = [(n, base["stages"].get(n), new["stages"].get(n)) for n in names]
    pairs += [
        ("wall (process)", base["wall_s"], new["wall_s"]),
        ("peak RSS GB", base["peak_rss_gb"], new["peak_rss_gb"]),
    ]
    for name, a, b in pairs:
        ratio = f"{b / a:.2f}" if a and b is not None else ""
        rows.append((name, "" if a is None else f"{a:.2f}", "" if b is None else f"{b:.2f}", ratio))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
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
    out = args.out or Path(tempfile.mkdtemp(prefix="dicomnode-bench-pipeline-"))
    base = run_tree(args.base, args.study, out / "base")
    new = run_tree(args.new, args.study, out / "new")
    print(table(base, new))
    same = _clean(base["result"]) == _clean(new["result"])
    print(f"result.json equal (timings and paths left out): {same}")
    print(
        json.dumps(
            {
                "base": {k: v for k, v in base.items() if k != "result"},
                "new": {k: v for k, v in new.items() if k != "result"},
                "result_equal": same,
            }
        )
    )


if __name__ == "__main__":
    main()
