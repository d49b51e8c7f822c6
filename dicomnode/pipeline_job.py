"""The job handler that runs the study pipeline inside a worker process.

The runner names it by import path (``dicomnode.pipeline_job:run_job``) and calls it in a
separate process. The pipeline configuration comes with the job (``JobSpec.pipeline``, the
one the composition root validated), so the worker runs with exactly the service's
configuration and reads no file or environment variable.
"""

from __future__ import annotations

from dicomnode.jobs.handler import JobOutcome, JobSpec, OutcomeState
from pipeline.errors import InputDataError
from pipeline.run.study import StudyStatus, run_study
from pipeline.segment.engine import SegmentationEngine


def run_job(spec: JobSpec) -> JobOutcome:
    """Process one job attempt: run the pipeline on the job's instances.

    Parameters
    ----------
    spec : JobSpec
        The job's instances, its fresh work folder and the pipeline configuration.

    Returns
    -------
    JobOutcome
        ``succeeded`` with the SEG/SR/PDF files to deliver, or ``rejected`` with the reason
        (the rejection SR/PDF are delivered too, where configured). An
        :class:`~pipeline.errors.InputDataError` that escapes the pipeline is a rejection
        with its message (the same files cannot do better on a retry; nothing is
        delivered). Other exceptions propagate: the runner records them as a failed attempt
        and retries.
    """
    config = spec.pipeline
    engine = SegmentationEngine(config.segmentation)
    stages: list[dict[str, object]] = []

    def record(stage: str, seconds: float, message: str) -> None:
        stages.append({"stage": stage, "message": message, "duration_s": round(seconds, 3)})

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
