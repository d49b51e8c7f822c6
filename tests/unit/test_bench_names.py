"""A benchmark script's folder comes first on ``sys.path`` when it runs, so a script named
like one of our packages or a standard-library module hides that module from every other
benchmark (``bench/pipeline.py`` once broke ``python bench/e2e.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench"


def test_no_benchmark_hides_a_module() -> None:
    names = {p.stem for p in BENCH.glob("*.py")}
    assert names, "no benchmark found"
    hidden = names & ({"pipeline", "dicomnode", "tests"} | set(sys.stdlib_module_names))
    assert not hidden
