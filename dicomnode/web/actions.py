"""What changes something: log in, log out, retry and cancel a job (CSRF-checked POSTs).

Every action is recorded in the audit database's administrator actions.
"""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from dicomnode.audit.errors import JobNotFoundError, JobStateError
from dicomnode.audit.store import job_target
from dicomnode.web.auth import (
    CSRF_FIELD,
    SESSION_USER,
    Principal,
    check_csrf,
    require_operator,
    start_session,
)
from dicomnode.web.config import AuthMode
from dicomnode.web.context import Dashboard, dashboard
from dicomnode.web.pages import RETRYABLE, JobId

router = APIRouter()

Board = Annotated[Dashboard, Depends(dashboard)]
Operator = Annotated[Principal, Depends(require_operator)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]
WEB_TARGET = "web"
"""Target recorded with login and logout actions."""


def _client(request: Request) -> str:
    address: str = request.app.state.authenticator.proxies.client_address(request)
    return address


def _local_path(target: str) -> str:
    """``target`` when it is a path on this site, else ``/`` (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/login", name="login")
def login_form(request: Request, board: Board, next: str = "/") -> Response:
    """The login form (local mode)."""
    if board.config.web.auth_mode is not AuthMode.LOCAL:
        raise HTTPException(404, "logins are handled by the reverse proxy")
    return board.render(request, "login.html", user=None, next=_local_path(next), error=None)


@router.post("/login")
def login(
    request: Request,
    board: Board,
    csrf: Csrf,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; start a session (recorded as ``login`` or ``login_failed``)."""
    if board.config.web.auth_mode is not AuthMode.LOCAL:
        raise HTTPException(404, "logins are handled by the reverse proxy")
    check_csrf(request, csrf)
    name = username.strip()[:64]
    keys = (f"user:{name.lower()}", f"address:{_client(request)}")
    wait_s = board.throttle.blocked_for_s(keys)
    if wait_s > 0:
        board.audit.record_admin_action(
            user=name, action="login_blocked", target=WEB_TARGET,
            detail=f"from {_client(request)}; {board.throttle.max_failures} failed logins "
                   f"within {board.throttle.window}",
        )
        return board.render(
            request, "login.html", status_code=429, user=None, next=_local_path(next),
            error=f"Too many failed logins. Try again in {math.ceil(wait_s / 60)} min.",
        )
    user = board.users.authenticate(username, password)
    if user is None:
        board.throttle.failed(keys)
        board.audit.record_admin_action(
            user=name, action="login_failed", target=WEB_TARGET,
            detail=f"from {_client(request)}",
        )
        return board.render(
            request, "login.html", status_code=401, user=None, next=_local_path(next),
            error="Unknown user or wrong password.",
        )
    board.throttle.succeeded(keys[:1])
    start_session(request, user)
    board.audit.record_admin_action(
        user=user.name, action="login", target=WEB_TARGET,
        detail=f"role {user.role.value} from {_client(request)}",
    )
    return _see_other(_local_path(next))


@router.post("/logout", name="logout")
def logout(request: Request, board: Board, csrf: Csrf) -> Response:
    """End the session and every other session of the user (recorded as ``logout``)."""
    check_csrf(request, csrf)
    name = request.session.get(SESSION_USER)
    if isinstance(name, str) and board.users.get(name) is not None:
        board.users.end_sessions(name)
        board.audit.record_admin_action(user=name, action="logout", target=WEB_TARGET)
    request.session.clear()
    return _see_other("/login")


@router.post("/jobs/{job_id}/retry", name="retry")
def retry(
    request: Request, job_id: JobId, user: Operator, board: Board, csrf: Csrf
) -> Response:
    """Requeue a failed, dead-lettered or cancelled job and re-arm its dead-lettered
    deliveries (each recorded as an administrator action)."""
    check_csrf(request, csrf)
    messages = []
    try:
        state = board.audit.get_job(job_id).job.state
        if state in RETRYABLE:
            board.audit.requeue_job(job_id, by_user=user.name)
            messages.append(f"job {job_id} requeued (was {state.value})")
        rearmed = board.audit.rearm_deliveries(job_id, by_user=user.name)
        if rearmed:
            messages.append(f"{rearmed} dead-lettered deliveries re-armed")
    except JobNotFoundError as exc:
        raise HTTPException(404, f"no job {job_id}") from exc
    except JobStateError as exc:
        messages.append(f"cannot retry: {exc}")
    if not messages:
        board.audit.record_admin_action(
            user=user.name, action="retry_refused", target=job_target(job_id),
            detail=f"job is {state.value} with nothing to retry",
        )
        messages.append(f"job {job_id} is {state.value}: nothing to retry")
    request.session["flash"] = "; ".join(messages)
    return _see_other(f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/cancel", name="cancel")
def cancel(
    request: Request, job_id: JobId, user: Operator, board: Board, csrf: Csrf
) -> Response:
    """Cancel a queued or failed job (recorded as an administrator action)."""
    check_csrf(request, csrf)
    try:
        board.audit.cancel_job(job_id, by_user=user.name)
        request.session["flash"] = f"job {job_id} cancelled"
    except JobNotFoundError as exc:
        raise HTTPException(404, f"no job {job_id}") from exc
    except JobStateError as exc:
        request.session["flash"] = f"cannot cancel: {exc}"
    return _see_other(f"/jobs/{job_id}")

