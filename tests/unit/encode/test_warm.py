"""The writers' warm-up loads what the first SEG and SR of a process would load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHECK = """
import highdicom._standard_utils as standard
from pipeline.encode.warm import warm_up
tables = (standard.get_sop_class_iod_map, standard.get_iod_module_map,
          standard.get_module_attribute_map)
before = [t.cache_info().currsize for t in tables]
seconds = warm_up()
print(before, [t.cache_info().currsize for t in tables], seconds > 0)
"""


def test_warm_up_loads_highdicoms_tables_in_a_fresh_process() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert out.stdout.split("\n")[0] == "[0, 0, 0] [1, 1, 1] True"
