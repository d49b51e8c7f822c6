"""``dicomnode select FOLDER [--json]``."""

from __future__ import annotations

import json

from select_ctfactory import SeriesSpec, axial_slices, write_series
from typer.testing import CliRunner

from dicomnode.cli import app


def test_select_command_json_and_table(tmp_path):
    write_series(tmp_path / "pv", axial_slices(), SeriesSpec(description="Abdomen PV"))
    write_series(tmp_path / "art", axial_slices(), SeriesSpec(description="Abdomen art",
                                                             phase="arterial", series_number=2))
    runner = CliRunner()
    result = runner.invoke(app, ["select", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["phase"]["phase"] == "portal_venous"
    assert [r["series_description"] for r in data["ranking"]] == ["Abdomen PV", "Abdomen art"]
    table = runner.invoke(app, ["select", str(tmp_path)])
    assert table.exit_code == 0
    assert "Chosen:" in table.output and data["chosen_series_instance_uid"] in table.output


def test_select_command_nothing_chosen_exits_zero(tmp_path):
    (tmp_path / "x.txt").write_text("no dicom here")
    result = CliRunner().invoke(app, ["select", str(tmp_path)])
    assert result.exit_code == 0
    assert "Nothing chosen" in result.output
