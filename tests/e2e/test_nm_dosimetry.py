"""End to end with real peers: a patient's planning CT study and, as a study of its own ten
days later, a Tc-99m MAA SPECT/CT with planar views (``dicomnode synth --nm maa``, small
profile) are sent to a running ``dicomnode serve`` with DCMTK's storescu. The node links the
planning CT into the MAA study's job, measures LSF and T/N on the SPECT, feeds them to the
SIRT plan, and delivers SEG, SR (with the dose groups), PDF (with the dosimetry page) and the
RT Dose to Orthanc. Sent the other way round (the MAA study first, the planning CT after its
job was rejected), the node queues the MAA study's job again with the CT linked. The
post-treatment Y-90 PET/CT (``dicomnode synth --nm y90pet``), sent after its planning CT,
gives the measured dose: RT Dose ``SIRT_MEASURED`` on the PET's frame, the PET dose groups
in the SR, result.json's ``dosimetry.post_treatment``."""

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
from pydicom.uid import RTDoseStorage
from served_node import ServedNode
from typer.testing import CliRunner

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState, JobDetail, JobState, OutputKind
from dicomnode.cli import app
from dicomnode.jobs.study_link import LINK_STAGE
from pipeline.encode import codes
from pipeline.encode.segments import structure_tracking_id
from pipeline.structures import CATALOGUE, Structure

pytestmark = [pytest.mark.peers, pytest.mark.slow]

SEED = 0
"""Seed of the synthetic patient (small profile; LSF 0.085 measured for a truth of 0.08, Y-90
PET liver mean 41.5 Gy for 43.9 Gy)."""


SR_TRACKING_ID = "112039"
"""DCM "Tracking Identifier": the TEXT item naming an SR measurement group."""
FINDING = "121071"
"""DCM "Finding": the CODE item holding a measurement group's finding type."""


def _synth(tmp_path_factory: pytest.TempPathFactory, nm: str) -> Path:
    """``dicomnode synth OUT --nm <nm>``: the CT study under dicom/, the NM/PET study under
    dicom/<nm>/, the truth under truth/."""
    root = tmp_path_factory.mktemp(f"{nm}-e2e")
    done = CliRunner().invoke(app, ["synth", str(root), "--seed", str(SEED), "--nm", nm])
    assert done.exit_code == 0, done.output
    return root


@pytest.fixture(scope="module")
def nm_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dicomnode synth OUT --nm maa``: the MAA SPECT/CT study under dicom/maa/."""
    return _synth(tmp_path_factory, "maa")


@pytest.fixture(scope="module")
def pet_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dicomnode synth OUT --nm y90pet``: the Y-90 PET/CT study under dicom/y90pet/."""
    return _synth(tmp_path_factory, "y90pet")


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


def _ct_then_nm_through_the_node(
    root: Path, nm: str, sqlite_node: tuple[ServedNode, str], pacs: OrthancPeer, scratch: Path
) -> tuple[JobDetail, str]:
    """Send the planning CT study, then the NM/PET study under dicom/<nm>/ (as a PACS would);
    wait for the NM/PET study's job, check it succeeded with the planning CT linked and every
    stage timed; return it and the NM/PET study's UID."""
    node, url = sqlite_node
    nm_folder = root / "dicom" / nm
    ct_only = _planning_ct(root, scratch)
    planning_uid = _study_uid(ct_only)
    nm_uid = _study_uid(nm_folder)
    _send(ct_only, node, pacs)
    _send(nm_folder, node, pacs)
    audit = AuditLog.from_url(url)
    try:
        detail = wait_for_job(audit, nm_uid, node)
    finally:
        audit.dispose()
    job = detail.job
    assert job.state is JobState.SUCCEEDED, job.error
    assert job.result is not None

    # the planning CT study was linked into the NM/PET study's job, recorded as an event
    (link,) = [e for e in detail.events if e.stage == LINK_STAGE]
    assert planning_uid in link.message
    assert {s.study_instance_uid for s in detail.series} == {planning_uid, nm_uid}
    timed = {e.stage for e in detail.events if e.duration_s is not None}
    assert {"select", "segment", "dosimetry", "quantify", "encode"} <= timed
    return detail, nm_uid


def _measurement_groups(sr: Dataset) -> Iterator[Dataset]:
    """The CONTAINER items under the SR's Imaging Measurements (TID 1411/1501 groups)."""
    for item in sr.ContentSequence:
        for group in item.get("ContentSequence", []) or []:
            if group.ValueType == "CONTAINER":
                yield group


def _code_of(item: Dataset, keyword: str) -> str:
    """The code value (Code Value, else Long Code Value) of an item's coded attribute."""
    code = getattr(item, keyword)[0]
    return str(code.get("CodeValue") or code.get("LongCodeValue"))


