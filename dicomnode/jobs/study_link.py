"""Linking an NM/PET study to the planning CT study of the same patient, at job creation.

The MAA SPECT/CT or Y-90 PET/CT of a SIRT work-up usually arrives as a study of its own, days
or weeks after the planning CT. When a completed group's study holds NM or PET series, the
node looks for the planning CT study of the same PatientID within
``pipeline.dosimetry.link_window_days`` (:func:`pipeline.select.nm_series.
find_planning_study`) and adds its CT series to the job, so that the pipeline segments the
planning CT and carries its regions into the emission images. Each decision is a job event
(stage ``study link``); a job with no planning CT linked is rejected by the pipeline with
that reason (:func:`pipeline.run.study.run_study`). A planning CT that arrives after the
NM/PET study's job is linked by :mod:`dicomnode.jobs.study_relink` with the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from dicomnode.audit.ports import StudyLinkLog
from pipeline.select.nm_series import NmLinkConfig, find_planning_study

LINK_STAGE = "study link"
"""Stage name of the job events recording a link decision."""


@dataclass(frozen=True)
class StudyLink:
    """What linking decided for an NM/PET study.

    Parameters
    ----------
    planning_study_instance_uid : str or None
        The linked planning CT study (None: none found).
    series_instance_uids : tuple of str
        Its CT series, added to the job.
    message : str
        The decision in words (job event; no PHI).
    """

    planning_study_instance_uid: str | None
    series_instance_uids: tuple[str, ...]
    message: str


def link_planning_ct(
    study_instance_uid: str, audit: StudyLinkLog, config: NmLinkConfig
) -> StudyLink | None:
    """The planning CT series to add to the job of an NM/PET study.

    Parameters
    ----------
    study_instance_uid : str
        The study of the completed group.
    audit : StudyLinkLog
        Study and series records.
    config : NmLinkConfig
        The link window.

    Returns
    -------
    StudyLink or None
        None when the study holds no NM/PET series (nothing to link).
    """
    study = audit.study_summary(study_instance_uid)
    if study is None or not study.is_emission:
        return None
    window = f"{config.link_window_days:g} days"
    if not study.patient_id:
        return StudyLink(
            None, (), "NM/PET study without a PatientID: no planning CT study can be linked"
        )
    planning = find_planning_study(study, audit.patient_studies(study.patient_id), config)
    if planning is None:
        return StudyLink(
            None,
            (),
            "no planning CT study of the same patient within "
            f"{window} of the NM/PET study: not linked",
        )
    series = tuple(audit.study_series(planning.study_instance_uid, "CT"))
    return StudyLink(
        planning.study_instance_uid,
        series,
        f"planning CT study {planning.study_instance_uid} (StudyDate "
        f"{planning.study_date}, within {window}) linked: {len(series)} CT "
        "series added",
    )


class PlanningCTLinker:
    """Links the planning CT into the jobs of NM/PET studies and records each decision.

    Parameters
    ----------
    audit : StudyLinkLog
        Study and series records; the job events are written there.
    config : NmLinkConfig
        The link window (``pipeline.dosimetry.link_window_days``).
    """

    def __init__(self, audit: StudyLinkLog, config: NmLinkConfig) -> None:
        self._audit = audit
        self._config = config

    def link(self, study_instance_uid: str) -> StudyLink | None:
        """:func:`link_planning_ct` of the study (None: not an NM/PET study)."""
        return link_planning_ct(study_instance_uid, self._audit, self._config)

    def record(self, job_id: int, link: StudyLink) -> None:
        """Record the decision as a ``study link`` event of the job."""
        self._audit.add_job_event(job_id, stage=LINK_STAGE, message=link.message)
