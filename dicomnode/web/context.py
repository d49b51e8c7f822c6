"""What every request handler of the dashboard needs, built once per application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from dicomnode.audit.ports import DashboardLog
from dicomnode.config import DicomNodeConfig
from dicomnode.scp.watermark import DiskWatermark
from dicomnode.web.auth import CSRF_FIELD, csrf_token
from dicomnode.web.model_status import ModelStatusCache
from dicomnode.web.queries import DashboardQueries
from dicomnode.web.throttle import LoginThrottle
from dicomnode.web.users import UserStore

if TYPE_CHECKING:
    from dicomnode.jobs.broker_probe import BrokerProbe  # needs the celery extra

TEMPLATES_DIR = Path(__file__).with_name("templates")
"""The Jinja2 templates of the pages."""


def _time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _bytes(value: float | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _number(value: Any, digits: int = 1) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return str(value)


def build_templates() -> Jinja2Templates:
    """The page templates with the dashboard's filters (time, bytes, numbers)."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.filters["dt"] = _time
    templates.env.filters["bytes"] = _bytes
    templates.env.filters["num"] = _number
    templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
    return templates


@dataclass
class Dashboard:
    """The dashboard's collaborators (stored as ``app.state.dashboard``).

    Parameters
    ----------
    config : DicomNodeConfig
        The node's effective configuration.
    audit : DashboardLog
        The audit database (job lists, details, actions and plan approvals).
    queries : DashboardQueries
        Read-only views of the audit database.
    users : UserStore
        Dashboard users.
    watermark : DiskWatermark
        The spool folder and its disk-space watermark.
    models : ModelStatusCache
        Verified model identities.
    templates : Jinja2Templates
        Page templates.
    clock : callable
        Current time, timezone-aware UTC.
    throttle : LoginThrottle
        Failed-login counts of the login form.
    broker : BrokerProbe, optional
        The broker queues of ``jobs.backend: celery`` (None for the local backend).
    """

    config: DicomNodeConfig
    audit: DashboardLog
    queries: DashboardQueries
    users: UserStore
    watermark: DiskWatermark
    models: ModelStatusCache
    templates: Jinja2Templates
    clock: Callable[[], datetime]
    throttle: LoginThrottle
    broker: BrokerProbe | None = None

    def render(self, request: Request, name: str, status_code: int = 200, **values: Any) -> Any:
        """Render a page with the common values (user, CSRF token, flash message)."""
        values.setdefault("user", request.app.state.authenticator.principal(request))
        values["csrf"] = csrf_token(request)
        values["flash"] = request.session.pop("flash", None)
        return self.templates.TemplateResponse(request, name, values, status_code=status_code)


def dashboard(request: Request) -> Dashboard:
    """Dependency: the application's :class:`Dashboard`."""
    found: Dashboard = request.app.state.dashboard
    return found
