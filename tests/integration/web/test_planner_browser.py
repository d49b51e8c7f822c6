"""The planner's workflow in headless Chromium against a real node delivering to a real
Orthanc: a wrong input is named field by field and nothing is written; valid inputs are
reviewed beside the job's result and approved; the new SR and PDF reach Orthanc in the
job's study, and the approval is in the job's audit chain."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from dashboard_site import Site, log_in
from loopback_peers import OrthancPeer, run_orthanc
from playwright.sync_api import Page, expect

from dicomnode.audit.rows import DeliveryState, OutputKind
from dicomnode.delivery.config import DimseDestinationConfig
from dicomnode.delivery.dimse import CStoreSender
from dicomnode.outbox.config import OutboxConfig
from dicomnode.outbox.outbox import Outbox
from dicomnode.planning.versions import result_versions

pytestmark = pytest.mark.slow  # the site runs the real pipeline once (~70 s on 2 idle cores)

DELIVERY_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancPeer]:
    """Orthanc 1.10, the PACS the node delivers to."""
    with run_orthanc(tmp_path_factory.mktemp("orthanc"), dicomweb=False) as peer:
        yield peer


@pytest.fixture(scope="module")
def outbox(site: Site, orthanc: OrthancPeer) -> Iterator[Outbox]:
    """The node's outbox sending every succeeded job's outputs to Orthanc by C-STORE."""
    sender = CStoreSender(
        DimseDestinationConfig(
            name="pacs", host="127.0.0.1", port=orthanc.dicom_port, called_aet=orthanc.aet
        )
    )
    running = Outbox(
        site.audit, {"pacs": sender}, OutboxConfig(poll_interval_s=0.2, backoff_base_s=0.5)
    )
    running.start()
    yield running
    running.stop()


def _result_folder(site: Site) -> Path:
    seg = next(o for o in site.audit.get_job(site.pipeline_job).outputs if o.kind is OutputKind.SEG)
    return Path(seg.path).parent


def _in_orthanc(orthanc: OrthancPeer, sop_instance_uid: str) -> str:
    """Orthanc's id of the instance, waiting for the outbox to deliver it."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while not (found := orthanc.lookup(sop_instance_uid)):
        assert time.monotonic() < deadline, f"{sop_instance_uid} never reached Orthanc"
        time.sleep(0.5)
    return str(found[0]["ID"])


