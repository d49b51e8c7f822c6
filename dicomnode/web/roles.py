"""Roles of dashboard users (a light module: the command line imports it)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a dashboard user may do."""

    VIEWER = "viewer"
    """Read every page."""
    OPERATOR = "operator"
    """Also retry and cancel jobs."""
    PLANNER = "planner"
    """Also review and approve SIRT re-plans of succeeded jobs (a clinical sign-off, kept
    apart from the operator's technical actions)."""
