"""The job carries the pipeline configuration: a spawn-started worker runs the real pipeline
handler with the object the composition root built, whatever the environment or a
configuration file say."""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path

import pytest
import yaml

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState
from dicomnode.jobs.config import JobsConfig
from dicomnode.jobs.handler import JobSpec
from dicomnode.jobs.local import LocalJobRunner
from pipeline.config import PipelineConfig

sys.path.append(str(Path(__file__).parents[2] / "integration" / "node"))  # ct_series
from ct_series import write_ct_series

SLICES = 3
"""Slices of the test series: fewer than the object's minimum, more than the environment's."""
TOO_FEW = f"too_few_slices: {SLICES} slices, at least {SLICES + 1} required"


def _pipeline(min_slices: int) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {"selection": {"geometry": {"min_slices": min_slices}}, "write_rejection_report": False}
    )


def _queue_series(audit: AuditLog, paths: list[Path]) -> int:
    series_uid = "1.2.826.0.1.3680043.10.1234.2"
    for number, path in enumerate(paths):
        audit.record_instance(
            association_id=None,
            sop_instance_uid=f"{series_uid}.{number}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            study_instance_uid="1.2.826.0.1.3680043.10.1234.1",
            series_instance_uid=series_uid,
            path=str(path),
            size_bytes=path.stat().st_size,
            status="stored",
            reason=None,
            header={"Modality": "CT"},
        )
    return audit.create_job(
        study_instance_uid="1.2.826.0.1.3680043.10.1234.1",
        series_instance_uids=[series_uid],
        calling_ae=None,
    )


def test_job_spec_with_its_pipeline_configuration_pickles(tmp_path: Path) -> None:
    spec = JobSpec(
        job_id=1,
        study_instance_uid="1.2.3",
        series_instance_uids=["1.2.3.4"],
        instance_paths=[tmp_path / "a.dcm"],
        work_dir=tmp_path,
        calling_ae="PACS",
        pipeline=_pipeline(SLICES + 1),
    )
    copy = pickle.loads(pickle.dumps(spec))
    assert copy == spec
    assert copy.pipeline.selection.geometry.min_slices == SLICES + 1


def test_the_worker_runs_with_the_configuration_object_not_the_environment(
    audit: AuditLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Everything a worker could read besides the object says 2 slices are enough.
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"pipeline": _pipeline(2).model_dump(mode="json")}))
    monkeypatch.setenv("DICOMNODE_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("DICOMNODE_PIPELINE__SELECTION__GEOMETRY__MIN_SLICES", "2")
    job_id = _queue_series(audit, write_ct_series(tmp_path / "spool", SLICES))
    jobs = JobsConfig(
        handler="dicomnode.pipeline_job:run_job",
        work_dir=tmp_path / "work",
        start_method="spawn",
        poll_interval_s=0.1,
        stop_grace_s=0.0,
    )
    runner = LocalJobRunner(jobs, audit, pipeline=_pipeline(SLICES + 1), node_name="n1")
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while not audit.get_job(job_id).job.state.final:
            assert time.monotonic() < deadline, audit.get_job(job_id).job
            time.sleep(0.1)
    finally:
        runner.stop()
    job = audit.get_job(job_id).job
    assert job.state is JobState.REJECTED, job
    assert job.error is not None and TOO_FEW in job.error
