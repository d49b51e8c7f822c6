"""``dicomnode worker`` (a Celery worker on a worker machine) and ``dicomnode rush ID``."""

from __future__ import annotations

import getpass
import logging
import os
from typing import Annotated

import typer

from dicomnode.cli.app import app
from dicomnode.cli.node_cmds import UMASK, ConfigOption, _load


@app.command("worker")
def worker_command(
    config: ConfigOption = None,
    concurrency: Annotated[
        int,
        typer.Option(min=1, help="Pool processes: jobs run at the same time (one per GPU)."),
    ] = 1,
    queues: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated broker queues to consume (default: jobs.queue)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Worker name recorded with its jobs (default: the host name)."),
    ] = None,
) -> None:
    """Run a Celery worker for ``jobs.backend: celery``: takes jobs from the broker, runs
    them with the models loaded once per pool process, records them in the audit database.
    SIGTERM: finishes the running jobs, then stops."""
    from dicomnode.jobs.celery_app import queue_names
    from dicomnode.jobs.celery_worker import build_worker_app, default_worker_name
    from dicomnode.logs import configure_logging

    settings = _load(config)
    if settings.jobs.backend != "celery":
        typer.echo("dicomnode worker needs jobs.backend: celery in the configuration", err=True)
        raise typer.Exit(code=2)
    os.umask(os.umask(UMASK) | UMASK)
    configure_logging(settings.log_level)
    spool = settings.spool.path.resolve()
    if not spool.is_dir():
        logging.getLogger(__name__).warning(
            "the spool %s is not visible here: mount the node's shared storage (jobs fail "
            "until it is)",
            spool,
        )
    worker_name = name or default_worker_name()
    consumed = [q for q in (queues or "").split(",") if q] or list(queue_names(settings.jobs))
    celery_app = build_worker_app(
        settings, name=worker_name, queues=consumed, concurrency=concurrency
    )
    celery_app.worker_main(
        [
            "worker",
            f"--hostname={worker_name}@%h",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={','.join(consumed)}",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            f"--loglevel={settings.log_level}",
        ]
    )


@app.command("rush")
def rush_command(
    job_id: Annotated[int, typer.Argument(min=1, help="Job id (see `dicomnode jobs`).")],
    config: ConfigOption = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Who asks (default: login), recorded.")
    ] = None,
) -> None:
    """Run a waiting job next (``jobs.backend: celery``): it is published again at the
    highest priority at the node's next pass. Exits 1 when the job is not waiting."""
    from dicomnode.audit.errors import JobNotFoundError, JobStateError
    from dicomnode.composition import build_audit_log

    settings = _load(config)
    if settings.jobs.backend != "celery":
        typer.echo("dicomnode rush needs jobs.backend: celery", err=True)
        raise typer.Exit(code=2)
    audit = build_audit_log(settings)
    try:
        audit.rush_job(job_id, by_user=user or getpass.getuser())
    except (JobNotFoundError, JobStateError) as exc:
        typer.echo(f"cannot rush job {job_id}: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        audit.dispose()
    typer.echo(f"job {job_id} rushed: published at the highest priority at the next pass")
