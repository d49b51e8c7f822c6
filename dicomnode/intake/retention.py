"""Spool retention: delete processed studies from the spool after ``retention_days``.

A study is processed when it has at least one job, every job of it is ``succeeded``,
``rejected`` or ``cancelled``, and none of its results waits in the outbox. Studies with a
failed or dead-lettered job are kept (an operator may retry them). Each deletion clears the
spool paths of the study's instances in the audit database (so start-up reconciliation
does not report them missing) and is recorded as a service event ``spool_retention``.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dicomnode.audit.ports import RetentionLog
from dicomnode.audit.store import utc_now
from dicomnode.scp.uids import uid_problem

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgedStudy:
    """A study removed from the spool."""

    study_instance_uid: str
    files: int
    bytes: int


class SpoolRetention:
    """Finds processed studies older than the retention time and deletes their files.

    Parameters
    ----------
    audit : RetentionLog
        The audit database.
    spool_root : Path
        The spool folder (absolute, as stored in the database).
    retention_days : float
        Days after a study's last received instance before it may be deleted.
    clock : callable, optional
        Current time, timezone-aware UTC.
    """

    def __init__(
        self,
        audit: RetentionLog,
        spool_root: Path,
        retention_days: float,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._audit = audit
        self._root = spool_root
        self._retention = timedelta(days=retention_days)
        self._clock = clock or utc_now

    def due_studies(self) -> list[str]:
        """Study Instance UIDs that are processed and past the retention time."""
        return self._audit.processed_studies(received_before=self._clock() - self._retention)

    def purge(self) -> list[PurgedStudy]:
        """Delete every due study that still has files in the spool; record each."""
        purged = []
        for study_uid in self.due_studies():
            folder = self._root / study_uid
            if uid_problem(study_uid) is not None or not folder.is_dir():
                continue
            files = [p for p in folder.rglob("*") if p.is_file()]
            size = sum(p.stat().st_size for p in files)
            shutil.rmtree(folder)
            self._audit.forget_instance_paths(study_uid)
            self._audit.record_service_event(
                "spool_retention", f"study {study_uid}: {len(files)} files, {size} bytes deleted"
            )
            LOGGER.info("spool retention: deleted a study (%d files, %d bytes)", len(files), size)
            purged.append(PurgedStudy(study_uid, len(files), size))
        return purged


class RetentionLoop:
    """Runs :meth:`SpoolRetention.purge` every ``interval_s`` seconds in a thread.

    Parameters
    ----------
    retention : SpoolRetention
        The clean-up.
    interval_s : float
        Seconds between runs (the first run is at start).
    """

    def __init__(self, retention: SpoolRetention, interval_s: float) -> None:
        self._retention = retention
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the clean-up thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="spool-retention", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self._retention.purge()
            except Exception:  # a failed clean-up must not stop the next one
                LOGGER.exception("spool retention failed; retrying at the next interval")
            if self._stop.wait(self._interval_s):
                return

    def stop(self) -> None:
        """Stop after the current clean-up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
            self._thread = None
