"""Job handlers for the Celery tests and bench/scale.py, run inside ``dicomnode worker``.

``fixed_cost:handler`` takes ``DICOMNODE_TEST_JOB_S`` seconds (sleeping, or burning one CPU
core when ``DICOMNODE_TEST_JOB_CPU=1``) and writes one encapsulated PDF whose SOP Instance
UID is derived from the job id, as the pipeline derives its output UIDs from the job's
identity: a rerun of the job writes the same object again. ``fixed_cost:mixed`` runs the real
study pipeline (``dicomnode.pipeline_job:run_job``, models loaded in ``prepare``) on jobs
whose series hold real DICOM files (``*.dcm`` names), and the fixed cost on the others.
``fixed_cost:segment_marked`` runs the real pipeline and, when an attempt enters the segment
stage, touches ``<DICOMNODE_TEST_MARK_DIR>/<DICOMNODE_TEST_WORKER>-job-<id>`` and holds the
stage ``DICOMNODE_TEST_SEGMENT_HOLD_S`` seconds (so that a test can kill the worker while it
segments).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian, generate_uid

from dicomnode.jobs.handler import JobOutcome, JobSpec
from dicomnode.pipeline_job import run_job
from pipeline.config import PipelineConfig
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.result import SegmentationResult
from pipeline.volume import CTVolume

FAKE_SUFFIX = ".fake"
"""Name suffix of the instance files of fixed-cost jobs (their content is not DICOM)."""


def _spend(seconds: float) -> None:
    if os.environ.get("DICOMNODE_TEST_JOB_CPU") == "1":
        end = time.process_time() + seconds
        total = 0
        while time.process_time() < end:
            total += sum(range(2000))
    else:
        time.sleep(seconds)


def pdf_output(spec: JobSpec) -> Path:
    """Write a minimal encapsulated PDF with a UID derived from the job id."""
    meta = FileMetaDataset()
    uid = generate_uid(entropy_srcs=[f"dicomnode-test-job-{spec.job_id}", "PDF"])
    meta.MediaStorageSOPClassUID = EncapsulatedPDFStorage
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.SOPInstanceUID = uid
    ds.StudyInstanceUID = spec.study_instance_uid
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[f"dicomnode-test-job-{spec.job_id}"])
    ds.Modality = "DOC"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = b"%PDF-1.4\n%%EOF\n"
    path = spec.work_dir / "summary-pdf.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def handler(spec: JobSpec) -> JobOutcome:
    """The fixed-cost job: ``DICOMNODE_TEST_JOB_S`` seconds, one PDF output."""
    started = time.perf_counter()
    _spend(float(os.environ.get("DICOMNODE_TEST_JOB_S", "1")))
    stage = {"stage": "fixed cost", "message": "", "duration_s": time.perf_counter() - started}
    return JobOutcome(
        state="succeeded",
        output_paths=[pdf_output(spec)],
        result={"stages": [stage], "pid": os.getpid()},
    )


class Mixed:
    """The pipeline for real studies, the fixed cost for the others (a warm handler)."""

    def prepare(self, pipeline: PipelineConfig) -> None:
        """Load the pipeline's models (once per worker process)."""
        run_job.prepare(pipeline)

    def run(self, spec: JobSpec) -> JobOutcome:
        """One job attempt."""
        if spec.instance_paths and spec.instance_paths[0].suffix != FAKE_SUFFIX:
            return run_job.run(spec)
        return handler(spec)


mixed = Mixed()


class SegmentMarked:
    """The pipeline, announcing each segmentation by a marker file and holding it a while."""

    def __init__(self) -> None:
        self._job_id: int | None = None

    def prepare(self, pipeline: PipelineConfig) -> None:
        """Load the models and wrap the engine's segmentation (once per worker process)."""
        original = SegmentationEngine.segment
        handler = self

        def segment(engine: SegmentationEngine, volume: CTVolume) -> SegmentationResult:
            marks = Path(os.environ["DICOMNODE_TEST_MARK_DIR"])
            (marks / f"{os.environ['DICOMNODE_TEST_WORKER']}-job-{handler._job_id}").touch()
            time.sleep(float(os.environ.get("DICOMNODE_TEST_SEGMENT_HOLD_S", "0")))
            return original(engine, volume)

        SegmentationEngine.segment = segment  # type: ignore[method-assign]
        run_job.prepare(pipeline)

    def run(self, spec: JobSpec) -> JobOutcome:
        """One job attempt of the real pipeline."""
        self._job_id = spec.job_id
        return run_job.run(spec)


segment_marked = SegmentMarked()
