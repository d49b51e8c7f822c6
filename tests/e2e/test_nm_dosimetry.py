"""End to end with real peers: a patient's planning CT study and, as a study of its own ten
days later, a Tc-99m MAA SPECT/CT with planar views (``dicomnode synth --nm maa``, small
profile) are sent to a running ``dicomnode serve`` with DCMTK's storescu. The node links the
planning CT into the MAA study's job, measures LSF and T/N on the SPECT, feeds them to the
SIRT plan, and delivers SEG, SR (with the dose groups), PDF (with the dosimetry page) and the
RT Dose to Orthanc. Sent the other way round (the MAA study first, the planning CT after its
job was rejected), the node queues the MAA study's job again with the CT linked."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from e2e_node import (
    DESTINATION,
    NODE_AET,
    STORESCU,
    orthanc_instance,
    pdf_text,
    sr_texts,
    start_node,
    wait_for_job,
)
from loopback_peers import PEER_ENV, OrthancPeer, free_port
from pydicom import Dataset
from served_node import ServedNode
from typer.testing import CliRunner

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState, JobDetail, JobState, OutputKind
from dicomnode.cli import app
from dicomnode.jobs.study_link import LINK_STAGE

pytestmark = [pytest.mark.peers, pytest.mark.slow]

SEED = 0
"""Seed of the synthetic patient (small profile; LSF 0.085 measured for a truth of 0.08)."""


@pytest.fixture(scope="module")
def nm_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dicomnode synth OUT --nm maa``: the CT study under dicom/, the MAA study under
    dicom/maa/."""
    root = tmp_path_factory.mktemp("nm-e2e")
    done = CliRunner().invoke(app, ["synth", str(root), "--seed", str(SEED), "--nm", "maa"])
    assert done.exit_code == 0, done.output
    return root


@pytest.fixture
def sqlite_node(tmp_path: Path, pacs: OrthancPeer) -> Iterator[tuple[ServedNode, str]]:
    """``dicomnode serve`` on a SQLite audit DB, delivering to ``pacs``."""
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    served = start_node(tmp_path / "node", free_port(), pacs, url)
    yield served, url
    assert served.stop() == 0, served.log_text()[-3000:]


