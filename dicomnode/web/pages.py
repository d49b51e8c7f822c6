"""The dashboard's read-only pages: overview, job list, job page, configuration, plots."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam

from dicomnode.audit.errors import JobNotFoundError
from dicomnode.audit.rows import JobDetail, JobState
from dicomnode.config import masked_dump
from dicomnode.scp.watermark import free_bytes
from dicomnode.web.auth import Principal, require_user
from dicomnode.web.context import Dashboard, dashboard
from dicomnode.web.dosimetry_view import dosimetry_view, dvh_image
from dicomnode.web.plan_view import planning_view
from dicomnode.web.plots import delivery_failures_svg, jobs_per_hour_svg, processing_time_svg

router = APIRouter()

User = Annotated[Principal, Depends(require_user)]
Board = Annotated[Dashboard, Depends(dashboard)]

RETRYABLE = (JobState.FAILED, JobState.DEAD_LETTERED, JobState.CANCELLED)
"""States from which an operator may requeue a job."""
CANCELLABLE = (JobState.QUEUED, JobState.FAILED)
"""States from which an operator may cancel a job."""
PLOT_WINDOW_H = 48
"""Hours shown by the time-series plots."""
DEMO_NOTICE = "Demo model — not for clinical use"
JOB_ID_MAX = 2**31 - 1
"""Largest job id: the audit database's integer keys hold no more (PostgreSQL INTEGER)."""
JobId = Annotated[int, PathParam(ge=1, le=JOB_ID_MAX, description="The job's id.")]
SEARCH_TEXT_MAX = 256
"""Longest search text accepted, in characters (UIDs have 64 at most)."""


@router.get("/", name="overview")
def overview(request: Request, user: User, board: Board) -> Response:
    """Service status, queue, jobs by state, associations, spool disk, models, plots."""
    queries = board.queries
    spool_root = board.watermark.root
    return board.render(
        request,
        "overview.html",
        user=user,
        service=queries.last_start_or_stop(),
        service_events=queries.service_events(limit=8),
        queue_depth=queries.queue_depth(),
        jobs_by_state=queries.jobs_by_state(),
        associations=queries.recent_associations(limit=10),
        rejections=queries.recent_associations(rejected_only=True, limit=10),
        spool_root=spool_root,
        spool_free=free_bytes(spool_root),
        spool_problem=board.watermark.problem(),
        watermark=board.watermark.min_free_bytes,
        models=board.models.get(),
        celery=board.config.jobs.backend == "celery",
        broker=board.broker.report() if board.broker is not None else None,
        workers=queries.job_workers(),
        oldest_waiting=queries.oldest_waiting_created_at(),
        now=board.clock(),
    )


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise HTTPException(422, f"not a date (YYYY-MM-DD): {value[:32]!r}") from exc


