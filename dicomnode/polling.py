"""A background thread that does one pass of work when woken, or every poll interval.

The outbox and the Celery backend's publisher are such loops: each pass reads the audit
database and talks to a peer (a PACS, the broker). A pass that fails (the database or the
peer being down) is logged and tried again at the next wake-up; the thread never dies of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


class PollingThread:
    """Runs ``work`` in a daemon thread: at once after :meth:`notify`, else every
    ``interval_s`` seconds; again at once while a pass reports more to do.

    Parameters
    ----------
    name : str
        Thread name, also in the log messages of failed passes.
    work : callable
        One pass; returns True when it may have left work for an immediate next pass.
    interval_s : float
        Seconds between two passes when nobody calls :meth:`notify`.
    """

    def __init__(self, name: str, work: Callable[[], bool], interval_s: float) -> None:
        self._name = name
        self._work = work
        self._interval_s = interval_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called (a long pass may end early)."""
        return self._stopping.is_set()

    def start(self) -> None:
        """Start the thread.

        Raises
        ------
        RuntimeError
            It is running already.
        """
        if self._thread is not None:
            raise RuntimeError(f"{self._name} already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the pass in progress (nothing happens when it is not running)."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._thread = None

    def notify(self) -> None:
        """Run a pass now instead of at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            more = False
            try:
                more = self._work()
            except SQLAlchemyError:
                log.exception("%s: audit database unavailable; the next pass retries", self._name)
            except Exception:  # the thread must survive anything (a peer being down)
                log.exception("%s: pass failed; the next pass retries", self._name)
            if not more:
                self._wake.wait(self._interval_s)
