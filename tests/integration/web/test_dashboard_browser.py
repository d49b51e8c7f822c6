"""The dashboard in headless Chromium: log in, find the pipeline's job, open it, retry a
failed job and see its state change; anonymous and viewer access refused."""

from __future__ import annotations

import pytest
from dashboard_site import Site, log_in
from playwright.sync_api import Page, expect

from dicomnode.audit.rows import JobState

pytestmark = pytest.mark.slow  # the site runs the real pipeline once (~70 s on 2 idle cores)


def test_anonymous_is_sent_to_the_login_form(page: Page, site: Site) -> None:
    page.goto(f"{site.base_url}/jobs/{site.failed_job}")
    assert page.url == f"{site.base_url}/login?next=%2Fjobs%2F{site.failed_job}"
    page.fill("input[name=username]", "victor")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Unknown user or wrong password.")


def test_operator_finds_and_opens_the_pipeline_job(page: Page, site: Site) -> None:
    log_in(page, site, "olivia")
    page.click("text=Jobs")
    page.fill("input[name=patient_id]", site.patient_id)
    page.select_option("select[name=state]", "succeeded")
    page.click("form.search button")
    rows = page.locator("#job-list tr")
    expect(rows).to_have_count(2)  # the header and the pipeline's job
    page.click(f"#job-list a[href='/jobs/{site.pipeline_job}']")
    expect(page.locator("#job-state")).to_have_text("succeeded")
    expect(page.locator("#demo-notice")).to_have_text("Demo model — not for clinical use")
    expect(page.locator("#selection")).to_contain_text("Portalvenös 2.5mm")
    expect(page.locator("#input-series")).to_contain_text("✔")
    expect(page.locator("#volumes")).to_contain_text("liver")
    expect(page.locator("#confidence")).to_contain_text("Confidence score")
    expect(page.locator("#flr")).to_contain_text("telv_ml")
    expect(page.locator("#events")).to_contain_text("segment")
    detail = site.audit.get_job(site.pipeline_job)
    expect(page.locator("#outputs tr")).to_have_count(1 + len(detail.outputs))
    assert {o.kind.value for o in detail.outputs} == {"SEG", "SR", "PDF"}
    assert "#retry" not in page.content()


def test_viewer_cannot_retry(page: Page, site: Site) -> None:
    log_in(page, site, "victor")
    page.goto(f"{site.base_url}/jobs/{site.failed_job}")
    expect(page.locator("#job-state")).to_have_text("dead_lettered")
    expect(page.locator("#retry")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(
        f"{site.base_url}/jobs/{site.failed_job}/retry", form={"csrf_token": token or ""}
    )
    assert response.status == 403
    assert site.audit.get_job(site.failed_job).job.state is JobState.DEAD_LETTERED


def test_operator_retries_the_failed_job(page: Page, site: Site) -> None:
    log_in(page, site, "olivia")
    page.goto(f"{site.base_url}/jobs?state=dead_lettered")
    page.click(f"#job-list a[href='/jobs/{site.failed_job}']")
    expect(page.locator("#job-state")).to_have_text("dead_lettered")
    expect(page.locator("#job-error")).to_contain_text("synthetic failure")
    page.click("#retry")
    expect(page.locator("#job-state")).to_have_text("queued")
    expect(page.locator("#flash")).to_contain_text("requeued (was dead_lettered)")
    expect(page.locator("#admin-actions")).to_contain_text("olivia")
    actions = site.audit.get_job(site.failed_job).admin_actions
    assert [(a.user, a.action) for a in actions] == [("olivia", "retry")]
