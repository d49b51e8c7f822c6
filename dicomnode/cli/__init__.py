"""Command-line entry point ``dicomnode``.

Each command lives in its own module below and attaches itself to :data:`app`; importing a
module registers its commands. Heavy libraries (torch, nnU-Net) are imported inside the
commands that need them, so ``dicomnode --help`` stays fast.
"""

from dicomnode.cli import commands_registry  # noqa: F401  (registers every command)
from dicomnode.cli.app import app


def main() -> None:
    """Run the ``dicomnode`` command line."""
    app()
