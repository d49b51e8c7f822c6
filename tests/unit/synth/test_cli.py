"""``dicomnode synth`` command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dicomnode.cli import app


def test_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "out"), "--profile", "huge"])
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_help_names_the_interface() -> None:
    result = CliRunner().invoke(app, ["synth", "--help"])
    assert result.exit_code == 0
    assert "--seed" in result.output and "--profile" in result.output
