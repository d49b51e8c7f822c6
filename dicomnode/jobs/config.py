"""Configuration of job execution."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class JobsConfig(BaseModel):
    """How jobs are run: backend, parallel workers, retries, the handler and its folders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["local", "celery"] = Field(
        default="local",
        description="'local': a pool of worker processes inside the service (one process "
        "per job). 'celery' is reserved for dispatching through a Celery broker and is not "
        "available in this version (the service refuses to start with it).",
    )
    workers: int = Field(
        default=1, ge=1, description="Jobs run at the same time (worker processes)."
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="Attempts a job gets (a crash or an interrupted service counts as one) "
        "before it is dead-lettered; `dicomnode retry ID` grants as many again.",
    )
    handler: str = Field(
        default="dicomnode.pipeline_job:run_job",
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="Import path 'module:function' of the job handler, resolved inside the "
        "worker process; it takes a JobSpec and returns a JobOutcome.",
    )
    work_dir: Path = Field(
        default=Path("data/work"),
        description="Folder under which each job attempt gets its own working folder "
        "(job-<id>/attempt-<n>) for its outputs; relative to the working directory.",
    )
    poll_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between looks for queued jobs when nobody announced one.",
    )
    timeout_s: float | None = Field(
        default=10800.0,
        gt=0,
        description="Seconds after which a running job's process is killed and the attempt "
        "counts as failed; None for no limit.",
    )
    stop_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="On service stop, seconds to let running jobs finish before their "
        "processes are killed (their jobs are requeued and run again on next start).",
    )
    start_method: Literal["spawn", "forkserver"] = Field(
        default="spawn",
        description="multiprocessing start method of the worker processes (never 'fork': "
        "the service has threads and open database connections). 'forkserver' imports the "
        "handler's module once in a fork server, so each job starts without re-importing "
        "it (seconds saved per job with torch); 'spawn' starts a fresh interpreter per job.",
    )
