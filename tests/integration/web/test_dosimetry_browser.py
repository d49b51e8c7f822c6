"""The job page's image-based dosimetry in headless Chromium: a Tc-99m MAA SPECT/CT study
(``dicomnode synth --nm maa``) run by the real pipeline with its planning CT linked in; a
logged-in user sees the job's own ``result.json`` figures (LSF of the SPECT and of the planar
views, T/N, the registration quality, the region table) and the DVH plot loaded in the page;
a job without NM images has no dosimetry block."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dashboard_site import Site, log_in
from playwright.sync_api import Page, expect

from dicomnode.audit.rows import JobState
from dicomnode.web.plan_view import result_folder
from pipeline.dosimetry.config import DVH_FILE

pytestmark = pytest.mark.slow  # the real pipeline runs twice (the site's job, the MAA job)

COLUMNS = {
    "Source": None,
    "Region": "name",
    "Volume mL": "volume_ml",
    "Mean Gy": "mean_gy",
    "D50 Gy": "d50_gy",
    "D70 Gy": "d70_gy",
    "D90 Gy": "d90_gy",
    "V70 %": "v70_percent",
    "V100 %": "v100_percent",
    "V205 %": "v205_percent",
}
"""The region table's headers and the ``result.json`` region key each column shows."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CELLS = "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))"


def _result(site: Site, job_id: int) -> dict[str, Any]:
    """The job's ``result.json`` as its result folder holds it."""
    detail = site.audit.get_job(job_id)
    assert detail.job.state is JobState.SUCCEEDED, detail.job.error
    folder = result_folder(detail)
    assert folder is not None
    result: dict[str, Any] = json.loads((folder / "result.json").read_text())
    return result


def _dvh_file(site: Site, job_id: int) -> Path:
    folder = result_folder(site.audit.get_job(job_id))
    assert folder is not None
    return folder / DVH_FILE


def test_the_dosimetry_block_shows_the_jobs_own_figures(
    page: Page, site: Site, maa_job: int
) -> None:
    result = _result(site, maa_job)
    dosimetry = result["dosimetry"]
    assert dosimetry["error"] is None and dosimetry["planar"]["error"] is None
    log_in(page, site, "victor")
    with page.expect_response(lambda r: r.url.endswith(f"/jobs/{maa_job}/{DVH_FILE}")) as dvh:
        page.goto(f"{site.base_url}/jobs/{maa_job}")
    expect(page.locator("#job-state")).to_have_text("succeeded")
    assert result["notice"] == "Demo model, not for clinical use"
    expect(page.locator("#demo-notice")).to_have_text("Demo model — not for clinical use")

    summary = page.locator("#dosimetry-summary")
    lsf, planar = 100 * dosimetry["lsf"], 100 * dosimetry["planar"]["lsf"]
    expect(summary).to_contain_text(
        f"Lung shunt fraction {lsf:.1f} % ({dosimetry['lsf_method']}) · "
        f"planar views {planar:.1f} % (geometric mean, not used by the plan) · "
        f"T/N {dosimetry['tn_ratio']:.2f} · "
        f"predicted for {dosimetry['administered_gbq']:.2f} GBq · {dosimetry['source']}"
    )
    expect(page.locator(".dosimetry-error")).to_have_count(0)
    registration = dosimetry["registration"]
    expect(page.locator("#dosimetry-registration")).to_have_text(
        f"Registration to the planning CT: MAA SPECT/CT NCC {registration['ncc']:.3f}, "
        f"body Dice {registration['body_dice']:.3f}"
    )

    header, *rows = page.eval_on_selector_all("#dosimetry tr", CELLS)
    assert header == list(COLUMNS)
    assert rows == [
        ["MAA SPECT (predicted)", region["name"]]
        + [f"{region[key]:.1f}" for key in list(COLUMNS.values())[2:]]
        for region in dosimetry["regions"]
    ]
    assert {"liver", "normal_liver", "tumour", "lesion_1", "lung"} <= {row[1] for row in rows}

    response = dvh.value
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    assert response.body() == _dvh_file(site, maa_job).read_bytes()
    assert response.body().startswith(PNG_SIGNATURE)
    image = page.locator("#dosimetry-dvh")
    expect(image).to_be_visible()
    page.wait_for_function("document.querySelector('#dosimetry-dvh').complete")
    assert image.evaluate("img => img.naturalWidth") > 0


def test_a_job_without_nm_images_has_no_dosimetry_block(page: Page, site: Site) -> None:
    assert _result(site, site.pipeline_job)["dosimetry"] is None
    log_in(page, site, "victor")
    page.goto(f"{site.base_url}/jobs/{site.pipeline_job}")
    expect(page.locator("#job-state")).to_have_text("succeeded")
    expect(page.locator("#volumes")).to_contain_text("liver")  # the page has the job's result
    for block in ("#dosimetry-heading", "#dosimetry-summary", "#dosimetry", "#dosimetry-dvh"):
        expect(page.locator(block)).to_have_count(0)
    assert "Image-based dosimetry" not in page.content()
    dvh = page.request.get(f"{site.base_url}/jobs/{site.pipeline_job}/{DVH_FILE}")
    assert dvh.status == 404
