"""Linking a planning CT study that arrives after its NM/PET study (the reverse direction of
:mod:`dicomnode.jobs.study_link`).

An MAA SPECT/CT or Y-90 PET/CT study may reach the node before its planning CT (routed
first, or the CT re-sent later). Its job then holds no planning CT and is rejected. When a
study without NM/PET series completes, the node looks at the NM/PET studies of the same
PatientID whose most recent job holds no series of another study, asks the forward rule
(:func:`dicomnode.jobs.study_link.link_planning_ct`, i.e.
:func:`pipeline.select.nm_series.find_planning_study`) which planning CT each of them
belongs to now, and, where that is the study that just completed, queues a new job of the
NM/PET study with the planning CT series linked: the job the NM/PET study would have had if
the CT had come first.

Idempotent: once an NM/PET study's latest job holds a linked planning CT, later CT groups
and other CT studies leave it alone. A study whose latest job an administrator cancelled is
not re-queued.
"""

from __future__ import annotations

from dataclasses import dataclass

from dicomnode.audit.ports import StudyLinkLog
from dicomnode.audit.rows import JobState
from dicomnode.jobs.study_link import LINK_STAGE, StudyLink, link_planning_ct
from pipeline.select.nm_series import NmLinkConfig


@dataclass(frozen=True)
class LateLink:
    """A new job for an NM/PET study whose planning CT arrived after its latest job.

    Parameters
    ----------
    study_instance_uid : str
        The NM/PET study.
    series_instance_uids : tuple of str
        The series of its latest job followed by the planning CT series.
    calling_ae : str or None
        The calling AE title of its latest job (results return to whoever sent it).
    earlier_job_id : int
        Its latest job, which had no planning CT.
    link : StudyLink
        The forward rule's decision; ``message`` says that the CT arrived later.
    """

    study_instance_uid: str
    series_instance_uids: tuple[str, ...]
    calling_ae: str | None
    earlier_job_id: int
    link: StudyLink


def late_planning_links(
    study_instance_uid: str, audit: StudyLinkLog, config: NmLinkConfig
) -> list[LateLink]:
    """The NM/PET studies waiting for the planning CT study that just completed.

    Parameters
    ----------
    study_instance_uid : str
        The study of the completed group.
    audit : StudyLinkLog
        Study, series and job records.
    config : NmLinkConfig
        The link window (``pipeline.dosimetry.link_window_days``).

    Returns
    -------
    list of LateLink
        One per NM/PET study of the same PatientID whose latest job holds no linked series,
        was not cancelled, and for which the forward rule now chooses this study with at
        least one CT series; in the order of ``audit.patient_studies``. Empty for an
        NM/PET study, an unknown one, or one without a PatientID.
    """
    arrived = audit.study_summary(study_instance_uid)
    if arrived is None or arrived.is_emission or not arrived.patient_id:
        return []
    found = []
    for study in audit.patient_studies(arrived.patient_id):
        if not study.is_emission:
            continue
        job = audit.latest_study_job(study.study_instance_uid)
        if job is None or job.linked_series_instance_uids or job.state is JobState.CANCELLED:
            continue
        link = link_planning_ct(study.study_instance_uid, audit, config)
        if (link is None or link.planning_study_instance_uid != study_instance_uid
                or not link.series_instance_uids):
            continue
        message = (f"planning CT arrived after job {job.job_id} of this NM/PET study, "
                   f"re-linked: {link.message}")
        found.append(LateLink(
            study.study_instance_uid,
            job.own_series_instance_uids + link.series_instance_uids,
            job.calling_ae,
            job.job_id,
            StudyLink(link.planning_study_instance_uid, link.series_instance_uids, message),
        ))
    return found


class LatePlanningCTLinker:
    """Finds the NM/PET studies a newly completed planning CT study belongs to and records
    the re-link on both jobs.

    Parameters
    ----------
    audit : StudyLinkLog
        Study, series and job records; the job events are written there.
    config : NmLinkConfig
        The link window (``pipeline.dosimetry.link_window_days``).
    """

    def __init__(self, audit: StudyLinkLog, config: NmLinkConfig) -> None:
        self._audit = audit
        self._config = config

    def late_links(self, study_instance_uid: str) -> list[LateLink]:
        """:func:`late_planning_links` of the completed study."""
        return late_planning_links(study_instance_uid, self._audit, self._config)

    def record(self, job_id: int, late: LateLink) -> None:
        """Record the re-link as a ``study link`` event of the new job and, pointing to it,
        of the earlier one."""
        self._audit.add_job_event(job_id, stage=LINK_STAGE, message=late.link.message)
        self._audit.add_job_event(
            late.earlier_job_id,
            stage=LINK_STAGE,
            message=f"planning CT study {late.link.planning_study_instance_uid} arrived "
                    f"later: re-linked in job {job_id}",
        )
