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
        description="'local': a pool of worker processes inside the service (warm workers "
        "or one process per job attempt, see warm_workers). 'celery': the node publishes each "
        "job to a Celery broker (broker_url) and `dicomnode worker` processes on worker "
        "machines run them (needs the `celery` extra and a PostgreSQL audit database; "
        "docs/jobs.md).",
    )
    broker_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672//",
        description="Celery backend: URL of the broker (RabbitMQ 'amqp://user:password@host:"
        "5672/vhost', or Redis 'redis://host:6379/0'); the same on the node and its workers.",
    )
    queue: str = Field(
        default="dicomnode",
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Celery backend: the broker queue jobs are published to; one per model or "
        "GPU class (the workers of that class consume it).",
    )
    lease_s: float = Field(
        default=60.0,
        ge=1,
        description="Celery backend: seconds a worker's claim on a job lasts without being "
        "renewed (a running worker renews it every lease_s/3). A claim older than this belongs "
        "to a lost worker: the job's attempt counts as failed and another worker takes it over.",
    )
    small_study_instances: int = Field(
        default=300,
        ge=0,
        description="Celery backend: jobs with at most this many instances are published at a "
        "higher priority than larger ones (below a rush), so a burst of large studies never "
        "starves small ones; 0: every job at the normal priority.",
    )
    workers: int = Field(
        default=1, ge=1, description="Jobs run at the same time (worker processes)."
    )
    warm_workers: bool = Field(
        default=True,
        description="Keep one long-lived worker process per slot that imports the handler and "
        "prepares it (the pipeline: models loaded) once, at service start, then runs the job "
        "attempts sent to it one after another. False: a fresh process per job attempt "
        "(imports and model load paid by every job).",
    )
    max_jobs_per_worker: int = Field(
        default=50,
        ge=1,
        description="With warm_workers: a worker process is replaced by a fresh one after this "
        "many job attempts (bounds the memory a library may leak between jobs).",
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
        description="Import path 'module:name' of the job handler, resolved inside the worker "
        "process: a function that takes a JobSpec and returns a JobOutcome, or a warm handler "
        "(prepare(pipeline) once, run(spec) per job; see dicomnode.jobs.warm).",
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
        description="Seconds after which a running job's process is killed (a warm worker is "
        "replaced by a fresh one) and the attempt counts as failed; None for no limit.",
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
        "handler's module once in a fork server, so each worker process starts without "
        "re-importing it (seconds saved per process with torch); 'spawn' starts a fresh "
        "interpreter per process.",
    )
