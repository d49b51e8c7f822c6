"""A worker killed with ``kill -9`` while the real pipeline (bundled demo model) segments a
study: its job is redelivered and finishes on the other worker, and the node's outbox
delivers to a real Orthanc on loopback exactly one SEG, one SR and one encapsulated PDF per
study, with one audit chain per job that shows both attempts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from celery_cluster import (
    Cluster,
    check_rerun_after_loss,
    figures,
    running_cluster,
    write_small_study,
)
from loopback_peers import OrthancPeer, postgres_database, require_postgres, run_orthanc
from pydicom.uid import EncapsulatedPDFStorage, SegmentationStorage

from dicomnode.audit import migrate
from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.rows import DeliveryState, JobDetail, JobState, OutputKind
from dicomnode.delivery.config import DimseDestinationConfig
from dicomnode.delivery.dimse import CStoreSender
from dicomnode.outbox.config import OutboxConfig
from dicomnode.outbox.outbox import Outbox

pytestmark = [pytest.mark.peers, pytest.mark.usefixtures("rabbitmq")]

STUDIES = 3
DESTINATION = "orthanc"


def _wait_marker(cluster: Cluster, marks: Path, worker: str, timeout_s: float = 120.0) -> Path:
    """The marker of a job that entered the segment stage on ``worker``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = sorted(marks.glob(f"{worker}-job-*"))
        if found:
            return found[0]
        assert cluster.workers[worker].poll() is None, cluster.log(worker)[-3000:]
        time.sleep(0.05)
    raise AssertionError(f"no segmentation started on {worker} within {timeout_s} s")


def _wait_delivered(cluster: Cluster, job_ids: list[int], timeout_s: float = 60.0) -> None:
    """Wait until the outbox has delivered every final output of every job."""
    deadline = time.monotonic() + timeout_s
    while True:
        details = [cluster.audit.get_job(job_id) for job_id in job_ids]
        planned = all(len(d.deliveries) == len(_final_outputs(d)) for d in details)
        rows = [row for d in details for row in d.deliveries]
        if planned and all(row.state is DeliveryState.DELIVERED for row in rows):
            return
        assert time.monotonic() < deadline, [(r.job_id, r.state, r.last_detail) for r in rows]
        time.sleep(0.3)


def _orthanc_instances(pacs: OrthancPeer, study_instance_uid: str) -> list[tuple[str, str]]:
    """``(SOP Class UID, SOP Instance UID)`` of every instance Orthanc holds for the study."""
    found = pacs.post(
        "/tools/find",
        {"Level": "Instance", "Query": {"StudyInstanceUID": study_instance_uid}},
    )
    instances = []
    for orthanc_id in found:
        tags = pacs.get(f"/instances/{orthanc_id}/simplified-tags")
        instances.append((tags["SOPClassUID"], tags["SOPInstanceUID"]))
    return sorted(instances)


def _final_outputs(detail: JobDetail) -> list[tuple[str, str]]:
    return sorted(
        (o.sop_class_uid, o.sop_instance_uid)
        for o in detail.outputs
        if o.version == detail.job.attempts
    )


def test_worker_killed_mid_segmentation_delivers_one_set_per_study_to_orthanc(
    tmp_path: Path,
) -> None:
    studies = [write_small_study(tmp_path / f"study-{seed}", seed) for seed in range(STUDIES)]
    marks = tmp_path / "marks"
    marks.mkdir()
    require_postgres()
    with (
        postgres_database() as pg_url,  # its own: the outbox plans every job of its database
        run_orthanc(tmp_path / "orthanc", dicomweb=False) as pacs,
    ):
        engine = create_audit_engine(pg_url)
        migrate.upgrade(engine)
        engine.dispose()
        with running_cluster(tmp_path / "cluster", pg_url) as cluster:
            outbox = Outbox(
                cluster.audit,
                {
                    DESTINATION: CStoreSender(
                        DimseDestinationConfig(
                            name=DESTINATION, port=pacs.dicom_port, called_aet=pacs.aet
                        )
                    )
                },
                OutboxConfig(poll_interval_s=0.3, backoff_base_s=1),
            )
            outbox.start()
            try:
                # k1 holds its segment stage until it is killed; k2 segments at once
                for name, hold_s in (("k1", "600"), ("k2", "0")):
                    cluster.start_worker(
                        name,
                        handler="fixed_cost:segment_marked",
                        env={
                            "DICOMNODE_TEST_MARK_DIR": str(marks),
                            "DICOMNODE_TEST_WORKER": name,
                            "DICOMNODE_TEST_SEGMENT_HOLD_S": hold_s,
                        },
                    )
                cluster.wait_ready(["k1", "k2"])
                jobs = [cluster.add_study_job(study) for study in studies]
                cluster.runner.notify()
                marker = _wait_marker(cluster, marks, "k1")
                victim = int(marker.name.rsplit("-", 1)[1])
                assert cluster.audit.get_job(victim).job.state is JobState.RUNNING
                cluster.kill("k1")
                details = cluster.wait_final(jobs, timeout_s=240)
                _wait_delivered(cluster, jobs)
                details = {job_id: cluster.audit.get_job(job_id) for job_id in jobs}
                in_orthanc = {
                    job_id: _orthanc_instances(pacs, d.job.study_instance_uid)
                    for job_id, d in details.items()
                }
            finally:
                outbox.stop()
            skipped = cluster.skipped_messages()
    found = figures(details)
    orthanc_duplicates = sum(
        len(held) - len(_final_outputs(details[job_id])) for job_id, held in in_orthanc.items()
    )
    print(
        f"kill -9 mid-segmentation: {found} orthanc_duplicates={orthanc_duplicates} "
        f"messages_acked_without_work={skipped}"
    )
    assert {d.job.state for d in details.values()} == {JobState.SUCCEEDED}
    check_rerun_after_loss(details[victim], lost_on="k1", rerun_on="k2")
    assert "segment" in [e.stage for e in details[victim].events if e.attempt == 2]
    assert len(details[victim].outputs) == 3  # the second attempt's set only
    for job_id, detail in details.items():
        assert sorted(o.kind for o in detail.outputs) == sorted(
            [OutputKind.SEG, OutputKind.SR, OutputKind.PDF]
        )
        assert [d.attempts for d in detail.deliveries] == [1, 1, 1]  # each sent once
        # exactly what the final attempt wrote, one object per SOP Class
        assert in_orthanc[job_id] == _final_outputs(detail)
        classes = [sop_class for sop_class, _ in in_orthanc[job_id]]
        assert len(classes) == 3 and len(set(classes)) == 3
        assert {SegmentationStorage, EncapsulatedPDFStorage} < set(classes)
    # the lost attempt ran again once: taken over from the redelivered message, or (when the
    # other worker was still busy after the lease lapsed) published again by the node
    assert (found.jobs, found.attempts, found.lost_attempts) == (STUDIES, STUDIES + 1, 1)
    assert (found.duplicates, orthanc_duplicates) == (0, 0)
