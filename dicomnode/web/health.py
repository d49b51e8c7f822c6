"""``/health`` (liveness) and ``/health/ready`` (readiness) checks."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from dicomnode.scp.watermark import DiskWatermark, free_bytes
from dicomnode.web.queries import DashboardQueries


@dataclass(frozen=True)
class Check:
    """The outcome of one readiness check."""

    name: str
    ok: bool
    detail: str


def check_database(queries: DashboardQueries) -> Check:
    """The audit database answers a query."""
    try:
        queries.ping()
    except (SQLAlchemyError, OSError) as exc:
        return Check("database", False, f"unreachable: {type(exc).__name__}")
    return Check("database", True, "reachable")


def check_spool(watermark: DiskWatermark) -> Check:
    """The spool folder exists, a file can be written in it, and the disk is above the
    watermark."""
    root = watermark.root
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".ready-", suffix=".tmp", dir=root)
        os.close(handle)
        os.unlink(name)
    except OSError as exc:
        return Check("spool", False, f"not writable: {exc.strerror or exc}")
    problem = watermark.problem()
    if problem is not None:
        return Check("spool", False, problem)
    return Check("spool", True, f"writable, {free_bytes(root)} bytes free")


def readiness(queries: DashboardQueries, watermark: DiskWatermark) -> tuple[bool, list[Check]]:
    """Every readiness check, and whether all passed."""
    checks = [check_database(queries), check_spool(watermark)]
    return all(check.ok for check in checks), checks
