"""A patient's studies from the audit DB, linked NM/PET -> planning CT (SQLite and PostgreSQL),
also when the planning CT arrives after the NM/PET study's job."""

from __future__ import annotations

from audit_testing import Receive

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState
from dicomnode.completion import CompletedGroup
from dicomnode.jobs.study_link import LINK_STAGE, PlanningCTLinker, link_planning_ct
from dicomnode.jobs.study_relink import LatePlanningCTLinker
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


def _creator(audit: AuditLog, window_days: float = 30) -> SeriesJobCreator:
    """The node's job creator, linking in both directions."""
    config = NmLinkConfig(link_window_days=window_days)
    return SeriesJobCreator(audit, lambda: None, PlanningCTLinker(audit, config),
                            LatePlanningCTLinker(audit, config))


def _jobs(audit: AuditLog, study: str) -> list[tuple[int, set[str]]]:
    """(job id, its series) of a study's jobs, oldest first."""
    return [(j.job.id, set(j.job.series_instance_uids))
            for j in reversed(audit.list_jobs(study_instance_uid=study))]


def _maa_first(audit: AuditLog, receive: Receive, patient: str = "P-NM") -> int:
    """An MAA SPECT/CT study (1.5.2, 20250302) completes with no planning CT and its job is
    rejected; returns the job id."""
    _series(receive, "1.5.2", "1.5.2.1", "NM", "20250302", patient)
    _series(receive, "1.5.2", "1.5.2.2", "CT", "20250302", patient)
    _creator(audit)(CompletedGroup("1.5.2", ("1.5.2.1", "1.5.2.2"), "MODALITY"))
    claimed = audit.claim_next_job("w")
    assert claimed is not None
    audit.finish_job(claimed.id, state="rejected", reason="NM/PET images without a planning CT")
    return claimed.id


def _link_events(audit: AuditLog, job_id: int) -> list[str]:
    return [e.message for e in audit.get_job(job_id).events if e.stage == LINK_STAGE]


def test_planning_ct_after_the_nm_study_queues_its_job_again(audit: AuditLog,
                                                             receive: Receive) -> None:
    first = _maa_first(audit, receive)
    _series(receive, "1.5.1", "1.5.1.1", "CT", "20250220")         # the planning CT, later
    _series(receive, "1.5.1", "1.5.1.2", "CT", "20250220")
    _creator(audit)(CompletedGroup("1.5.1", ("1.5.1.1", "1.5.1.2"), "PACS"))
    assert _jobs(audit, "1.5.1") == [(first + 1, {"1.5.1.1", "1.5.1.2"})]   # the CT's own job
    jobs = _jobs(audit, "1.5.2")
    assert [series for _, series in jobs] == [
        {"1.5.2.1", "1.5.2.2"}, {"1.5.2.1", "1.5.2.2", "1.5.1.1", "1.5.1.2"}]
    relinked = audit.get_job(jobs[1][0]).job
    assert relinked.state is JobState.QUEUED and relinked.calling_ae == "MODALITY"
    (event,) = _link_events(audit, relinked.id)
    assert "arrived after job" in event and "1.5.1 (StudyDate 20250220" in event
    assert "P-NM" not in event                                       # no PHI in events
    assert _link_events(audit, first)[-1] == (
        f"planning CT study 1.5.1 arrived later: re-linked in job {relinked.id}")


def test_a_ct_study_in_two_groups_or_a_second_ct_study_relinks_once(audit: AuditLog,
                                                                    receive: Receive) -> None:
    _maa_first(audit, receive)
    _series(receive, "1.5.1", "1.5.1.1", "CT", "20250220")
    _series(receive, "1.5.1", "1.5.1.2", "CT", "20250220")
    creator = _creator(audit)
    creator(CompletedGroup("1.5.1", ("1.5.1.1",), "PACS"))
    creator(CompletedGroup("1.5.1", ("1.5.1.2",), "PACS"))
    _series(receive, "1.5.3", "1.5.3.1", "CT", "20250301")          # a closer CT, later still
    creator(CompletedGroup("1.5.3", ("1.5.3.1",), "PACS"))
    assert [series for _, series in _jobs(audit, "1.5.2")] == [
        {"1.5.2.1", "1.5.2.2"}, {"1.5.2.1", "1.5.2.2", "1.5.1.1", "1.5.1.2"}]


def test_nm_study_whose_job_had_its_ct_is_left_alone(audit: AuditLog, receive: Receive) -> None:
    _nm_work_up(receive)                                             # CT first: linked
    creator = _creator(audit)
    creator(CompletedGroup("1.3.2", ("1.3.2.1", "1.3.2.2"), "PACS"))
    _series(receive, "1.3.3", "1.3.3.1", "CT", "20250301")           # another CT study
    creator(CompletedGroup("1.3.3", ("1.3.3.1",), "PACS"))
    creator(CompletedGroup("1.3.1", ("1.3.1.1", "1.3.1.2"), "PACS"))  # the linked one again
    assert len(_jobs(audit, "1.3.2")) == 1


def test_ct_outside_the_window_another_patient_or_no_ct_relinks_nothing(
        audit: AuditLog, receive: Receive) -> None:
    first = _maa_first(audit, receive)
    creator = _creator(audit)
    _series(receive, "1.6.1", "1.6.1.1", "CT", "20250130")          # 31 days before
    _series(receive, "1.6.2", "1.6.2.1", "CT", "20250302", patient="P-OTHER")
    _series(receive, "1.6.3", "1.6.3.1", "MR", "20250301")          # no CT series
    _series(receive, "1.6.3", "1.6.3.2", "SR", "20250301")
    for study, series in (("1.6.1", ("1.6.1.1",)), ("1.6.2", ("1.6.2.1",)),
                          ("1.6.3", ("1.6.3.1", "1.6.3.2"))):
        creator(CompletedGroup(study, series, "PACS"))
    assert [job for job, _ in _jobs(audit, "1.5.2")] == [first]
    assert _link_events(audit, first) == [
        "no planning CT study of the same patient within 30 days of the NM/PET study: "
        "not linked"]


def test_relink_takes_the_planning_ct_the_forward_rule_takes(audit: AuditLog,
                                                             receive: Receive) -> None:
    first = _maa_first(audit, receive)
    creator = _creator(audit)
    _series(receive, "1.7.1", "1.7.1.1", "CT", "20250225")          # preferred: before the NM
    _series(receive, "1.7.2", "1.7.2.1", "CT", "20250305")          # after it, completes first
    creator(CompletedGroup("1.7.2", ("1.7.2.1",), "PACS"))
    assert [job for job, _ in _jobs(audit, "1.5.2")] == [first]
    creator(CompletedGroup("1.7.1", ("1.7.1.1",), "PACS"))
    assert [series for _, series in _jobs(audit, "1.5.2")][1:] == [
        {"1.5.2.1", "1.5.2.2", "1.7.1.1"}]


def test_cancelled_nm_job_is_not_queued_again(audit: AuditLog, receive: Receive) -> None:
    _series(receive, "1.5.2", "1.5.2.1", "NM", "20250302")
    creator = _creator(audit)
    creator(CompletedGroup("1.5.2", ("1.5.2.1",), "PACS"))
    (job, _), = _jobs(audit, "1.5.2")
    audit.cancel_job(job, by_user="admin")
    _series(receive, "1.5.1", "1.5.1.1", "CT", "20250220")
    creator(CompletedGroup("1.5.1", ("1.5.1.1",), "PACS"))
    assert len(_jobs(audit, "1.5.2")) == 1
