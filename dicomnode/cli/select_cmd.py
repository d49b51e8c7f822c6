"""``dicomnode select``: which series of a folder would be segmented, and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from dicomnode.cli.app import app

if TYPE_CHECKING:
    from pipeline.select.selector import SelectionResult


@app.command("select")
def select_command(
    folder: Annotated[
        Path, typer.Argument(exists=True, help="Folder of DICOM files (searched recursively).")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the selection as JSON (result.json 'series').")
    ] = False,
) -> None:
    """Show the series that would be chosen from FOLDER, the full ranking and the reasons.

    Uses the default selection rules (``SelectionConfig()``). Exits 0 also when nothing is
    chosen (the reason is printed); only a failure of the program exits non-zero.
    """
    from pipeline.select.config import SelectionConfig
    from pipeline.select.selector import select_series

    result = select_series([folder], SelectionConfig())
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    _print_table(result)


def _print_table(result: SelectionResult) -> None:
    console = Console()
    table = Table(title="Series ranking (best first)")
    for column in ("#", "Series", "Description", "Stack", "Slices", "Phase", "Thick mm",
                   "Kernel", "Score", "Accepted", "Reasons"):
        table.add_column(column, overflow="fold")
    for k, r in enumerate(result.ranking, start=1):
        table.add_row(
            str(k), str(r.series_number), r.series_description, r.stack, str(r.n_slices),
            f"{r.phase} ({r.phase_confidence:.2f})",
            "" if r.slice_thickness_mm is None else f"{r.slice_thickness_mm:g}",
            f"{r.kernel} ({r.kernel_class})", f"{r.score:.1f}", "yes" if r.accepted else "no",
            "\n".join(r.reasons),
        )
    console.print(table)
    if result.chosen is None:
        console.print(f"[bold yellow]Nothing chosen:[/] {result.rejection_reason}")
        return
    console.print(f"[bold green]Chosen:[/] {result.chosen_series_uid} {result.chosen_stack}")
    if result.phase is not None:
        console.print(f"Phase: {result.phase.phase.value} ({result.phase.confidence:.2f}, "
                      f"{result.phase.source})")
        for line in result.phase.evidence:
            console.print(f"  - {line}")
    if result.coverage is not None:
        console.print(f"Liver coverage: {result.coverage.status}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
