"""The dashboard application: pages, actions, ``/health`` and ``/metrics``.

``/health``, ``/health/ready`` and ``/metrics`` need no login (probes and Prometheus);
every page needs an authenticated user, retry/cancel the operator role, and reviewing and
approving a SIRT re-plan the planner role.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from dicomnode.audit.ports import DashboardLog
from dicomnode.audit.store import utc_now
from dicomnode.config import DicomNodeConfig
from dicomnode.scp.watermark import DiskWatermark
from dicomnode.web import actions, pages, planner
from dicomnode.web.auth import Authenticator, LoginRequiredError
from dicomnode.web.context import Dashboard, build_templates
from dicomnode.web.headers import STATIC_PREFIX, SecurityHeaders
from dicomnode.web.health import readiness
from dicomnode.web.metrics import AuditCollector, metrics_registry
from dicomnode.web.model_status import ModelStatusCache
from dicomnode.web.queries import DashboardQueries
from dicomnode.web.throttle import LoginThrottle
from dicomnode.web.users import UserStore

SESSION_COOKIE = "dicomnode_session"
"""Name of the signed session cookie."""
STATIC_DIR = Path(__file__).with_name("static")
"""The style sheet of the pages."""


def create_app(
    config: DicomNodeConfig,
    audit: DashboardLog,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """Build the dashboard for this configuration and audit database.

    Parameters
    ----------
    config : DicomNodeConfig
        The node's configuration (``web``, ``spool``, the pipeline's models).
    audit : DashboardLog
        The audit database (schema migrated).
    clock : callable
        Current time, timezone-aware UTC (injectable for tests).

    Returns
    -------
    FastAPI
        The ASGI application.
    """
    app = FastAPI(title="dicomnode", docs_url=None, redoc_url=None, openapi_url=None)
    queries = DashboardQueries(audit.engine)
    users = UserStore(audit.engine, clock)
    watermark = DiskWatermark(config.spool.path.resolve(), config.spool.min_free_bytes)
    broker = None
    if config.jobs.backend == "celery":
        from dicomnode.jobs.broker_probe import BrokerProbe  # needs the celery extra

        broker = BrokerProbe(config.jobs)
    app.state.authenticator = Authenticator(config.web, users)
    app.state.dashboard = Dashboard(
        config=config,
        audit=audit,
        queries=queries,
        users=users,
        watermark=watermark,
        models=ModelStatusCache(config.pipeline.segmentation),
        templates=build_templates(),
        clock=clock,
        throttle=LoginThrottle(
            config.web.login_max_failures, config.web.login_failure_window_s, clock
        ),
        broker=broker,
    )
    registry = metrics_registry(AuditCollector(queries, watermark, clock, broker))
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.web.signing_key(),
        session_cookie=SESSION_COOKIE,
        max_age=config.web.session_max_age_s,
        same_site="strict",
        https_only=config.web.session_cookie_secure,
    )
    app.add_middleware(SecurityHeaders)
    app.mount(STATIC_PREFIX.rstrip("/"), StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LoginRequiredError)
    def _to_login(request: Request, exc: LoginRequiredError) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(HTTPException)
    def _error_page(request: Request, exc: HTTPException) -> Response:
        board: Dashboard = request.app.state.dashboard
        return board.render(
            request,
            "error.html",
            status_code=exc.status_code,
            status=exc.status_code,
            message=str(exc.detail),
        )

    @app.exception_handler(RequestValidationError)
    def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{error['loc'][-1]}: {error['msg']}" for error in exc.errors() if error.get("loc")
        )
        return _error_page(request, HTTPException(422, problems or "invalid request"))

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        """Liveness: the web server answers."""
        return {"status": "ok"}

    @app.get("/health/ready", include_in_schema=False)
    def ready() -> Response:
        """Readiness: the audit database answers and the spool is writable, above its
        watermark (503 otherwise)."""
        ok, checks = readiness(queries, watermark)
        body = {
            "status": "ready" if ok else "not ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus text exposition, computed from the audit database now."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(planner.router)
    return app
