"""End to end with real peers: a patient's planning CT study and, as a study of its own ten
days later, a Tc-99m MAA SPECT/CT with planar views (``dicomnode synth --nm maa``, small
profile) are sent to a running ``dicomnode serve`` with DCMTK's storescu. The node links the
planning CT into the MAA study's job, measures LSF and T/N on the SPECT, feeds them to the
SIRT plan, and delivers SEG, SR (with the dose groups), PDF (with the dosimetry page) and the
RT Dose to Orthanc."""

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
from served_node import ServedNode
from typer.testing import CliRunner

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState, JobState, OutputKind
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


def test_ct_and_maa_study_to_rtdose_sr_and_pdf_in_the_pacs(
    nm_study: Path, pacs: OrthancPeer, sqlite_node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    node, url = sqlite_node
    truth = json.loads((nm_study / "truth" / "dosimetry.json").read_text())
    maa_folder = nm_study / "dicom" / "maa"
    ct_files = [p for p in (nm_study / "dicom").iterdir() if p != maa_folder and p.name != "y90pet"]
    ct_only = tmp_path / "ct"
    ct_only.mkdir()
    for folder in ct_files:
        shutil.copytree(folder, ct_only / folder.name)
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
    assert {(d.output_id, d.destination, d.state) for d in detail.deliveries} == {
        (o.id, DESTINATION, DeliveryState.DELIVERED) for o in detail.outputs
    }
    by_kind = {o.kind: orthanc_instance(pacs, o.sop_instance_uid) for o in detail.outputs}
    rtdose = by_kind[OutputKind.RTDOSE]
    assert rtdose.Modality == "RTDOSE" and rtdose.DoseSummationType == "SIRT_PREDICTED"
    assert rtdose.StudyInstanceUID == maa_uid  # on the SPECT's grid and frame
    texts = list(sr_texts(by_kind[OutputKind.SR]))
    assert "Predicted from Tc-99m MAA SPECT" in texts
    assert "MAA SPECT dosimetry" in texts and "MAA SPECT dose: normal liver" in texts
    assert "Image-based SIRT dosimetry" in pdf_text(by_kind[OutputKind.PDF], tmp_path)
