"""The job page's dosimetry: LSF, T/N, the registration quality, the region table of both dose
sources, the DVH plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from web_testing import log_in, spooled_study

from dicomnode.audit.log import AuditLog
from pipeline.dosimetry.config import DVH_FILE

SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
RTDOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
PNG = b"\x89PNG\r\n\x1a\n" + b"dvh"


def _region(name: str, mean: float) -> dict[str, Any]:
    return {
        "name": name,
        "volume_ml": 1000.0,
        "mean_gy": mean,
        "d50_gy": mean,
        "d70_gy": 0.8 * mean,
        "d90_gy": 0.5 * mean,
        "d95_gy": 0.4 * mean,
        "v70_percent": 20.0,
        "v100_percent": 12.5,
        "v120_percent": 5.0,
        "v205_percent": 1.0,
        "max_gy": 3 * mean,
    }


def _registration(ncc: float, body_dice: float) -> dict[str, Any]:
    return {
        "metric": "Mattes mutual information",
        "final_metric_value": -1.13,
        "ncc": ncc,
        "body_dice": body_dice,
        "translation_mm": [-0.1, -5.2, -2.7],
        "rotation_deg": 2.3,
        "stop_condition": "Step too small after 16 iterations.",
        "start": "identity",
    }


def _dosimetry(post_error: str | None) -> dict[str, Any]:
    post = (
        {"error": post_error}
        if post_error
        else {
            "lsf": None,
            "tn_ratio": 3.04,
            "source": "Y-90 PET/CT",
            "error": None,
            "registration": _registration(0.912, 0.981),
            "regions": [_region("liver", 41.5)],
        }
    )
    return {
        "lsf": 0.0849,
        "lsf_method": "SPECT counts",
        "tn_ratio": 2.67,
        "source": "Tc-99m MAA SPECT/CT; planning-CT regions by rigid registration",
        "administered_gbq": 2.0,
        "error": None,
        "registration": _registration(0.9799, 0.9947),
        "post_treatment": post,
        "regions": [_region("liver", 44.2), _region("lesion_1", 209.0)],
        "planar": (
            {"lsf": None, "ncc": None, "translation_mm": None,
             "error": "planar views match the SPECT's projection with NCC 0.31 (< 0.8)"}
            if post_error
            else {"lsf": 0.0962, "ncc": 0.997, "translation_mm": [3.5, -0.4], "error": None}
        ),
    }


def _job(
    audit: AuditLog, spool: Path, results: Path, dosimetry: dict[str, Any] | None, dvh: bool
) -> int:
    series = spooled_study(audit, spool, "1.2.826.0.9.5")
    job_id = audit.create_job(
        study_instance_uid="1.2.826.0.9.5", series_instance_uids=series, calling_ae="PACS"
    )
    assert audit.claim_next_job("test/1") is not None
    results.mkdir(parents=True)
    (results / "result.json").write_text("{}")
    if dvh:
        (results / DVH_FILE).write_bytes(PNG)
    audit.record_output(
        job_id,
        path=str(results / "seg.dcm"),
        sop_instance_uid="1.2.3.1",
        sop_class_uid=SEG_STORAGE,
        kind="SEG",
    )
    audit.record_output(
        job_id,
        path=str(results / "rtdose.dcm"),
        sop_instance_uid="1.2.3.2",
        sop_class_uid=RTDOSE_STORAGE,
        kind="RTDOSE",
    )
    audit.finish_job(
        job_id, state="succeeded", result={"status": "succeeded", "dosimetry": dosimetry}
    )
    return job_id


def test_job_page_shows_the_dosimetry_table_and_dvh(
    client: TestClient, audit: AuditLog, tmp_path: Path
) -> None:
    job_id = _job(audit, tmp_path / "spool", tmp_path / "results", _dosimetry(None), dvh=True)
    assert client.get(f"/jobs/{job_id}/dosimetry-dvh.png").status_code != 200  # login first
    log_in(client, "victor")
    page = client.get(f"/jobs/{job_id}").text
    assert 'id="dosimetry"' in page
    assert "Lung shunt fraction <b>8.5 %</b> (SPECT counts)" in page
    assert "planar views 9.6 % (geometric mean, not used by the plan)" in page
    assert "T/N <b>2.67</b>" in page and "(T/N 3.04)" in page
    assert (
        "Registration to the planning CT: MAA SPECT/CT NCC <b>0.980</b>, body Dice 0.995"
        " · Y-90 PET/CT NCC <b>0.912</b>, body Dice 0.981</p>"
    ) in page
    assert "MAA SPECT (predicted)</td><td>lesion_1</td>" in page
    assert "Y-90 PET (measured)</td><td>liver</td>" in page
    assert ">209.0<" in page and ">41.5<" in page
    assert "RTDOSE" in page  # output kind listed
    assert f'src="/jobs/{job_id}/dosimetry-dvh.png"' in page
    image = client.get(f"/jobs/{job_id}/dosimetry-dvh.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == PNG


def test_failed_post_treatment_and_missing_plot_are_said(
    client: TestClient, audit: AuditLog, tmp_path: Path
) -> None:
    job_id = _job(
        audit,
        tmp_path / "spool",
        tmp_path / "results",
        _dosimetry("RegistrationError: NCC 0.41 below 0.6"),
        dvh=False,
    )
    log_in(client, "victor")
    page = client.get(f"/jobs/{job_id}").text
    assert "Not computed: RegistrationError: NCC 0.41 below 0.6" in page
    registration = "Registration to the planning CT: MAA SPECT/CT NCC <b>0.980</b>, body Dice 0.995"
    assert f"{registration}</p>" in page  # the failed Y-90 PET has no registration figures
    assert "planar views: planar views match the SPECT&#39;s projection with NCC 0.31" in page
    assert "dosimetry-dvh.png" not in page
    assert client.get(f"/jobs/{job_id}/dosimetry-dvh.png").status_code == 404
    assert client.get("/jobs/999/dosimetry-dvh.png").status_code == 404


def test_job_without_nm_images_has_no_dosimetry_section(
    client: TestClient, audit: AuditLog, tmp_path: Path
) -> None:
    job_id = _job(audit, tmp_path / "spool", tmp_path / "results", None, dvh=False)
    log_in(client, "victor")
    page = client.get(f"/jobs/{job_id}").text
    assert "Image-based dosimetry" not in page and "Registration to the planning CT" not in page
