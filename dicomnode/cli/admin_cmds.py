"""Administration commands: ``jobs``, ``job ID``, ``retry ID`` and ``db upgrade``.

They open the audit database named by ``--db-url``, or else by the configuration
(``--config FILE`` plus ``DICOMNODE_*`` environment overrides, see ``dicomnode config
show``). The tables show patient identifiers: they are for authorised administrators on
the node itself; nothing here writes PHI to a log.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from dicomnode.audit.errors import JobNotFoundError, JobStateError
from dicomnode.audit.rows import JobDetail, JobState
from dicomnode.cli.app import app

if TYPE_CHECKING:
    from dicomnode.audit.log import AuditLog

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", exists=True, dir_okay=False, help="YAML configuration file."),
]
DbUrlOpt = Annotated[
    str | None,
    typer.Option("--db-url", help="Audit database URL (overrides the configuration)."),
]
JobIdArg = Annotated[int, typer.Argument(min=1, help="Job id (see `dicomnode jobs`).")]

_STATE_STYLE = {
    JobState.QUEUED: "cyan",
    JobState.RUNNING: "blue",
    JobState.SUCCEEDED: "green",
    JobState.REJECTED: "yellow",
    JobState.FAILED: "red",
    JobState.DEAD_LETTERED: "bold red",
    JobState.CANCELLED: "dim",
}

db_app = typer.Typer(help="Audit database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _open(config: Path | None, db_url: str | None, *, need_schema: bool = True) -> AuditLog:
    """Open the audit database; exit 1 with advice when it has no schema yet."""
    from sqlalchemy import inspect

    audit = _connect(config, db_url)
    if need_schema and not inspect(audit.engine).has_table("jobs"):
        audit.dispose()
        Console(stderr=True).print(
            "the audit database has no tables yet: run `dicomnode db upgrade` first"
        )
        raise typer.Exit(1)
    return audit


def _connect(config: Path | None, db_url: str | None) -> AuditLog:
    # Imported here so that `dicomnode --help` does not load SQLAlchemy.
    from dicomnode.audit.log import AuditLog
    from dicomnode.config import ConfigError, load_config

    try:
        settings = load_config(config)
    except ConfigError as exc:
        if db_url is None:
            raise typer.BadParameter(str(exc), param_hint="--config") from exc
        return AuditLog.from_url(db_url)
    audit = settings.audit
    return AuditLog.from_url(
        db_url or audit.url,
        max_job_attempts=settings.jobs.max_attempts,
        busy_timeout_s=audit.busy_timeout_s,
        pool_size=audit.pool_size,
        max_overflow=audit.max_overflow,
    )


def _time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _state(state: JobState) -> str:
    style = _STATE_STYLE[state]
    return f"[{style}]{state.value}[/{style}]"


@app.command("jobs")
def jobs_command(
    state: Annotated[
        JobState | None, typer.Option("--state", help="Only jobs in this state.")
    ] = None,
    patient_id: Annotated[str | None, typer.Option("--patient-id", help="PatientID.")] = None,
    accession: Annotated[str | None, typer.Option("--accession", help="AccessionNumber.")] = None,
    study_uid: Annotated[str | None, typer.Option("--study-uid", help="StudyInstanceUID.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """List jobs, newest first."""
    audit = _open(config, db_url)
    try:
        rows = audit.list_jobs(
            state=state.value if state else None,
            patient_id=patient_id,
            accession_number=accession,
            study_instance_uid=study_uid,
            limit=limit,
        )
    finally:
        audit.dispose()
    table = Table(title=f"Jobs ({len(rows)})")
    table.add_column("ID", no_wrap=True, min_width=3, justify="right")
    table.add_column("State", no_wrap=True, min_width=13)
    for column in ("Tries", "Created", "PatientID", "Accession", "StudyDate"):
        table.add_column(column, no_wrap=True)
    table.add_column("Series", justify="right")
    table.add_column("Error", overflow="fold")
    for row in rows:
        job = row.job
        table.add_row(
            str(job.id),
            _state(job.state),
            f"{job.attempts}/{job.max_attempts}",
            _time(job.created_at),
            row.patient_id or "",
            row.accession_number or "",
            row.study_date or "",
            str(len(job.series_instance_uids)),
            (job.error or "")[:80],
        )
    Console().print(table)


def _render(detail: JobDetail, console: Console) -> None:
    job, study = detail.job, detail.study
    console.print(
        f"[bold]Job {job.id}[/bold]  {_state(job.state)}  attempts {job.attempts}/"
        f"{job.max_attempts}  worker {job.worker or '-'}"
    )
    console.print(
        f"  created {_time(job.created_at)}  started {_time(job.started_at)}  "
        f"finished {_time(job.finished_at)}  calling AE {job.calling_ae or '-'}"
    )
    if job.error:
        console.print(f"  [red]error:[/red] {job.error}")
    console.print(f"  StudyInstanceUID {job.study_instance_uid}")
    if study is not None:
        console.print(
            f"  PatientID {study.patient_id or '-'}  PatientName "
            f"{study.patient_name or '-'}  Accession {study.accession_number or '-'}"
            f"  StudyDate {study.study_date or '-'}  {study.study_description or ''}"
        )
    series = Table(title="Input series")
    for column in ("SeriesInstanceUID", "Modality", "No.", "Description", "Instances"):
        series.add_column(column)
    for s in detail.series:
        series.add_row(
            s.series_instance_uid,
            s.modality or "",
            s.series_number or "",
            s.series_description or "",
            str(s.instance_count),
        )
    console.print(series)
    console.print(
        f"  {len(detail.instances)} input instances "
        f"({sum(i.size_bytes for i in detail.instances)} bytes)"
    )
    events = Table(title="Events")
    for column in ("Time", "Try", "Stage", "Message", "Duration s"):
        events.add_column(column)
    for e in detail.events:
        duration = "" if e.duration_s is None else f"{e.duration_s:.2f}"
        events.add_row(_time(e.occurred_at), str(e.attempt), e.stage, e.message, duration)
    console.print(events)
    model = (job.result or {}).get("model")
    if model is not None:
        console.print(f"  model provenance: {model}")
    outputs = Table(title="Outputs")
    for column in ("ID", "Try", "Kind", "SOPInstanceUID", "Path"):
        outputs.add_column(column)
    for o in detail.outputs:
        outputs.add_row(str(o.id), str(o.version), o.kind.value, o.sop_instance_uid, o.path)
    console.print(outputs)
    deliveries = Table(title="Deliveries")
    for column in ("Output", "Destination", "State", "Sends", "Last status", "Detail", "Next"):
        deliveries.add_column(column)
    for d in detail.deliveries:
        deliveries.add_row(
            str(d.output_id),
            d.destination,
            d.state.value,
            str(d.attempts),
            d.last_status or "",
            d.last_detail or "",
            _time(d.next_attempt_at),
        )
    console.print(deliveries)
    for action in detail.admin_actions:
        console.print(
            f"  {_time(action.occurred_at)} {action.user}: {action.action} {action.detail}"
        )


@app.command("job")
def job_command(job_id: JobIdArg, config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
    """Show a job's whole audit chain: inputs, events, model, outputs, deliveries."""
    audit = _open(config, db_url)
    try:
        detail = audit.get_job(job_id)
    except JobNotFoundError:
        Console(stderr=True).print(f"no job {job_id}")
        raise typer.Exit(1) from None
    finally:
        audit.dispose()
    _render(detail, Console())


