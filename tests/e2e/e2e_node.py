"""Helpers of the end-to-end tests: the synthetic study and its truth, the node under test
(``dicomnode serve`` configured to receive from and deliver to Orthanc), waiting for a job's
whole audit chain, and reading the outputs back from Orthanc."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
from loopback_peers import PEER_ENV, OrthancPeer
from pydicom import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
)
from served_node import ServedNode

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState, JobDetail

STORESCU = "/usr/bin/storescu"
PDFTOTEXT = "/usr/bin/pdftotext"
NODE_AET = "DICOMNODE"
DESTINATION = "pacs"
"""Name of the node's C-STORE destination (Orthanc)."""
JOB_TIMEOUT_S = 540.0
"""Longest wait for a job and its deliveries: a small study takes 1-1.5 min on 2 busy cores,
about 5 min when a dozen processes share them; below pytest's 600 s per-test timeout so that
a stuck job fails with the node's log."""
PLAN_TIMEOUT_S = 30.0
"""A final job whose outputs are not in the outbox this long after it ended never will be."""
DEMO_NOTICE = re.compile(r"demo(\W+model)?\W+not for clinical use", re.IGNORECASE)
"""The notice every output touching the demo model's results carries ("Demo model, not for
clinical use", "Demo model — not ...", SEG SeriesDescription suffix "DEMO-not ...")."""


@dataclass(frozen=True)
class Study:
    """A synthetic study written by :mod:`pipeline.synth` and its ground truth."""

    root: Path
    study_instance_uid: str
    series: list[dict[str, Any]]
    """``truth/series.json``."""
    volumes_ml: dict[str, Any]
    """``truth/volumes.json`` (empty when not computed)."""
    sop_instance_uids: frozenset[str]
    """Every instance of the study."""

    @property
    def expected_series_uid(self) -> str | None:
        """The series a correct selection must choose (None: none qualifies)."""
        return next((s["series_instance_uid"] for s in self.series if s["expected_choice"]),
                    None)

    def series_sop_instance_uids(self, series_instance_uid: str) -> set[str]:
        """SOP Instance UIDs of one series."""
        entry = next(s for s in self.series if s["series_instance_uid"] == series_instance_uid)
        return {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
                for p in sorted((self.root / entry["folder"]).glob("*.dcm"))}


def load_study(root: Path) -> Study:
    """Read back what ``pipeline.synth.study.write_study`` wrote under ``root``."""
    headers = [pydicom.dcmread(p, stop_before_pixels=True)
               for p in sorted((root / "dicom").rglob("*.dcm"))]
    study_uids = {str(h.StudyInstanceUID) for h in headers}
    assert len(study_uids) == 1, study_uids
    volumes = root / "truth" / "volumes.json"
    return Study(
        root=root,
        study_instance_uid=study_uids.pop(),
        series=json.loads((root / "truth" / "series.json").read_text()),
        volumes_ml=json.loads(volumes.read_text()) if volumes.exists() else {},
        sop_instance_uids=frozenset(str(h.SOPInstanceUID) for h in headers),
    )


def node_overrides(pacs: OrthancPeer, audit_url: str) -> dict[str, Any]:
    """The node's configuration: Orthanc may send, results go back to it over C-STORE,
    short quiet timers and polls, the real pipeline job with the bundled demo model."""
    return {
        "scp": {"ae_title": NODE_AET, "allowed_peers": [
            {"ae_title": pacs.aet, "addresses": ["127.0.0.1/32"]}]},
        "audit": {"url": audit_url},
        "completion": {"policy": "study", "series_quiet_s": 3, "study_quiet_s": 5,
                       "check_interval_s": 0.2},
        "jobs": {"handler": "dicomnode.pipeline_job:run_job", "workers": 1,
                 "max_attempts": 1, "poll_interval_s": 0.5, "stop_grace_s": 5},
        "outbox": {"poll_interval_s": 0.5, "backoff_base_s": 1, "max_attempts": 3},
        "delivery": {"destinations": [
            {"kind": "dimse", "name": DESTINATION, "host": "127.0.0.1",
             "port": pacs.dicom_port, "called_aet": pacs.aet, "calling_aet": NODE_AET}]},
        "pipeline": {"write_rejection_report": True},
    }


def start_node(root: Path, port: int, pacs: OrthancPeer, audit_url: str,
               overrides: dict[str, dict[str, Any]] | None = None) -> ServedNode:
    """Start ``dicomnode serve`` for ``pacs``; Orthanc learns it as its modality ``node``.

    ``overrides`` (section -> fields) are merged over :func:`node_overrides`.
    """
    config = node_overrides(pacs, audit_url)
    for section, fields in (overrides or {}).items():
        config[section] = {**config.get(section, {}), **fields}
    node = ServedNode(root, port, config, env={"OMP_WAIT_POLICY": "PASSIVE"})
    node.start()
    pacs.set_modality("node", NODE_AET, port)
    return node


