"""The pipeline's job handler keeps its loaded segmentation engine between jobs of the same
segmentation configuration (the bundled demo model, loaded for real)."""

from __future__ import annotations

from pathlib import Path

from dicomnode.jobs.handler import JobSpec
from dicomnode.jobs.warm import WarmHandler, resolve_warm_handler
from dicomnode.pipeline_job import MODEL_LOAD_STAGE, PipelineJob
from pipeline.config import PipelineConfig


def _spec(tmp_path: Path, number: int, pipeline: PipelineConfig) -> JobSpec:
    """A job without instances (rejected at once, after the engine was looked up)."""
    work_dir = tmp_path / f"job-{number}"
    work_dir.mkdir()
    return JobSpec(
        job_id=number,
        study_instance_uid="1.2.826.0.1.1",
        series_instance_uids=[],
        instance_paths=[],
        work_dir=work_dir,
        calling_ae=None,
        pipeline=pipeline,
    )


def _stages(handler: PipelineJob, spec: JobSpec) -> list[str]:
    outcome = handler.run(spec)
    assert outcome.state == "rejected"
    return [str(stage["stage"]) for stage in outcome.result["stages"]]


def test_engine_is_loaded_once_per_segmentation_configuration(tmp_path: Path) -> None:
    handler = PipelineJob()
    demo = PipelineConfig()
    other_segmentation = demo.segmentation.model_validate(
        {**demo.segmentation.model_dump(), "tile_step_size": 0.75}
    )
    other = demo.model_copy(update={"segmentation": other_segmentation})
    assert _stages(handler, _spec(tmp_path, 1, demo))[0] == MODEL_LOAD_STAGE  # not prepared
    assert MODEL_LOAD_STAGE not in _stages(handler, _spec(tmp_path, 2, demo))
    assert _stages(handler, _spec(tmp_path, 3, other))[0] == MODEL_LOAD_STAGE
    handler.prepare(other)  # already loaded for this configuration
    assert MODEL_LOAD_STAGE not in _stages(handler, _spec(tmp_path, 4, other))
    assert _stages(handler, _spec(tmp_path, 5, demo))[0] == MODEL_LOAD_STAGE


def test_the_configured_handler_resolves_as_a_warm_handler() -> None:
    handler = resolve_warm_handler("dicomnode.pipeline_job:run_job")
    assert isinstance(handler, PipelineJob) and isinstance(handler, WarmHandler)
