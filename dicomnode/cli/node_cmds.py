"""``dicomnode serve`` and ``dicomnode config show|check``: run and inspect the node."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from dicomnode.cli.app import app

if TYPE_CHECKING:
    from dicomnode.config import DicomNodeConfig

config_app = typer.Typer(help="Show or check the effective configuration.", no_args_is_help=True)

UMASK = 0o027
"""Permission bits never given to what the node creates (added to the inherited umask): no
write for the group, nothing for others. Spool, results, logs: 0640 (folders 0750); the
SQLite audit database is narrowed further to 0600 (:mod:`dicomnode.audit.engine`)."""
app.add_typer(config_app, name="config")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML configuration file; DICOMNODE_* environment variables override it. "
        "Without it the embedded defaults are used.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]


def _load(config: Path | None) -> DicomNodeConfig:
    """Load the configuration or exit with status 2 and the offending fields."""
    from dicomnode.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from exc


@app.command("serve")
def serve(config: ConfigOption = None) -> None:
    """Run the node in the foreground (SCP, completion, jobs, outbox); SIGTERM stops it."""
    from dicomnode.composition import build_service
    from dicomnode.logs import configure_logging
    from dicomnode.service import ServiceError, stop_on_signals

    settings = _load(config)
    os.umask(os.umask(UMASK) | UMASK)  # inherited by every process of the node
    configure_logging(settings.log_level)
    stop = stop_on_signals()
    service = build_service(settings)
    try:
        service.run(stop)
    except ServiceError as exc:
        typer.echo(f"dicomnode stopped: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    except OSError as exc:
        typer.echo(f"dicomnode cannot start: {exc}", err=True)
        raise typer.Exit(code=1) from exc


@config_app.command("show")
def config_show(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Print the effective configuration (defaults, file, environment), secrets masked."""
    from dicomnode.config import masked_dump

    data = masked_dump(_load(config))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False))


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the configuration and the files it names (TLS, model folders and
    checkpoints, not hashed); exit 2 when it is not usable."""
    from dicomnode.scp.tls import server_ssl_context
    from pipeline.segment.model_folders import check_config

    settings = _load(config)
    try:
        server_ssl_context(settings.scp.tls)
    except OSError as exc:
        typer.echo(f"invalid configuration:\n  scp.tls: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    problems = [
        p
        for r in check_config(settings.pipeline.segmentation, hash_weights=False)
        if r.used
        for p in r.problems
    ]
    if problems:
        typer.echo(
            "invalid configuration:\n"
            + "\n".join(f"  pipeline.segmentation: {p}" for p in problems)
            + "\n  (details: dicomnode models check)",
            err=True,
        )
        raise typer.Exit(code=2)
    typer.echo("configuration OK")
