"""Audit records for linking a patient's studies (NM/PET work-up to the planning CT): the
studies of a patient, their series, and what a study's latest job linked."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from dicomnode.audit import tables as m
from dicomnode.audit.rows import JobState, StudyJobRow
from dicomnode.audit.store import Store
from pipeline.select.nm_series import StudySummary


class StudyLinkRecords(Store):
    """Header summaries of a patient's studies, for
    :func:`pipeline.select.nm_series.find_planning_study`."""

    def patient_studies(self, patient_id: str) -> list[StudySummary]:
        """Every study of a PatientID with the modalities of its series, by StudyInstanceUID.

        Parameters
        ----------
        patient_id : str
            PatientID (an empty one matches nothing).

        Returns
        -------
        list of StudySummary
            One per study; ``modalities`` empty when no series row names one.
        """
        if not patient_id:
            return []
        with self._uow.read() as session:
            rows = session.execute(
                select(m.Study.study_instance_uid, m.Study.patient_id, m.Study.study_date,
                       m.Series.modality)
                .outerjoin(m.Series, m.Series.study_instance_uid == m.Study.study_instance_uid)
                .where(m.Study.patient_id == patient_id)
                .order_by(m.Study.study_instance_uid)
            ).all()
        modalities: dict[tuple[str, str | None, str | None], set[str]] = defaultdict(set)
        for uid, patient, date, modality in rows:
            found = modalities[(uid, patient, date)]
            if modality:
                found.add(str(modality).upper())
        return [StudySummary(uid, patient, date, frozenset(mods))
                for (uid, patient, date), mods in modalities.items()]

    def study_summary(self, study_instance_uid: str) -> StudySummary | None:
        """The summary of one study (None when the database does not know it)."""
        with self._uow.read() as session:
            study = session.execute(
                select(m.Study.patient_id, m.Study.study_date)
                .where(m.Study.study_instance_uid == study_instance_uid)
            ).first()
            if study is None:
                return None
            modalities = session.scalars(
                select(m.Series.modality)
                .where(m.Series.study_instance_uid == study_instance_uid)
            ).all()
        return StudySummary(study_instance_uid, study.patient_id, study.study_date,
                            frozenset(str(v).upper() for v in modalities if v))

    def study_series(self, study_instance_uid: str, modality: str) -> list[str]:
        """SeriesInstanceUIDs of the study's series of one Modality, sorted."""
        with self._uow.read() as session:
            return sorted(session.scalars(
                select(m.Series.series_instance_uid)
                .where(m.Series.study_instance_uid == study_instance_uid,
                       m.Series.modality == modality)
            ).all())

    def latest_study_job(self, study_instance_uid: str) -> StudyJobRow | None:
        """The study's most recent job (highest id), its series split into the study's own
        and those of other studies (a linked planning CT).

        Parameters
        ----------
        study_instance_uid : str
            The job's study.

        Returns
        -------
        StudyJobRow or None
            None when the study has no job.
        """
        with self._uow.read() as session:
            job = session.scalar(
                select(m.Job)
                .where(m.Job.study_instance_uid == study_instance_uid)
                .order_by(m.Job.id.desc())
                .limit(1)
            )
            if job is None:
                return None
            rows = session.execute(
                select(m.JobSeries.series_instance_uid, m.Series.study_instance_uid)
                .outerjoin(m.Series,
                           m.Series.series_instance_uid == m.JobSeries.series_instance_uid)
                .where(m.JobSeries.job_id == job.id)
                .order_by(m.JobSeries.series_instance_uid)
            ).all()
            job_id, state, calling_ae = job.id, JobState(job.state), job.calling_ae
        linked = {uid for uid, study in rows if study not in (None, study_instance_uid)}
        return StudyJobRow(
            job_id=job_id,
            state=state,
            calling_ae=calling_ae,
            own_series_instance_uids=tuple(uid for uid, _ in rows if uid not in linked),
            linked_series_instance_uids=tuple(sorted(linked)),
        )
