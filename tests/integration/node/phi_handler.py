"""A job handler for the log and file-mode test: in the worker process it builds the rejection
SR of the study with highdicom (the source's single-component patient name makes highdicom
warn, quoting it), gives pydicom an invalid patient value to warn about, and writes the SR
into its work folder."""

from __future__ import annotations

import pydicom
from pydicom import config as pydicom_config

from dicomnode.jobs.handler import JobOutcome, JobSpec
from pipeline.encode.content import AlgorithmInfo, QualityFlag, RejectionContent
from pipeline.encode.sr import build_rejection_sr

INVALID_BIRTH_DATE = "Doe1960"
"""The value pydicom is given for Patient's Birth Date (not a DA)."""


def run_job(spec: JobSpec) -> JobOutcome:
    """Build and write the rejection SR; succeed without outputs to deliver."""
    source = pydicom.dcmread(spec.instance_paths[0], stop_before_pixels=True)
    rejection = RejectionContent((QualityFlag("NO_PORTAL_PHASE", "No portal-venous series"),))
    sr = build_rejection_sr([source], rejection, AlgorithmInfo("demo", "1", is_demo=True))
    sr.save_as(spec.work_dir / "sr.dcm", enforce_file_format=True)
    pydicom_config.settings.writing_validation_mode = pydicom_config.WARN
    source.PatientBirthDate = INVALID_BIRTH_DATE
    return JobOutcome(state="succeeded", result={"sr": "sr.dcm"})
