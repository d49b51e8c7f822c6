"""End to end with real peers: a study with only a thick arterial series cannot be measured.
The job ends ``rejected`` with a reason a person understands, recorded in the audit database,
and (``pipeline.write_rejection_report``) a short SR and PDF saying why reach Orthanc."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_node import (
    DESTINATION,
    Study,
    orthanc_instance,
    pdf_text,
    push_to_node,
    sr_texts,
    store_in_pacs,
    wait_for_job,
)
from loopback_peers import OrthancPeer
from pydicom.uid import Comprehensive3DSRStorage, EncapsulatedPDFStorage
from served_node import ServedNode

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState, JobState, OutputKind

pytestmark = [pytest.mark.peers]


@pytest.mark.parametrize("audit_url", ["sqlite"], indirect=True)
def test_thick_arterial_only_study_is_rejected_with_a_report(
        arterial_only_study: Study, pacs: OrthancPeer, node: ServedNode, audit_url: str,
        tmp_path: Path) -> None:
    study = arterial_only_study
    assert study.expected_series_uid is None
    push_to_node(pacs, store_in_pacs(pacs, study))
    audit = AuditLog.from_url(audit_url)
    try:
        detail = wait_for_job(audit, study.study_instance_uid, node)
    finally:
        audit.dispose()

    # rejected, not failed: one attempt, with the reason in words
    job = detail.job
    assert job.state is JobState.REJECTED
    assert job.attempts == 1
    reason = job.error or ""
    assert "no acceptable series" in reason
    assert "arterial" in reason and "portal_venous" in reason  # the phase that was missing
    assert "5 mm" in reason  # and that the series is thick
    assert job.result is not None and job.result["reason"] == reason
    assert job.result["series"]["chosen_series_instance_uid"] is None
    finished = [e.message for e in detail.events if e.stage == "finished"]
    assert finished == [f"rejected: {reason}"]
    assert {i.sop_instance_uid for i in detail.instances} == study.sop_instance_uids

    # the rejection SR and PDF were delivered to Orthanc, into the same study
    assert sorted(o.kind for o in detail.outputs) == sorted([OutputKind.SR, OutputKind.PDF])
    assert {(d.output_id, d.destination, d.state) for d in detail.deliveries} == {
        (o.id, DESTINATION, DeliveryState.DELIVERED) for o in detail.outputs}
    by_kind = {o.kind: orthanc_instance(pacs, o.sop_instance_uid) for o in detail.outputs}
    sr, pdf = by_kind[OutputKind.SR], by_kind[OutputKind.PDF]
    assert sr.SOPClassUID == Comprehensive3DSRStorage
    assert pdf.SOPClassUID == EncapsulatedPDFStorage
    assert {sr.StudyInstanceUID, pdf.StudyInstanceUID} == {study.study_instance_uid}

    # both say why, in words
    sr_text = " ".join(sr_texts(sr))
    assert "phase_not_accepted" in sr_text or "arterial not in" in sr_text, sr_text[:2000]
    report = " ".join(pdf_text(pdf, tmp_path).split())
    assert "not performed" in report.lower(), report[:2000]
    assert "arterial not in" in report, report[:2000]
