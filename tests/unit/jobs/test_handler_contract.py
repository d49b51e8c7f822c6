"""The handler contract: import paths, outcome serialisation, stage events, output identity."""

from __future__ import annotations

from pathlib import Path

import pytest
from dicomnode_job_twins import counting
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    RTDoseStorage,
    SegmentationStorage,
)

from dicomnode.audit.rows import OutputKind
from dicomnode.jobs.config import JobsConfig
from dicomnode.jobs.handler import JobOutcome, resolve_handler, stage_events
from dicomnode.jobs.outputs import OutputError, identify_output
from dicomnode.jobs.warm import PlainHandler, resolve_warm_handler


def test_resolve_handler() -> None:
    assert resolve_handler("dicomnode_job_twins:succeed").__name__ == "succeed"
    with pytest.raises(ValueError):
        resolve_handler("dicomnode_job_twins.succeed")
    with pytest.raises(AttributeError):
        resolve_handler("dicomnode_job_twins:missing")
    with pytest.raises(TypeError):
        resolve_handler("dicomnode_job_twins:UID_ROOT")


def test_resolve_warm_handler() -> None:
    assert isinstance(resolve_warm_handler("dicomnode_job_twins:succeed"), PlainHandler)
    assert resolve_warm_handler("dicomnode_job_twins:counting") is counting
    with pytest.raises(TypeError):  # the class, not a handler object
        resolve_warm_handler("dicomnode_job_twins:Counting")


def test_outcome_round_trip_and_validation() -> None:
    outcome = JobOutcome(
        state="rejected", reason="gantry tilt", output_paths=[Path("/w/a.dcm")], result={"x": 1}
    )
    assert JobOutcome.from_json(outcome.to_json()) == outcome
    with pytest.raises(ValueError):
        JobOutcome(state="done")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        JobOutcome(state="succeeded", result={"bad": object()}).to_json()


def test_stage_events_keep_malformed_entries_visible() -> None:
    result = {
        "stages": [
            {"stage": "select", "message": "3 series", "duration_s": 1},
            {"stage": "segment"},
            "garbage",
        ]
    }
    assert stage_events(result) == [
        ("select", "3 series", 1.0),
        ("segment", "", None),
        ("stage", "malformed stage entry: 'garbage'", None),
    ]
    assert stage_events({}) == []


def _write(path: Path, sop_class: str) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID("2.25.42")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = sop_class
    dataset.SOPInstanceUID = "2.25.42"
    dataset.save_as(path, enforce_file_format=True)
    return path


def test_identify_output(tmp_path: Path) -> None:
    work = tmp_path / "attempt-1"
    work.mkdir()
    found = identify_output(_write(work / "seg.dcm", SegmentationStorage), work)
    assert (found.sop_instance_uid, found.sop_class_uid, found.kind) == (
        "2.25.42",
        SegmentationStorage,
        OutputKind.SEG,
    )
    rtdose = identify_output(_write(work / "rtdose.dcm", RTDoseStorage), work)
    assert rtdose.kind is OutputKind.RTDOSE
    with pytest.raises(OutputError, match="outside"):
        identify_output(_write(tmp_path / "seg.dcm", SegmentationStorage), work)
    with pytest.raises(OutputError, match="unsupported SOP Class"):
        identify_output(_write(work / "ct.dcm", CTImageStorage), work)
    (work / "notes.txt").write_text("not DICOM")
    with pytest.raises(OutputError, match="not a readable DICOM"):
        identify_output(work / "notes.txt", work)
    with pytest.raises(OutputError):
        identify_output(work / "missing.dcm", work)


def test_jobs_config_defaults_and_validation() -> None:
    config = JobsConfig()
    assert (config.backend, config.workers, config.max_attempts, config.start_method) == (
        "local",
        1,
        3,
        "spawn",
    )
    assert config.handler == "dicomnode.pipeline_job:run_job"
    assert (config.warm_workers, config.max_jobs_per_worker) == (True, 50)
    for bad in (
        {"workers": 0},
        {"max_jobs_per_worker": 0},
        {"handler": "no-colon"},
        {"start_method": "fork"},
        {"x": 1},
    ):
        with pytest.raises(ValueError):
            JobsConfig.model_validate(bad)
