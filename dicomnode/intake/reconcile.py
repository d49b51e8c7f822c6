"""Start-up reconciliation of the spool (the truth) with the audit database.

After a crash at any moment: ``.part`` files are removed (never acknowledged), complete
files without a database row are read as the receive reads them
(:func:`dicomnode.scp.header.read_header`) and recorded, or, when unreadable, moved to the
spool's quarantine folder and flagged as service events (so they never reach a job), rows
whose file is gone are flagged as service events, and every spooled series is listed so
that its quiet timer restarts once the SCP listens again (time spent down is not quiet:
senders could not reach us). Creating a job is idempotent in the audit log, so a series
whose job already exists gets no second one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dicomnode.audit.ports import ReconcileLog
from dicomnode.scp.header import HeaderError, read_header
from dicomnode.scp.spool import SpoolEntry, SpoolWriter

LOGGER = logging.getLogger(__name__)

RECOVERED_REASON = "recovered from the spool at start-up"
"""Reason recorded with instances found on disk but not in the database."""


@dataclass(frozen=True)
class ReconcileReport:
    """What reconciliation did (counts of files)."""

    partial_removed: int
    recorded: int
    unreadable: int
    missing: int
    series: tuple[tuple[str, str], ...]
    """``(study_uid, series_uid)`` of every spooled series, for the quiet timers."""


def _quarantine(spool: SpoolWriter, audit: ReconcileLog, entry: SpoolEntry, reason: str) -> None:
    """Move an unreadable spool file to the quarantine folder; one log line and a service
    event (the reason names no value)."""
    try:
        target = str(spool.quarantine(entry))
    except OSError as exc:
        target = f"left in place ({exc.strerror or type(exc).__name__})"
    LOGGER.error("unreadable spool file %s (%s); quarantined: %s", entry.path, reason, target)
    audit.record_service_event("spool_file_quarantined", f"{entry.path} -> {target}: {reason}")


def reconcile_spool(spool: SpoolWriter, audit: ReconcileLog) -> ReconcileReport:
    """Bring the database in line with the spool; list the series whose timers restart.

    Parameters
    ----------
    spool : SpoolWriter
        The spool (its root should be an absolute path, as stored in the database).
    audit : ReconcileLog
        The audit database.

    Returns
    -------
    ReconcileReport
        Counts of removed, recorded, unreadable and missing files, and the series to hand
        to :meth:`~dicomnode.completion.CompletionTracker.restore` once the SCP listens.
    """
    partial_removed = spool.remove_partial_files()
    known = audit.known_instance_paths()
    series: set[tuple[str, str]] = set()
    recorded = unreadable = 0
    for entry in spool.scan():
        path = str(entry.path)
        if path in known:
            known.discard(path)
            series.add((entry.study_instance_uid, entry.series_instance_uid))
            continue
        try:
            header = read_header(entry.path)
        except HeaderError as exc:
            _quarantine(spool, audit, entry, str(exc))
            unreadable += 1
            continue
        series.add((entry.study_instance_uid, entry.series_instance_uid))
        audit.record_instance(
            association_id=None,
            sop_instance_uid=entry.sop_instance_uid,
            sop_class_uid=header.sop_class_uid,
            transfer_syntax_uid=header.transfer_syntax_uid,
            study_instance_uid=entry.study_instance_uid,
            series_instance_uid=entry.series_instance_uid,
            path=path,
            size_bytes=entry.path.stat().st_size,
            status="stored",
            reason="; ".join((RECOVERED_REASON, *header.assumed)),
            header=header.fields,
        )
        recorded += 1
    for path in sorted(known):
        LOGGER.error("instance recorded in the database is missing from the spool: %s", path)
        audit.record_service_event("spool_file_missing", path)
    report = ReconcileReport(
        partial_removed, recorded, unreadable, len(known), tuple(sorted(series))
    )
    LOGGER.info(
        "spool reconciled: %d partial files removed, %d files recorded, %d unreadable, "
        "%d missing, %d series",
        partial_removed,
        recorded,
        unreadable,
        len(known),
        len(series),
    )
    return report
