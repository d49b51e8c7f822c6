"""A patient's studies from the audit DB, linked NM/PET -> planning CT (SQLite and PostgreSQL)."""

from __future__ import annotations

from audit_testing import Receive

from dicomnode.audit.log import AuditLog
from pipeline.select.nm_series import find_planning_study


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
