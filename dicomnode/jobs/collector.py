"""Python's cyclic garbage collector in a job worker: what it costs, and keeping it off the
models.

A warm worker process holds its handler's imports and models: some 900,000 objects the
cyclic collector tracks (torch, nnU-Net, pydicom, highdicom). Every collection of the oldest
generation walks all of them, during every job, although none of them ever becomes garbage.
:func:`freeze_prepared` moves what exists after the start-up into the collector's permanent
generation (:func:`gc.freeze`), which it no longer walks; :class:`CollectorMeter` measures
the collections of one job attempt (reported in the result's ``worker.gc``).
"""

from __future__ import annotations

import gc
import time
from types import TracebackType
from typing import Any


def freeze_prepared() -> int:
    """Collect once, then leave every object alive now out of later collections.

    Called once, after a warm worker's handler is prepared (models loaded), before its first
    job. The objects stay alive as before; they are only no longer walked by the collector.

    Returns
    -------
    int
        Number of objects in the permanent generation (:func:`gc.get_freeze_count`).
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class CollectorMeter:
    """The cyclic collections that run while the block runs: their number and seconds.

    Uses :data:`gc.callbacks` (a callback at the start and at the stop of every collection).

    Attributes
    ----------
    collections : int
        Collections that ran (any generation).
    seconds : float
        Wall time spent in them, s.
    """

    def __init__(self) -> None:
        self.collections = 0
        self.seconds = 0.0
        self._started: float | None = None

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.collections += 1
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def __enter__(self) -> CollectorMeter:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        gc.callbacks.remove(self._callback)

    def to_dict(self) -> dict[str, float | int]:
        """``{"collections": n, "seconds": s}`` for a job's result (seconds rounded to ms)."""
        return {"collections": self.collections, "seconds": round(self.seconds, 3)}
