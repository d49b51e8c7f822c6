"""The job handler that runs the study pipeline inside a worker process.

The runner names it by import path (``dicomnode.pipeline_job:run_job``) and calls it in a
worker process. ``run_job`` is a warm handler (:mod:`dicomnode.jobs.warm`): a warm worker
calls ``run_job.prepare(pipeline)`` once when it starts, which builds the segmentation
engine and loads its models, and warms the DICOM writers up (:mod:`pipeline.encode.warm`:
their one-time table loading); the jobs that follow reuse that engine. The engine is kept for
one segmentation configuration (compared by value): a job that comes with another one gets a
fresh engine (reported as its ``model load`` stage), which then replaces the old one.

The pipeline configuration comes with the job (``JobSpec.pipeline``, the one the composition
root validated), so the worker runs with exactly the service's configuration and reads no
file or environment variable.
"""

from __future__ import annotations

import time

from dicomnode.jobs.handler import JobOutcome, JobSpec, OutcomeState
from pipeline.config import PipelineConfig
from pipeline.encode.warm import warm_up
from pipeline.errors import InputDataError
from pipeline.run.study import StudyStatus, run_study
from pipeline.segment.config import SegmentationConfig
from pipeline.segment.engine import SegmentationEngine

MODEL_LOAD_STAGE = "model load"
"""Stage event of a job for which the engine had to be built and its models loaded."""


class PipelineJob:
    """The study pipeline as a warm job handler; keeps one loaded segmentation engine."""

    def __init__(self) -> None:
        self._engine: SegmentationEngine | None = None
        self._key: str | None = None

    def prepare(self, pipeline: PipelineConfig) -> None:
        """Build the engine for ``pipeline.segmentation`` and load its models (once); build
        a tiny SEG, SR and PDF so that the writers' start-up is not paid by the first job."""
        self._engine_for(pipeline.segmentation)
        warm_up()

    def _engine_for(self, config: SegmentationConfig) -> tuple[SegmentationEngine, float | None]:
        """The engine for ``config`` and the seconds spent loading it now (None: kept)."""
        key = config.model_dump_json()
        if self._engine is not None and self._key == key:
            return self._engine, None
        started = time.perf_counter()
        engine = SegmentationEngine(config)
        engine.load()
        self._engine, self._key = engine, key
        return engine, time.perf_counter() - started

    def run(self, spec: JobSpec) -> JobOutcome:
        """Process one job attempt: run the pipeline on the job's instances.

        Parameters
        ----------
        spec : JobSpec
            The job's instances, its fresh work folder and the pipeline configuration.

        Returns
        -------
        JobOutcome
            ``succeeded`` with the SEG/SR/PDF (and RT Dose) files to deliver, or ``rejected``
            with the reason (the rejection SR/PDF are delivered too, where configured). An
            :class:`~pipeline.errors.InputDataError` that escapes the pipeline is a rejection
            with its message (the same files cannot do better on a retry; nothing is
            delivered). Other exceptions propagate (a model that cannot be loaded
            included): the runner records them as a failed attempt and retries.
        """
        config = spec.pipeline
        stages: list[dict[str, object]] = []

        def record(stage: str, seconds: float, message: str) -> None:
            stages.append({"stage": stage, "message": message, "duration_s": round(seconds, 3)})

        engine, load_s = self._engine_for(config.segmentation)
        if load_s is not None:
            record(MODEL_LOAD_STAGE, load_s, "segmentation engine built, models loaded")
        try:
            study = run_study(
                spec.instance_paths,
                spec.work_dir,
                config,
                engine=engine,
                run_id=f"job-{spec.job_id}",
                on_stage=record,
            )
        except InputDataError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            return JobOutcome(
                state="rejected",
                reason=reason,
                result={"status": "rejected", "reason": reason, "stages": stages},
            )
        result = dict(study.result)
        result["stages"] = stages
        state: OutcomeState = "succeeded" if study.status is StudyStatus.SUCCEEDED else "rejected"
        return JobOutcome(
            state=state, reason=study.reason, output_paths=study.output_paths, result=result
        )

    def __call__(self, spec: JobSpec) -> JobOutcome:
        """Run as a plain handler (``handler(spec)``): :meth:`run`."""
        return self.run(spec)


run_job = PipelineJob()
"""The handler of ``jobs.handler: dicomnode.pipeline_job:run_job`` (one per process)."""
