"""The selection tests' CT writer (tests/unit/select) is importable here too."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "select"))