def _dose_group(sr: Dataset, source: str, tracking_id: str) -> Dataset:
    """The one measurement group with this Tracking Identifier whose DOSESOURCE evaluation
    is ``source`` (a code value)."""
    found = []
    for group in _measurement_groups(sr):
        items = list(group.ContentSequence)
        names = {str(i.TextValue) for i in items if i.ValueType == "TEXT"
                 and _code_of(i, "ConceptNameCodeSequence") == SR_TRACKING_ID}
        sources = {_code_of(i, "ConceptCodeSequence") for i in items if i.ValueType == "CODE"
                   and _code_of(i, "ConceptNameCodeSequence") == codes.DOSE_SOURCE.value}
        if tracking_id in names and sources == {source}:
            found.append(group)
    assert len(found) == 1, f"{len(found)} groups {tracking_id!r} from {source}"
    return found[0]


def _numeric(group: Dataset, concept: str) -> float:
    """The value of the group's one NUM item with this concept name (a code value)."""
    (value,) = [float(i.MeasuredValueSequence[0].NumericValue) for i in group.ContentSequence
                if i.ValueType == "NUM" and _code_of(i, "ConceptNameCodeSequence") == concept]
    return value


def test_ct_and_maa_study_to_rtdose_sr_and_pdf_in_the_pacs(
    nm_study: Path, pacs: OrthancPeer, sqlite_node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    truth = json.loads((nm_study / "truth" / "dosimetry.json").read_text())
    detail, maa_uid = _ct_then_nm_through_the_node(nm_study, "maa", sqlite_node, pacs, tmp_path)
    result = detail.job.result
    assert result is not None

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


def test_ct_and_y90_pet_study_to_measured_rtdose_and_pet_dose_groups_in_the_pacs(
    pet_study: Path, pacs: OrthancPeer, sqlite_node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    """Tolerance of the PET liver mean dose as tests/integration/run/test_run_dosimetry.py's
    (10 %: the PET's blur spills activity out of the liver edge)."""
    truth = json.loads((pet_study / "truth" / "dosimetry.json").read_text())
    pet_truth = truth["studies"]["y90pet"]
    detail, pet_uid = _ct_then_nm_through_the_node(pet_study, "y90pet", sqlite_node, pacs,
                                                   tmp_path)
    assert pet_uid == pet_truth["study_instance_uid"]
    result = detail.job.result
    assert result is not None

    # the PET gives the post-treatment section; there is no MAA prediction
    dosimetry = result["dosimetry"]
    assert dosimetry["error"] is None and dosimetry["regions"] == []
    post = dosimetry["post_treatment"]
    assert post["error"] is None and post["source"].startswith("Y-90 PET/CT")
    assert dosimetry["source_series"]["y90pet"]["emission_series_uid"] == (
        pet_truth["series"]["pet"]["series_instance_uid"])
    liver_gy = next(r["mean_gy"] for r in post["regions"] if r["name"] == "liver")
    assert liver_gy == pytest.approx(truth["regions"]["liver"]["mean_gy"], rel=0.10)

    # the measured RT Dose in the PET study, on the PET's frame of reference
    assert {o.kind for o in detail.outputs} == {
        OutputKind.SEG, OutputKind.SR, OutputKind.PDF, OutputKind.RTDOSE}
    by_kind = _delivered(detail, pacs)
    rtdose = by_kind[OutputKind.RTDOSE]
    assert rtdose.SOPClassUID == RTDoseStorage and rtdose.Modality == "RTDOSE"
    assert rtdose.DoseSummationType == "SIRT_MEASURED" and rtdose.DoseUnits == "GY"
    assert rtdose.StudyInstanceUID == pet_uid
    assert rtdose.FrameOfReferenceUID == pet_truth["frame_of_reference_uid"]

    # the SR's PET liver group: on the SEG's liver segment, the mean dose of result.json
    sr = by_kind[OutputKind.SR]
    liver = _dose_group(sr, codes.Y90_PET_MEASUREMENT.value,
                        structure_tracking_id(Structure.LIVER))
    assert _code_of(liver, "ConceptNameCodeSequence") == "125007"  # Measurement Group
    (finding,) = [i for i in liver.ContentSequence
                  if _code_of(i, "ConceptNameCodeSequence") == FINDING]
    assert _code_of(finding, "ConceptCodeSequence") == CATALOGUE[Structure.LIVER].type.value
    assert _numeric(liver, codes.MEAN_ABSORBED_DOSE.value) == pytest.approx(liver_gy, rel=1e-9)
    assert by_kind[OutputKind.SEG].SOPInstanceUID in {
        str(r.ReferencedSOPInstanceUID) for i in liver.ContentSequence
        for r in i.get("ReferencedSOPSequence", []) or []}
    texts = set(sr_texts(sr))
    assert "Y-90 PET dosimetry" in texts and "Measured on Y-90 PET" in texts
    assert "Predicted from Tc-99m MAA SPECT" not in texts
    assert "Image-based SIRT dosimetry" in pdf_text(by_kind[OutputKind.PDF], tmp_path)
