"""The writers' warm-up loads what the first SEG and SR of a process would load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHECK = """
import highdicom._standard_utils as standard
import pipeline.encode.seg as seg_module
from pipeline.encode.warm import warm_up
tables = (standard.get_sop_class_iod_map, standard.get_iod_module_map,
          standard.get_module_attribute_map)
fast_builds = []
fast_path = seg_module.binary_seg
seg_module.binary_seg = lambda *a, **k: fast_builds.append(1) or fast_path(*a, **k)
before = [t.cache_info().currsize for t in tables]
seconds = warm_up()
print(before, [t.cache_info().currsize for t in tables], seconds > 0, len(fast_builds))
"""


def test_warm_up_loads_highdicoms_tables_and_runs_the_seg_fast_path() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert out.stdout.split("\n")[0] == "[0, 0, 0] [1, 1, 1] True 1"
