"""A patient's studies from the audit DB, linked NM/PET -> planning CT (SQLite and PostgreSQL)."""

from __future__ import annotations

from audit_testing import Receive

from dicomnode.audit.log import AuditLog
from dicomnode.completion import CompletedGroup
from dicomnode.jobs.study_link import LINK_STAGE, PlanningCTLinker, link_planning_ct
from dicomnode.service import SeriesJobCreator
from pipeline.select.nm_series import NmLinkConfig, find_planning_study


def _series(receive: Receive, study: str, series: str, modality: str, date: str,
            patient: str = "P-NM") -> None:
    receive(series, 1, study_uid=study,
            header={"PatientID": patient, "Modality": modality, "StudyDate": date})


def test_patient_studies_feed_the_planning_link(audit: AuditLog, receive: Receive) -> None:
    _series(receive, "1.2.1", "1.2.1.1", "CT", "20250220")        # planning CT
    _series(receive, "1.2.1", "1.2.1.2", "SR", "20250220")
    _series(receive, "1.2.2", "1.2.2.1", "NM", "20250302")        # MAA SPECT/CT
    _series(receive, "1.2.2", "1.2.2.2", "CT", "20250302")
    _series(receive, "1.2.3", "1.2.3.1", "CT", "20250301", patient="P-OTHER")
    studies = audit.patient_studies("P-NM")
    assert [(s.study_instance_uid, s.study_date, sorted(s.modalities)) for s in studies] == [
        ("1.2.1", "20250220", ["CT", "SR"]), ("1.2.2", "20250302", ["CT", "NM"])]
    maa = next(s for s in studies if s.is_emission)
    linked = find_planning_study(maa, studies)
    assert linked is not None and linked.study_instance_uid == "1.2.1"
    assert audit.patient_studies("") == []
    assert audit.patient_studies("NOBODY") == []


def _nm_work_up(receive: Receive) -> None:
    _series(receive, "1.3.1", "1.3.1.1", "CT", "20250220")        # planning CT, 2 series
    _series(receive, "1.3.1", "1.3.1.2", "CT", "20250220")
    _series(receive, "1.3.1", "1.3.1.3", "SR", "20250220")
    _series(receive, "1.3.2", "1.3.2.1", "NM", "20250302")        # MAA SPECT/CT, 10 days on
    _series(receive, "1.3.2", "1.3.2.2", "CT", "20250302")


def test_link_adds_the_planning_ct_series_of_the_same_patient(audit: AuditLog,
                                                              receive: Receive) -> None:
    _nm_work_up(receive)
    link = link_planning_ct("1.3.2", audit, NmLinkConfig(link_window_days=30))
    assert link is not None
    assert link.planning_study_instance_uid == "1.3.1"
    assert link.series_instance_uids == ("1.3.1.1", "1.3.1.2")
    assert "linked" in link.message and "P-NM" not in link.message   # no PHI in events
    # a CT study is not linked to anything; a narrower window finds no planning CT
    assert link_planning_ct("1.3.1", audit, NmLinkConfig()) is None
    narrow = link_planning_ct("1.3.2", audit, NmLinkConfig(link_window_days=5))
    assert narrow is not None and narrow.series_instance_uids == ()
    assert "within 5 days" in narrow.message
    assert link_planning_ct("9.9.9", audit, NmLinkConfig()) is None   # unknown study


def test_job_of_an_nm_study_holds_the_linked_ct_and_an_audit_event(audit: AuditLog,
                                                                   receive: Receive) -> None:
    _nm_work_up(receive)
    creator = SeriesJobCreator(audit, lambda: None, PlanningCTLinker(audit, NmLinkConfig()))
    creator(CompletedGroup("1.3.2", ("1.3.2.1", "1.3.2.2"), "PACS"))
    job = audit.list_jobs()[0].job
    paths = audit.job_instance_paths(job.id)
    assert {p.split("/")[2] for p in paths} == {"1.3.1.1", "1.3.1.2", "1.3.2.1", "1.3.2.2"}
    events = [e for e in audit.get_job(job.id).events if e.stage == LINK_STAGE]
    assert len(events) == 1 and "1.3.1" in events[0].message


def test_nm_study_without_planning_ct_records_why(audit: AuditLog, receive: Receive) -> None:
    _series(receive, "1.4.2", "1.4.2.1", "PT", "20250302", patient="P-ALONE")
    _series(receive, "1.4.2", "1.4.2.2", "CT", "20250302", patient="P-ALONE")
    creator = SeriesJobCreator(audit, lambda: None, PlanningCTLinker(audit, NmLinkConfig()))
    creator(CompletedGroup("1.4.2", ("1.4.2.1", "1.4.2.2"), "PACS"))
    job = audit.list_jobs()[0].job
    assert {p.split("/")[2] for p in audit.job_instance_paths(job.id)} == {"1.4.2.1",
                                                                          "1.4.2.2"}
    events = [e for e in audit.get_job(job.id).events if e.stage == LINK_STAGE]
    assert len(events) == 1 and "no planning CT study" in events[0].message
