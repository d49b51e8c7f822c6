"""Imports every command module so that its commands attach to the application.

Add each new command module to the import below (kept sorted).
"""
from dicomnode.cli import (
    admin_cmds,
    demo_cmd,
    models_cmd,
    net_cmds,
    node_cmds,
    plan_cmd,
    run_cmd,
    segment_cmd,
    select_cmd,
    synth_cmd,
    validate_cmd,
    web_cmds,
    worker_cmds,
)