def _send(folder: Path, node: ServedNode, pacs: OrthancPeer) -> None:
    done = subprocess.run(
        [
            STORESCU,
            "-aet",
            pacs.aet,
            "-aec",
            NODE_AET,
            "-nh",
            "+sd",
            "+r",
            "127.0.0.1",
            str(node.port),
            str(folder),
        ],
        env=PEER_ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _study_uid(folder: Path) -> str:
    first = next(iter(sorted(folder.rglob("*.dcm"))))
    return str(pydicom.dcmread(first, stop_before_pixels=True).StudyInstanceUID)


def _planning_ct(nm_study: Path, scratch: Path) -> Path:
    """A folder holding only the planning CT study's series (a copy)."""
    ct_only = scratch / "ct"
    ct_only.mkdir()
    for folder in (nm_study / "dicom").iterdir():
        if folder.name not in ("maa", "y90pet"):
            shutil.copytree(folder, ct_only / folder.name)
    return ct_only


def _delivered(detail: JobDetail, pacs: OrthancPeer) -> dict[OutputKind, Dataset]:
    """The job's outputs, each delivered and acknowledged, as Orthanc holds them."""
    assert {(d.output_id, d.destination, d.state) for d in detail.deliveries} == {
        (o.id, DESTINATION, DeliveryState.DELIVERED) for o in detail.outputs
    }
    return {o.kind: orthanc_instance(pacs, o.sop_instance_uid) for o in detail.outputs}


def _assert_maa_rtdose(rtdose: Dataset, maa_uid: str) -> None:
    assert rtdose.Modality == "RTDOSE" and rtdose.DoseSummationType == "SIRT_PREDICTED"
    assert rtdose.StudyInstanceUID == maa_uid  # on the SPECT's grid and frame


def test_ct_and_maa_study_to_rtdose_sr_and_pdf_in_the_pacs(
    nm_study: Path, pacs: OrthancPeer, sqlite_node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    node, url = sqlite_node
    truth = json.loads((nm_study / "truth" / "dosimetry.json").read_text())
    maa_folder = nm_study / "dicom" / "maa"
    ct_only = _planning_ct(nm_study, tmp_path)
    planning_uid = _study_uid(ct_only)
    maa_uid = _study_uid(maa_folder)
    _send(ct_only, node, pacs)  # the planning CT first, then the MAA work-up
    _send(maa_folder, node, pacs)
    audit = AuditLog.from_url(url)
    try:
        detail = wait_for_job(audit, maa_uid, node)
    finally:
        audit.dispose()
    job = detail.job
    assert job.state is JobState.SUCCEEDED, job.error
    result = job.result
    assert result is not None

    # the planning CT study was linked into the MAA study's job, recorded as an event
    (link,) = [e for e in detail.events if e.stage == LINK_STAGE]
    assert planning_uid in link.message
    assert {s.study_instance_uid for s in detail.series} == {planning_uid, maa_uid}
    timed = {e.stage for e in detail.events if e.duration_s is not None}
    assert {"select", "segment", "dosimetry", "quantify", "encode"} <= timed

    # LSF and T/N from the images, fed to the plan
    dosimetry = result["dosimetry"]
    assert dosimetry["error"] is None
    assert dosimetry["lsf"] == pytest.approx(truth["lsf"], abs=0.01)
    assert dosimetry["tn_ratio"] == pytest.approx(truth["tn_ratio"], rel=0.15)
    assert result["inputs"]["planner_source"]["lung_shunt_fraction"] == "MAA images"
    assert result["sirt"]["lung_shunt_fraction"] == dosimetry["lsf"]

    # RT Dose, SR, PDF (and SEG) delivered and acknowledged, readable from Orthanc
    kinds = {o.kind for o in detail.outputs}
    assert kinds == {OutputKind.SEG, OutputKind.SR, OutputKind.PDF, OutputKind.RTDOSE}
    by_kind = _delivered(detail, pacs)
    _assert_maa_rtdose(by_kind[OutputKind.RTDOSE], maa_uid)
    texts = list(sr_texts(by_kind[OutputKind.SR]))
    assert "Predicted from Tc-99m MAA SPECT" in texts
    assert "MAA SPECT dosimetry" in texts and "MAA SPECT dose: normal liver" in texts
    assert "Image-based SIRT dosimetry" in pdf_text(by_kind[OutputKind.PDF], tmp_path)


def test_maa_study_before_its_planning_ct_is_relinked_when_the_ct_arrives(
    nm_study: Path, pacs: OrthancPeer, sqlite_node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    node, url = sqlite_node
    maa_folder = nm_study / "dicom" / "maa"
    ct_only = _planning_ct(nm_study, tmp_path)
    planning_uid = _study_uid(ct_only)
    maa_uid = _study_uid(maa_folder)
    audit = AuditLog.from_url(url)
    try:
        _send(maa_folder, node, pacs)  # the MAA work-up alone: rejected, no planning CT
        rejected = wait_for_job(audit, maa_uid, node)
        assert rejected.job.state is JobState.REJECTED
        assert "without a planning CT" in (rejected.job.error or "")
        _send(ct_only, node, pacs)  # the planning CT arrives later
        detail = wait_for_job(audit, maa_uid, node, jobs=2)
        earlier = audit.get_job(rejected.job.id)
    finally:
        audit.dispose()
    job = detail.job
    assert job.state is JobState.SUCCEEDED, job.error
    assert job.result is not None and job.result["dosimetry"]["error"] is None

    # the re-linked job holds both studies, and both jobs say what happened
    assert {s.study_instance_uid for s in detail.series} == {planning_uid, maa_uid}
    (link,) = [e.message for e in detail.events if e.stage == LINK_STAGE]
    assert f"arrived after job {rejected.job.id}" in link and planning_uid in link
    assert [e.message for e in earlier.events if e.stage == LINK_STAGE][-1] == (
        f"planning CT study {planning_uid} arrived later: re-linked in job {job.id}")

    by_kind = _delivered(detail, pacs)
    assert OutputKind.RTDOSE in by_kind
    _assert_maa_rtdose(by_kind[OutputKind.RTDOSE], maa_uid)
