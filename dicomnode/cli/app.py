"""The ``dicomnode`` Typer application that every command module attaches itself to."""

import typer

app = typer.Typer(
    name="dicomnode",
    help="DICOM node for liver oncology (demo model: not for clinical use).",
    no_args_is_help=True,
    add_completion=False,
)
