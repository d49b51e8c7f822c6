"""The planner's workflow on a succeeded job: enter inputs, review the plan, approve it.

``POST /jobs/{id}/plan/review`` checks the inputs (:func:`~dicomnode.planning.inputs.
plan_inputs`; per-field errors, nothing written) and shows the computed plan
(:func:`~dicomnode.planning.versions.compute_plan`) beside the newest version.
``POST /jobs/{id}/plan/approve`` computes it again from the same inputs, refuses if another
version was written since the review, writes version N
(:func:`~dicomnode.planning.versions.write_plan`), records the approval and hands the new SR
and PDF to the outbox (:meth:`~dicomnode.audit.delivery_records.DeliveryRecords.
record_plan_outputs`). Both need the planner role and the session's CSRF token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from dicomnode.audit.errors import JobNotFoundError, JobStateError
from dicomnode.audit.rows import JobDetail
from dicomnode.audit.store import job_target
from dicomnode.planning.approval import approve_written_plan
from dicomnode.planning.inputs import (
    PlanInputError,
    plan_inputs,
)
from dicomnode.planning.versions import (
    PlanConflictError,
    PlanPreview,
    compute_plan,
    result_versions,
    write_plan,
)
from dicomnode.web.auth import CSRF_FIELD, Principal, check_csrf, require_planner, require_user
from dicomnode.web.context import Dashboard, dashboard
from dicomnode.web.overlays import territory_overlays
from dicomnode.web.pages import JobId
from dicomnode.web.plan_view import (
    OVERLAY_COUNT,
    compare_rows,
    plan_summary,
    planning_view,
    result_folder,
)
from pipeline.durable import atomic_write

router = APIRouter()

Planner = Annotated[Principal, Depends(require_planner)]
User = Annotated[Principal, Depends(require_user)]
Board = Annotated[Dashboard, Depends(dashboard)]
EXPECTED_VERSION = "expected_version"
"""Form field of the approve button: the version number the reviewed plan would get."""


def _detail(board: Dashboard, job_id: int) -> JobDetail:
    try:
        return board.audit.get_job(job_id)
    except JobNotFoundError as exc:
        raise HTTPException(404, f"no job {job_id}") from exc


def _folder(detail: JobDetail) -> Path:
    folder = result_folder(detail)
    if folder is None:
        raise HTTPException(
            409, f"job {detail.job.id} has no result to re-plan (state {detail.job.state.value})"
        )
    return folder


async def _values(request: Request) -> dict[str, str]:
    """The form's text fields; refuses (403) a form without the session's CSRF token."""
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    check_csrf(request, values.get(CSRF_FIELD, ""))
    return values


def _page(
    request: Request,
    board: Board,
    detail: JobDetail,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    preview: PlanPreview | None = None,
    status_code: int = 200,
) -> Response:
    """The planner page: the form (values, per-field errors) and the plan under review."""
    rows = []
    if preview is not None:
        rows = compare_rows(plan_summary(preview.previous), plan_summary(preview.doc))
    return board.render(
        request,
        "plan.html",
        status_code=status_code,
        d=detail,
        values=values,
        errors=errors or {},
        p=planning_view(board, detail),
        rows=rows,
        preview=preview,
        expected_field=EXPECTED_VERSION,
    )


def _preview(board: Board, folder: Path, values: dict[str, str]) -> PlanPreview:
    planner, patient = plan_inputs(values)
    try:
        return compute_plan(folder, planner, patient, board.config.pipeline.quantification)
    except ValueError as exc:
        raise HTTPException(409, f"cannot re-plan: {exc}") from exc


@router.post("/jobs/{job_id}/plan/review", name="plan_review")
async def review(request: Request, job_id: JobId, user: Planner, board: Board) -> Response:
    """Check the inputs and show the plan beside the newest version (nothing written)."""
    values = await _values(request)
    detail = _detail(board, job_id)
    folder = _folder(detail)
    try:
        preview = await run_in_threadpool(_preview, board, folder, values)
    except PlanInputError as exc:
        return _page(request, board, detail, values, errors=exc.errors, status_code=422)
    return _page(request, board, detail, values, preview=preview)


@router.post("/jobs/{job_id}/plan/approve", name="plan_approve")
async def approve(request: Request, job_id: JobId, user: Planner, board: Board) -> Response:
    """Write the reviewed plan as the next version, record the approval, queue delivery."""
    values = await _values(request)
    detail = _detail(board, job_id)
    folder = _folder(detail)
    try:
        preview = await run_in_threadpool(_preview, board, folder, values)
    except PlanInputError as exc:
        return _page(request, board, detail, values, errors=exc.errors, status_code=422)
    if not (folder / "seg.dcm").is_file():
        raise HTTPException(409, f"job {job_id}'s folder has no seg.dcm: no SR can be written")
    if values.get(EXPECTED_VERSION) != str(preview.version):
        return _refused(
            request,
            board,
            user,
            detail,
            values,
            preview,
            f"the plan would now be version {preview.version}, not the one "
            "reviewed: review it again",
        )
    try:
        written = await run_in_threadpool(write_plan, preview, board.config.pipeline.encode)
    except PlanConflictError as exc:
        return _refused(request, board, user, detail, values, preview, str(exc))
    planner, patient = plan_inputs(values)
    try:
        approve_written_plan(
            board.audit, job_id, written, folder, planner, patient, by_user=user.name
        )
    except JobStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    except ValueError as exc:  # write_plan writes an SR wherever the folder holds seg.dcm
        raise HTTPException(500, str(exc)) from exc
    request.session["flash"] = (
        f"plan version {written.version} approved by {user.name}; "
        f"its SR and PDF are queued for delivery"
    )
    return RedirectResponse(f"/jobs/{job_id}#plan-versions", status_code=303)


def _refused(
    request: Request,
    board: Board,
    user: Principal,
    detail: JobDetail,
    values: dict[str, str],
    preview: PlanPreview,
    reason: str,
) -> Response:
    """Show the plan as it is now, with why the approval was refused (recorded)."""
    board.audit.record_admin_action(
        user=user.name,
        action="approve_plan_refused",
        target=job_target(detail.job.id),
        detail=reason,
    )
    request.session["flash"] = f"not approved: {reason}"
    return _page(request, board, detail, values, preview=preview, status_code=409)


@router.get("/jobs/{job_id}/overlays/v{version}/{index}.png", name="overlay")
def overlay(
    job_id: JobId,
    version: Annotated[int, PathParam(ge=1, le=10_000)],
    index: Annotated[int, PathParam(ge=0, lt=OVERLAY_COUNT)],
    user: User,
    board: Board,
) -> Response:
    """Key image ``index`` of the job's segmentation with the territory of result version
    ``version`` highlighted (rendered once, then kept in the result folder)."""
    detail = _detail(board, job_id)
    folder = _folder(detail)
    path = folder / f"territory-overlay.v{version}.{index}.png"
    if not path.is_file():
        doc_path = result_versions(folder).get(version)
        if doc_path is None or not (folder / "seg.dcm").is_file():
            raise HTTPException(404, f"job {job_id} has no result version {version} with a SEG")
        target = (json.loads(doc_path.read_text(encoding="utf-8")).get("sirt") or {}).get(
            "target"
        ) or {}
        whole = target.get("territory") in (None, "whole")
        encode = board.config.pipeline.encode
        images = territory_overlays(
            folder / "seg.dcm",
            {i.sop_instance_uid: i.path for i in detail.instances if i.path},
            [] if whole else [int(n) for n in target.get("segments") or []],
            str(target.get("territory") or "not chosen (whole liver shown)"),
            OVERLAY_COUNT,
            (encode.overlay_window_center_hu, encode.overlay_window_width_hu),
        )
        for number, png in enumerate(images):
            atomic_write(folder / f"territory-overlay.v{version}.{number}.png", png)
        if index >= len(images):
            raise HTTPException(404, f"no key image {index} of job {job_id}")
    return Response(path.read_bytes(), media_type="image/png")
