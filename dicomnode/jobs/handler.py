"""The contract between the job runner and the code that processes a study.

A handler is a plain function ``handler(spec: JobSpec) -> JobOutcome`` named by an import
path string ``"module:function"``; the string (not the function) crosses the process
boundary and is resolved inside the worker process, so nothing unpicklable travels. The
spec carries the validated pipeline configuration the service was built with (a frozen,
picklable :class:`~pipeline.config.PipelineConfig`): the worker never reads a configuration
file or the environment again, so it runs with exactly what the composition root decided.

Per-stage events: the handler reports them in ``JobOutcome.result["stages"]``, a list of
``{"stage": str, "message": str, "duration_s": float | None}``; the runner appends them to
the job's history in the audit database when the attempt ends. (A worker process does not
write to the database, so a crashing handler cannot leave half-written rows behind.)

Outputs: every file in ``output_paths`` must lie inside ``spec.work_dir`` (a fresh folder
per attempt) and be a DICOM object (SEG, SR, encapsulated PDF or RT Dose). The runner records them
as the outputs of this attempt; only the outputs of the attempt that succeeds are ever
delivered, so an attempt interrupted after writing files never sends a second set.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from pipeline.config import PipelineConfig

OutcomeState = Literal["succeeded", "rejected", "failed"]
OUTCOME_STATES: tuple[OutcomeState, ...] = ("succeeded", "rejected", "failed")


@dataclass(frozen=True)
class JobSpec:
    """What one job attempt is asked to process.

    Parameters
    ----------
    job_id : int
        The job's id in the audit database.
    study_instance_uid : str
        StudyInstanceUID of the study.
    series_instance_uids : list of str
        SeriesInstanceUIDs the job covers.
    instance_paths : list of Path
        Spool files of the stored instances of those series.
    work_dir : Path
        Empty folder for this attempt; outputs must be written below it.
    calling_ae : str or None
        Calling AE title of the association that sent the study (for "back to sender").
    pipeline : PipelineConfig
        The pipeline configuration to process the study with (the service's, validated).
    """

    job_id: int
    study_instance_uid: str
    series_instance_uids: list[str]
    instance_paths: list[Path]
    work_dir: Path
    calling_ae: str | None
    pipeline: PipelineConfig


@dataclass(frozen=True)
class JobOutcome:
    """How one job attempt ended.

    Parameters
    ----------
    state : {"succeeded", "rejected", "failed"}
        ``rejected``: the study does not meet the pipeline's assumptions (named reason,
        no retry). ``failed``: something went wrong that a retry may fix.
    reason : str or None
        Why it was rejected or failed (no PHI).
    output_paths : list of Path
        DICOM files written (inside ``JobSpec.work_dir``), for delivery.
    result : dict
        JSON-serialisable result (series choice, volumes, model provenance...); stored
        with the job. ``result["stages"]`` lists per-stage events (see module docstring).
    """

    state: OutcomeState
    reason: str | None = None
    output_paths: list[Path] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state not in OUTCOME_STATES:
            raise ValueError(f"job outcome state must be one of {OUTCOME_STATES}")

    def to_json(self) -> str:
        """Serialise (the worker process hands its outcome over as JSON)."""
        return json.dumps(
            {
                "state": self.state,
                "reason": self.reason,
                "output_paths": [str(path) for path in self.output_paths],
                "result": self.result,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> JobOutcome:
        """Read an outcome written by :meth:`to_json`."""
        data = json.loads(text)
        return cls(
            state=data["state"],
            reason=data["reason"],
            output_paths=[Path(path) for path in data["output_paths"]],
            result=data["result"],
        )


JobHandler = Callable[[JobSpec], JobOutcome]
"""A function that processes one job attempt."""


def import_object(import_path: str) -> object:
    """Import the object named ``"package.module:name"``.

    Raises
    ------
    ValueError
        The string is not of the form ``module:name``.
    ImportError, AttributeError
        The module or name does not exist.
    """
    module_name, sep, name = import_path.partition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"handler must be 'module:function', got {import_path!r}")
    return getattr(importlib.import_module(module_name), name)


def resolve_handler(import_path: str) -> JobHandler:
    """Import the handler named ``"package.module:function"``.

    Raises
    ------
    ValueError
        The string is not of the form ``module:function``.
    ImportError, AttributeError
        The module or function does not exist.
    TypeError
        The object is not callable.
    """
    handler = import_object(import_path)
    if not callable(handler):
        raise TypeError(f"handler {import_path!r} is not callable")
    return cast(JobHandler, handler)


def stage_events(result: dict[str, Any]) -> list[tuple[str, str, float | None]]:
    """The (stage, message, duration in s) events a handler reported in its result.

    Malformed entries are reported as such rather than dropped, so nothing vanishes from
    the audit trail silently.
    """
    events: list[tuple[str, str, float | None]] = []
    for entry in result.get("stages", []) or []:
        if isinstance(entry, dict) and isinstance(entry.get("stage"), str):
            duration = entry.get("duration_s")
            events.append(
                (
                    entry["stage"],
                    str(entry.get("message", "")),
                    float(duration) if isinstance(duration, int | float) else None,
                )
            )
        else:
            events.append(("stage", f"malformed stage entry: {entry!r:.200}", None))
    return events