def _wait_until_delivered(site: Site, sop_instance_uids: set[str | None]) -> None:
    """Wait until the audit database records every one of the instances as delivered."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        states = {
            d.state
            for d in site.audit.get_job(site.pipeline_job).deliveries
            if d.sop_instance_uid in sop_instance_uids
        }
        if states == {DeliveryState.DELIVERED}:
            return
        assert time.monotonic() < deadline, f"deliveries still {states}"
        time.sleep(0.2)


def test_planner_enters_reviews_and_approves_a_plan_that_reaches_pacs(
    page: Page, site: Site, orthanc: OrthancPeer, outbox: Outbox, tmp_path: Path
) -> None:
    folder = _result_folder(site)
    versions_before = sorted(result_versions(folder))
    log_in(page, site, "paula")
    page.goto(f"{site.base_url}/jobs/{site.pipeline_job}")
    expect(page.locator("#plan-versions")).to_contain_text("automatic result")
    for image in page.locator("#overlays img").all():  # the SEG over the CT, rendered
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")

    page.fill("#plan-lung_shunt_percent", "120")
    page.select_option("#plan-territory", "segments")
    page.fill("#plan-tumour_to_normal_ratio", "three")
    page.click("#plan-review")
    expect(page.locator("#error-lung_shunt_percent")).to_have_text(
        "120 % is out of range (0 <= value < 100 %)"
    )
    expect(page.locator("#error-territory_segments")).to_contain_text("give the segments")
    expect(page.locator("#error-tumour_to_normal_ratio")).to_contain_text("not a number")
    expect(page.locator("#plan-compare")).to_have_count(0)
    assert sorted(result_versions(folder)) == versions_before  # nothing written

    page.fill("#plan-lung_shunt_percent", "6")
    page.select_option("#plan-territory", "right")
    page.fill("#plan-tumour_to_normal_ratio", "3")
    page.select_option("#plan-microspheres", "resin")
    page.fill("#plan-calibration_time", "2026-03-02T12:00")
    page.fill("#plan-administration_time", "2026-03-05T12:00")
    page.fill("#plan-residual_percent", "1")
    page.click("#plan-review")
    compare = page.locator("#plan-compare")
    expect(compare).to_contain_text("Version 2 (this plan)")
    expect(compare).to_contain_text("EANM2022-RESIN-NL-UNILOBAR")
    expect(compare).to_contain_text("decay factor 2.178")
    expect(compare).to_contain_text("normal liver of the territory")
    assert sorted(result_versions(folder)) == versions_before  # a review writes nothing
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)

    page.click("#plan-approve")
    expect(page.locator("#flash")).to_contain_text("plan version 2 approved by paula")
    expect(page.locator("#plan-versions")).to_contain_text("paula")
    [approval] = site.audit.plan_approvals(site.pipeline_job)
    assert approval.result_version == 2 and approval.approved_by == "paula"
    assert approval.inputs["planner"]["lung_shunt_fraction"] == 0.06

    first_sr = next(
        o for o in site.audit.get_job(site.pipeline_job).outputs if o.kind is OutputKind.SR
    )
    study_uid = site.audit.get_job(site.pipeline_job).job.study_instance_uid
    for uid in (approval.sr_sop_instance_uid, approval.pdf_sop_instance_uid):
        assert uid is not None
        study = orthanc.get(f"/instances/{_in_orthanc(orthanc, uid)}/study")
        assert study["MainDicomTags"]["StudyInstanceUID"] == study_uid
    stored = orthanc.instance_file(_in_orthanc(orthanc, approval.sr_sop_instance_uid))
    stored_sr = pydicom.dcmread(io.BytesIO(stored))
    predecessor = stored_sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0]
    assert (
        predecessor.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == first_sr.sop_instance_uid
    )

    plan_uids = {approval.sr_sop_instance_uid, approval.pdf_sop_instance_uid}
    _wait_until_delivered(site, plan_uids)  # Orthanc answered before the outbox recorded it
    page.reload()
    expect(page.locator("#plan-versions")).to_contain_text("pacs: delivered")
    actions = page.locator("#admin-actions")
    expect(actions).to_contain_text("approve_plan")
    expect(actions).to_contain_text("result version 2")
    detail = site.audit.get_job(site.pipeline_job)
    assert ("paula", "approve_plan") in [(a.user, a.action) for a in detail.admin_actions]


def test_only_a_planner_may_approve(page: Page, site: Site) -> None:
    log_in(page, site, "olivia")
    page.goto(f"{site.base_url}/jobs/{site.pipeline_job}")
    expect(page.locator("#plan-form")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    approvals = site.audit.plan_approvals(site.pipeline_job)
    response = page.request.post(
        f"{site.base_url}/jobs/{site.pipeline_job}/plan/approve",
        form={"csrf_token": token or "", "lung_shunt_percent": "5", "expected_version": "9"},
    )
    assert response.status == 403
    assert site.audit.plan_approvals(site.pipeline_job) == approvals


def test_a_stale_review_or_a_forged_form_writes_nothing(page: Page, site: Site) -> None:
    log_in(page, site, "paula")
    page.goto(f"{site.base_url}/jobs/{site.pipeline_job}")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    folder = _result_folder(site)
    newest = max(result_versions(folder))
    approve = f"{site.base_url}/jobs/{site.pipeline_job}/plan/approve"
    stale = page.request.post(
        approve,
        form={"csrf_token": token, "lung_shunt_percent": "5", "expected_version": str(newest)},
    )
    assert stale.status == 409  # reviewed as version `newest`, which exists by now
    assert "review it again" in stale.text()
    forged = page.request.post(
        approve, form={"lung_shunt_percent": "5", "expected_version": str(newest + 1)}
    )
    assert forged.status == 403  # no CSRF token
    assert max(result_versions(folder)) == newest
    last = site.audit.get_job(site.pipeline_job).admin_actions[-1]
    assert (last.user, last.action) == ("paula", "approve_plan_refused")
