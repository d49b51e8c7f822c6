"""Imports every command module so that its commands attach to the application.

Add one import line per command module.
"""
from dicomnode.cli import admin_cmds  # noqa: F401
from dicomnode.cli import net_cmds  # noqa: F401
from dicomnode.cli import node_cmds  # noqa: F401
from dicomnode.cli import plan_cmd  # noqa: F401
from dicomnode.cli import run_cmd  # noqa: F401
from dicomnode.cli import segment_cmd  # noqa: F401
from dicomnode.cli import select_cmd  # noqa: F401
from dicomnode.cli import synth_cmd  # noqa: F401
