"""UIDs on the wire: checks before they name anything on disk, and their encoding."""

from __future__ import annotations

import re

MAX_UID_LENGTH = 64
"""Longest UID allowed by PS3.5 9.1, in characters."""

_UID_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)*")


def uid_problem(value: object) -> str | None:
    """Say why a value is not a valid UID, or ``None`` when it is.

    A UID (PS3.5 9.1) consists of numeric components separated by single dots and is at
    most 64 characters long; such a string is safe as a file or folder name. Components
    with a leading zero, which the standard forbids but some modalities send, are
    tolerated because they do not make the name unsafe.

    Parameters
    ----------
    value : object
        The value received (normally a ``str``; anything else is a problem).

    Returns
    -------
    str or None
        A short reason without the value itself (no PHI), or ``None`` when valid.
    """
    if not isinstance(value, str) or not value:
        return "missing or empty UID"
    if len(value) > MAX_UID_LENGTH:
        return f"UID longer than {MAX_UID_LENGTH} characters ({len(value)})"
    if _UID_PATTERN.fullmatch(value) is None:
        return "UID is not digits separated by single dots"
    return None


def encode_uid(value: str) -> bytes:
    """A UI value as encoded in a data set: ASCII, padded with a NUL to even length
    (PS3.5 Section 9.1)."""
    raw = value.encode("ascii")
    return raw + b"\0" * (len(raw) % 2)