def _text(name: str, value: str) -> str | None:
    """A search field, stripped (``None`` when empty); control characters (which no
    DICOM identifier holds and PostgreSQL refuses) and overlong values get a 422."""
    value = value.strip()
    if len(value) > SEARCH_TEXT_MAX:
        raise HTTPException(422, f"{name}: at most {SEARCH_TEXT_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise HTTPException(422, f"{name}: control characters are not allowed")
    return value or None


@router.get("/jobs", name="jobs")
def job_list(
    request: Request,
    user: User,
    board: Board,
    patient_id: str = "",
    accession: str = "",
    study_uid: str = "",
    state: str = "",
    date_from: str = "",
    date_to: str = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Jobs matching the search form, newest first."""
    if state and state not in {s.value for s in JobState}:
        raise HTTPException(
            422, f"unknown job state {state[:32]!r}; one of {', '.join(s.value for s in JobState)}"
        )
    first, last = _day(date_from), _day(date_to)
    after_last = None if last is None or last == date.max else last + timedelta(days=1)
    rows = board.audit.list_jobs(
        state=state or None,
        patient_id=_text("Patient ID", patient_id),
        accession_number=_text("Accession Number", accession),
        study_instance_uid=_text("Study Instance UID", study_uid),
        created_from=None if first is None else datetime.combine(first, time(), UTC),
        created_to=None if after_last is None else datetime.combine(after_last, time(), UTC),
        limit=limit,
    )
    search = {
        "patient_id": patient_id,
        "accession": accession,
        "study_uid": study_uid,
        "state": state,
        "date_from": date_from,
        "date_to": date_to,
    }
    return board.render(
        request, "jobs.html", user=user, rows=rows, search=search, states=list(JobState)
    )


def _scalars(data: Any) -> list[tuple[str, Any]]:
    """The scalar (and list-of-scalar) entries of a result section, for a two-column table."""
    if not isinstance(data, dict):
        return []
    found = []
    for key, value in data.items():
        if isinstance(value, str | int | float | bool) or value is None:
            found.append((key, value))
        elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            found.append((key, ", ".join(str(v) for v in value)))
    return found


def _section(result: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = result.get(key)
    return value if isinstance(value, dict) else None


def job_view(detail: JobDetail) -> dict[str, Any]:
    """What the job page shows, taken from the job's rows and its result JSON."""
    result = detail.job.result or {}
    selection = _section(result, "series") or {}
    segmentation = _section(result, "segmentation") or {}
    demo = bool(result.get("notice")) or bool(segmentation.get("demo"))
    sirt = _section(result, "sirt")
    return {
        "selection": selection,
        "ranking": list(selection.get("ranking") or []),
        "confidence": _section(result, "confidence"),
        "warnings": [w for w in result.get("warnings") or [] if isinstance(w, dict)],
        "volumes": {
            key: value
            for key, value in (result.get("volumes_ml") or {}).items()
            if isinstance(value, int | float) or value is None
        },
        "flr": _scalars(result.get("flr")),
        "sirt": _scalars(sirt),
        "sirt_missing": list((sirt or {}).get("missing") or []),
        "stages_s": result.get("stages_s") or {},
        "dosimetry": dosimetry_view(result),
        "demo": demo,
        "demo_notice": DEMO_NOTICE,
        "can_retry": detail.job.state in RETRYABLE
        or any(d.state.value == "dead_lettered" for d in detail.deliveries),
        "can_cancel": detail.job.state in CANCELLABLE,
    }


@router.get("/jobs/{job_id}", name="job")
def job_page(request: Request, job_id: JobId, user: User, board: Board) -> Response:
    """A job's whole audit chain."""
    try:
        detail = board.audit.get_job(job_id)
    except JobNotFoundError as exc:
        raise HTTPException(404, f"no job {job_id}") from exc
    return board.render(
        request,
        "job.html",
        user=user,
        d=detail,
        v=job_view(detail),
        p=planning_view(board, detail),
        dvh=dvh_image(detail) is not None,
        values={},
        errors={},
    )


@router.get("/jobs/{job_id}/dosimetry-dvh.png", name="dosimetry_dvh")
def dosimetry_dvh(job_id: JobId, user: User, board: Board) -> Response:
    """The cumulative DVH plot of the job's image-based dosimetry."""
    try:
        detail = board.audit.get_job(job_id)
    except JobNotFoundError as exc:
        raise HTTPException(404, f"no job {job_id}") from exc
    path = dvh_image(detail)
    if path is None:
        raise HTTPException(404, f"job {job_id} has no dose-volume histogram")
    return Response(path.read_bytes(), media_type="image/png")


@router.get("/config", name="config")
def config_page(request: Request, user: User, board: Board) -> Response:
    """The effective configuration, secrets masked."""
    text = yaml.safe_dump(masked_dump(board.config), sort_keys=False, allow_unicode=True)
    return board.render(request, "config.html", user=user, config_text=text)


@router.get("/plots/jobs-per-hour.svg", name="plot_jobs_per_hour")
def plot_jobs_per_hour(user: User, board: Board) -> Response:
    """Jobs created per hour."""
    now = board.clock()
    times = board.queries.job_times(since=now - timedelta(hours=PLOT_WINDOW_H))
    svg = jobs_per_hour_svg([created for created, _, _ in times], now, hours=PLOT_WINDOW_H)
    return Response(svg, media_type="image/svg+xml")


@router.get("/plots/processing-time.svg", name="plot_processing_time")
def plot_processing_time(user: User, board: Board) -> Response:
    """Distribution of processing times."""
    return Response(
        processing_time_svg(board.queries.processing_times_s()), media_type="image/svg+xml"
    )


@router.get("/plots/delivery-failures.svg", name="plot_delivery_failures")
def plot_delivery_failures(user: User, board: Board) -> Response:
    """Failed sends per hour."""
    now = board.clock()
    failures = board.queries.delivery_failure_times(since=now - timedelta(hours=PLOT_WINDOW_H))
    return Response(
        delivery_failures_svg(failures, now, hours=PLOT_WINDOW_H), media_type="image/svg+xml"
    )