def store_in_pacs(pacs: OrthancPeer, study: Study) -> str:
    """Put every file of ``study`` into Orthanc (DCMTK storescu); return its Orthanc id."""
    command = [STORESCU, "-aet", "MODALITY", "-aec", pacs.aet, "-nh", "+sd", "+r",
               "127.0.0.1", str(pacs.dicom_port), str(study.root / "dicom")]
    done = subprocess.run(command, env=PEER_ENV, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    found = pacs.lookup(study.study_instance_uid)
    assert [entry["Type"] for entry in found] == ["Study"], found
    return str(found[0]["ID"])


def push_to_node(pacs: OrthancPeer, orthanc_study_id: str) -> None:
    """Orthanc C-STOREs the whole study to the node (as a PACS auto-routing rule would)."""
    reply = pacs.post("/modalities/node/store",
                      {"Resources": [orthanc_study_id], "Synchronous": True}, timeout_s=300)
    assert int(reply.get("FailedInstancesCount", 0)) == 0, reply


def wait_for_job(audit: AuditLog, study_instance_uid: str, node: ServedNode,
                 timeout_s: float = JOB_TIMEOUT_S, *, jobs: int = 1) -> JobDetail:
    """Wait until the study has ``jobs`` jobs (one per push unless the node queued it again)
    and the newest is final with none of its deliveries pending; return the newest."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = audit.list_jobs(study_instance_uid=study_instance_uid)
        if len(found) > jobs:
            raise AssertionError(f"{len(found)} jobs for the study, {jobs} expected\n"
                                 f"{node.log_text()}")
        if len(found) == jobs and found[0].job.state.final:
            detail = audit.get_job(found[0].job.id)
            pending = [d for d in detail.deliveries if d.state is DeliveryState.PENDING]
            if detail.deliveries and not pending:
                return detail
            finished = detail.job.finished_at
            if not detail.deliveries and finished is not None and (
                    datetime.now(UTC) - finished).total_seconds() > PLAN_TIMEOUT_S:
                raise AssertionError(f"job {detail.job.id} ended {detail.job.state.value} "
                                     f"({detail.job.error}) but nothing was put in the "
                                     f"outbox\n{node.log_text()[-4000:]}")
        time.sleep(0.5)
    raise AssertionError(f"no final job with deliveries after {timeout_s:g} s\n"
                         f"{node.log_text()[-4000:]}")


def orthanc_instance(pacs: OrthancPeer, sop_instance_uid: str) -> Dataset:
    """The instance with this SOP Instance UID as Orthanc stores it."""
    found = [e for e in pacs.lookup(sop_instance_uid) if e["Type"] == "Instance"]
    assert len(found) == 1, f"{sop_instance_uid} not in Orthanc: {found}"
    return pydicom.dcmread(BytesIO(pacs.instance_file(found[0]["ID"])))


def sr_texts(ds: Dataset) -> Iterator[str]:
    """Every TextValue and Code Meaning in an SR content tree."""
    for item in ds.get("ContentSequence", []):
        if "TextValue" in item:
            yield str(item.TextValue)
        for keyword in ("ConceptNameCodeSequence", "ConceptCodeSequence"):
            for code in item.get(keyword, []):
                yield str(code.get("CodeMeaning", ""))
        yield from sr_texts(item)


def algorithm_parameters(ds: Dataset) -> Iterator[str]:
    """AlgorithmParameters of every segment's Segmentation Algorithm Identification."""
    for segment in ds.SegmentSequence:
        for algorithm in segment.get("SegmentationAlgorithmIdentificationSequence", []):
            yield str(algorithm.get("AlgorithmParameters", ""))


def pdf_text(ds: Dataset, scratch: Path) -> str:
    """The text of an Encapsulated PDF instance (``pdftotext``)."""
    pdf = scratch / f"{ds.SOPInstanceUID}.pdf"
    pdf.write_bytes(bytes(ds.EncapsulatedDocument))
    done = subprocess.run([PDFTOTEXT, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout


def cfind_series(pacs: OrthancPeer, study_instance_uid: str) -> dict[str, str]:
    """C-FIND (Study Root, SERIES level) the study's series in the PACS as the node's AE;
    returns SeriesInstanceUID -> Modality."""
    ae = AE(ae_title=NODE_AET)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_instance_uid
    query.SeriesInstanceUID = ""
    query.Modality = ""
    assoc = ae.associate("127.0.0.1", pacs.dicom_port, ae_title=pacs.aet)
    assert assoc.is_established, "the PACS refused the C-FIND association"
    found: dict[str, str] = {}
    try:
        for status, identifier in assoc.send_c_find(
                query, StudyRootQueryRetrieveInformationModelFind):
            assert status is not None and status.Status in (0x0000, 0xFF00, 0xFF01), status
            if identifier is not None:
                found[str(identifier.SeriesInstanceUID)] = str(identifier.Modality)
    finally:
        assoc.release()
    return found