@app.command("retry")
def retry_command(
    job_id: JobIdArg,
    user: Annotated[
        str | None, typer.Option("--user", help="Administrator recorded (default: login).")
    ] = None,
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """Requeue a failed/dead-lettered/cancelled job, or re-arm its dead-lettered deliveries.

    The running service picks the job or the deliveries up at its next poll. Exits 1 when
    there is nothing to retry.
    """
    by_user = user or getpass.getuser()
    console = Console()
    audit = _open(config, db_url)
    try:
        state = audit.get_job(job_id).job.state
        requeued = state in (JobState.FAILED, JobState.DEAD_LETTERED, JobState.CANCELLED)
        if requeued:
            audit.requeue_job(job_id, by_user=by_user)
            console.print(f"job {job_id} requeued (was {state.value})")
        rearmed = audit.rearm_deliveries(job_id, by_user=by_user)
        if rearmed:
            console.print(f"job {job_id}: {rearmed} dead-lettered deliveries re-armed")
    except (JobNotFoundError, JobStateError) as exc:
        Console(stderr=True).print(f"cannot retry job {job_id}: {exc}")
        raise typer.Exit(1) from None
    finally:
        audit.dispose()
    if not requeued and not rearmed:
        console.print(
            f"job {job_id} is {state.value} with no dead-lettered deliveries: nothing to retry"
        )
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade_command(config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
    """Apply pending schema migrations to the audit database (Alembic ``upgrade head``)."""
    from dicomnode.audit import migrate

    audit = _open(config, db_url, need_schema=False)
    try:
        before = migrate.current_revision(audit.engine)
        audit.upgrade()
        after = migrate.current_revision(audit.engine)
    finally:
        audit.dispose()
    Console().print(f"audit database at revision {after} (was {before or 'empty'})")
