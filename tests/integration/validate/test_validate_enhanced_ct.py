"""``dicomnode validate`` on a study whose CT series are Enhanced CT (multi-frame) gives the
same figures as on the single-frame original: same series chosen, same volume, same
segmentation (demo model, one fold)."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dicomnode.cli import app

sys.path.insert(0, str(Path(__file__).parents[2]))
from enhanced_ct import enhanced, write

pytestmark = pytest.mark.slow

FAST_CONFIG = """\
pipeline:
  segmentation:
    models: {demo: {folds: [0]}}
    tile_step_size: 1.0
"""
CASE = "synth_5100"


def _validate(cases: Path, out: Path, config: Path, *extra: str) -> None:
    result = CliRunner().invoke(app, ["validate", str(cases), "--out", str(out), "--config",
                                      str(config), "--bootstrap", "50", "--no-progress",
                                      *extra])
    assert result.exit_code == 0, result.output
    assert "1 of 1 cases measured" in result.output, result.output


def _rows(path: Path, drop: tuple[str, ...] = ()) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(fh)]


def _to_enhanced(case: Path) -> int:
    """Replace every axial series of a synthetic study by one Enhanced CT instance."""
    converted = 0
    for entry in json.loads((case / "truth" / "series.json").read_text(encoding="utf-8")):
        if entry["kind"] == "axial":
            folder = case / entry["folder"]
            image = enhanced(folder)
            shutil.rmtree(folder)
            write(image, folder)
            converted += 1
    return converted


def test_enhanced_ct_study_gives_the_single_frame_figures(tmp_path: Path) -> None:
    config = tmp_path / "fast.yaml"
    config.write_text(FAST_CONFIG)
    single, multi = tmp_path / "single", tmp_path / "enhanced"
    _validate(single, tmp_path / "out_single", config, "--synthetic", "1",
              "--synthetic-seed", "5100")
    shutil.copytree(single, multi)
    assert _to_enhanced(multi / CASE) >= 5
    _validate(multi, tmp_path / "out_enhanced", config)
    for name in ("metrics.csv", "lesions.csv"):
        expected = _rows(tmp_path / "out_single" / name)
        assert expected and _rows(tmp_path / "out_enhanced" / name) == expected, name
    cases = _rows(tmp_path / "out_enhanced" / "cases.csv", drop=("seconds",))
    assert cases == _rows(tmp_path / "out_single" / "cases.csv", drop=("seconds",))
    assert cases[0]["status"] == "ok"
