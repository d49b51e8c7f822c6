"""Series completion: a per-series (or per-study) quiet timer that turns arrivals into jobs.

DICOM has no end-of-series signal and a series may arrive over several associations, so a
series is complete once no instance of it arrived for ``series_quiet_s`` seconds. With the
``study`` policy, all series of a study become one job once the whole study was quiet for
``study_quiet_s`` seconds. Each arrival costs O(1) (a move to the end of an ordered dict),
so a series of thousands of instances costs nothing per instance beyond that; finding due
groups pops from the front of the dict and stops at the first one still waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

LOGGER = logging.getLogger(__name__)


class CompletionPolicy(StrEnum):
    """What one job covers."""

    SERIES = "series"
    """One job per series, when that series has been quiet."""
    STUDY = "study"
    """One job per study (all its series), when the whole study has been quiet."""


class CompletionConfig(BaseModel):
    """When received instances are considered complete and handed to a job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: CompletionPolicy = Field(
        default=CompletionPolicy.STUDY,
        description="'study': one job per study grouping all its series, so the pipeline "
        "chooses among them (the default: a PACS routes whole studies); 'series': one job "
        "per series.",
    )
    series_quiet_s: float = Field(
        default=30.0,
        gt=0,
        description="A series is complete when no instance of it arrived for this many "
        "seconds (policy 'series').",
    )
    study_quiet_s: float = Field(
        default=120.0,
        gt=0,
        description="A study is complete when no instance of any of its series arrived for "
        "this many seconds (policy 'study').",
    )
    check_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the scheduler looks for complete series, in seconds.",
    )


@dataclass(frozen=True)
class CompletedGroup:
    """Series that became complete together and form one job.

    Parameters
    ----------
    study_instance_uid : str
        Their study.
    series_instance_uids : tuple of str
        The series, sorted.
    calling_aet : str or None
        Calling AE Title that sent the latest instance (``None`` when restored after a
        restart); results may be returned to it.
    """

    study_instance_uid: str
    series_instance_uids: tuple[str, ...]
    calling_aet: str | None = None


OPEN_ASSOCIATION_HOLD_S = 3600.0
"""Longest time an open association keeps its series from completing, seconds (a lost
association-end record must not hold a series for ever)."""


@dataclass
class _Pending:
    study_instance_uid: str
    series_instance_uids: set[str] = field(default_factory=set)
    last_seen: float = 0.0
    calling_aet: str | None = None
    associations: set[str] = field(default_factory=set)
    """Keys of the still open associations that brought instances of this group."""


class CompletionTracker:
    """Quiet timers of the series (or studies) still receiving instances; thread-safe.

    Parameters
    ----------
    config : CompletionConfig
        Policy and quiet times.
    clock : callable, optional
        Monotonic clock in seconds (injected in tests).
    """

    def __init__(
        self,
        config: CompletionConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._by_study = config.policy is CompletionPolicy.STUDY
        self._quiet_s = config.study_quiet_s if self._by_study else config.series_quiet_s
        self._clock = clock
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Number of groups (series or studies) waiting for their quiet time."""
        with self._lock:
            return len(self._pending)

    def note_instance(
        self,
        study_uid: str,
        series_uid: str,
        calling_aet: str | None = None,
        association: str | None = None,
    ) -> None:
        """Record an arrival now: restart the quiet timer of its series (or study).

        Parameters
        ----------
        study_uid, series_uid : str
            The instance's Study and Series Instance UIDs.
        calling_aet : str or None
            Calling AE Title of the association that brought it.
        association : str or None
            Key of that association: the group does not complete while it is open (see
            :meth:`association_ended`), however slowly its instances are recorded.
        """
        with self._lock:
            pending = self._note(study_uid, series_uid, self._clock(), calling_aet)
            if association is not None:
                pending.associations.add(association)

    def association_ended(self, association: str) -> None:
        """An association was released or aborted: the groups it brought instances of wait
        a full quiet period from now."""
        now = self._clock()
        with self._lock:
            for key, pending in list(self._pending.items()):
                if association in pending.associations:
                    pending.associations.discard(association)
                    pending.last_seen = max(pending.last_seen, now)
                    self._pending.move_to_end(key)  # entries stay ordered by last_seen

    def restore(self, series: Iterable[tuple[str, str]]) -> None:
        """Rebuild timers after a restart: every series not yet complete waits a full quiet
        period from now.

        Time spent down does not count as quiet: the senders could not reach us, so a
        series interrupted by a crash gets the whole quiet period to be continued.

        Parameters
        ----------
        series : iterable of (str, str)
            ``(study_uid, series_uid)`` of every series that has instances but whose job
            may not exist yet.
        """
        now = self._clock()
        with self._lock:
            for study_uid, series_uid in series:
                self._note(study_uid, series_uid, now, None)

    def _note(
        self, study_uid: str, series_uid: str, at: float, calling_aet: str | None
    ) -> _Pending:
        key = study_uid if self._by_study else series_uid
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(study_uid)
        pending.series_instance_uids.add(series_uid)
        pending.last_seen = max(pending.last_seen, at)
        pending.calling_aet = calling_aet or pending.calling_aet
        self._pending.move_to_end(key)
        return pending

    def pop_due(self) -> list[CompletedGroup]:
        """Remove and return every group that has been quiet long enough and has no open
        association (for at most :data:`OPEN_ASSOCIATION_HOLD_S`), oldest first."""
        now = self._clock()
        limit = now - self._quiet_s
        due: list[CompletedGroup] = []
        with self._lock:
            for key, pending in list(self._pending.items()):
                if pending.last_seen > limit:
                    break  # later entries were seen later still
                if pending.associations and pending.last_seen > now - OPEN_ASSOCIATION_HOLD_S:
                    continue
                del self._pending[key]
                due.append(
                    CompletedGroup(
                        pending.study_instance_uid,
                        tuple(sorted(pending.series_instance_uids)),
                        pending.calling_aet,
                    )
                )
        return due


class CompletionScheduler:
    """Background thread that turns due groups into jobs.

    Parameters
    ----------
    tracker : CompletionTracker
        The quiet timers.
    on_complete : callable
        Called with each :class:`CompletedGroup` (creates the job). If it raises, the group
        is noted again and retried after another quiet period.
    interval_s : float
        Seconds between checks.
    backlog : callable, optional
        True while received instances still wait to be recorded; no group is completed
        then (a starved recorder must not make a series look quiet while its last
        instances are still queued).
    """

    def __init__(
        self,
        tracker: CompletionTracker,
        on_complete: Callable[[CompletedGroup], None],
        interval_s: float,
        backlog: Callable[[], bool] | None = None,
    ) -> None:
        self._tracker = tracker
        self._on_complete = on_complete
        self._interval_s = interval_s
        self._backlog = backlog
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="completion", daemon=True)

    def start(self) -> None:
        """Start checking in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current check."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def run_once(self) -> int:
        """Hand every due group to ``on_complete``; returns how many were handed over."""
        handed = 0
        if self._backlog is not None and self._backlog():
            return handed
        for group in self._tracker.pop_due():
            try:
                self._on_complete(group)
            except Exception:
                LOGGER.exception(
                    "could not create the job of study %s; will retry", group.study_instance_uid
                )
                for series_uid in group.series_instance_uids:
                    self._tracker.note_instance(
                        group.study_instance_uid, series_uid, group.calling_aet
                    )
                continue
            handed += 1
        return handed

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.run_once()
