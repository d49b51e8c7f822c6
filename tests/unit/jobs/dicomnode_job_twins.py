"""Test twins for the job runner: handlers resolved by import path inside worker processes,
a folder Sender that keeps a ledger of every send, and a small service for kill -9 tests.

Run as a script it is the service: ``python dicomnode_job_twins.py DB_URL WORK_DIR OUT_DIR
HANDLER START_METHOD WARM`` runs the local job runner (handler HANDLER of this module, worker
processes started by START_METHOD, warm workers if WARM is ``warm``) and the outbox until
killed.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, SegmentationStorage

from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome
from dicomnode.jobs.handler import JobOutcome, JobSpec
from pipeline.config import PipelineConfig

UID_ROOT = "1.2.826.0.1.3680043.10.1234"


def attempt_of(spec: JobSpec) -> int:
    """The attempt number (from the attempt's folder name ``attempt-<n>``)."""
    return int(spec.work_dir.name.split("-")[1])


def write_seg(spec: JobSpec, number: int = 1) -> Path:
    """A tiny file that identifies as a SEG, with a UID unique per job attempt."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SegmentationStorage
    meta.MediaStorageSOPInstanceUID = UID(f"{UID_ROOT}.{spec.job_id}.{attempt_of(spec)}.{number}")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = SegmentationStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID = spec.study_instance_uid
    path = spec.work_dir / f"seg-{number}.dcm"
    dataset.save_as(path, enforce_file_format=True)
    return path


def succeed(spec: JobSpec) -> JobOutcome:
    """Write two SEG objects and report two stages."""
    paths = [write_seg(spec, 1), write_seg(spec, 2)]
    stages = [
        {"stage": "select", "message": f"{len(spec.instance_paths)} instances", "duration_s": 0.1},
        {"stage": "segment", "message": "demo model", "duration_s": 0.2},
    ]
    return JobOutcome(
        state="succeeded",
        output_paths=paths,
        result={"stages": stages, "calling_ae": spec.calling_ae, "model": {"name": "twin"}},
    )


def slow_succeed(spec: JobSpec) -> JobOutcome:
    """Like :func:`succeed`, after 0.4 s (a window for kill -9)."""
    time.sleep(0.4)
    return succeed(spec)


def reject(spec: JobSpec) -> JobOutcome:
    """Reject with a named reason."""
    return JobOutcome(state="rejected", reason="no portal-venous series")


def raise_once(spec: JobSpec) -> JobOutcome:
    """Raise on the first attempt, succeed on the next."""
    if attempt_of(spec) == 1:
        raise RuntimeError("flaky GPU")
    return succeed(spec)


def exit_hard(spec: JobSpec) -> JobOutcome:
    """Leave the process at once, as a crashing native library would."""
    os._exit(3)


def kill_self(spec: JobSpec) -> JobOutcome:
    """Die by SIGKILL (as the kernel's out-of-memory killer does)."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def hang(spec: JobSpec) -> JobOutcome:
    """Never finish (until killed); writes its process id to ``started`` first."""
    (spec.work_dir / "started").write_text(str(os.getpid()))
    time.sleep(600)
    raise AssertionError("unreachable")


def hang_first(spec: JobSpec) -> JobOutcome:
    """Hang on the first attempt (as :func:`hang`), succeed on the next."""
    if attempt_of(spec) == 1:
        return hang(spec)
    return succeed(spec)


class Counting:
    """A warm handler that counts its preparations (as a model load would happen).

    Each preparation keeps a new list (standing in for a loaded model); each job makes a
    reference cycle, runs one collection and reports whether the collector still walks the
    kept list (``model_walked_by_gc``).
    """

    def __init__(self) -> None:
        self.prepared = 0
        self.model: list[object] = []

    def prepare(self, pipeline: PipelineConfig) -> None:
        """Count one preparation."""
        self.prepared += 1
        self.model = [self.prepared]

    def run(self, spec: JobSpec) -> JobOutcome:
        """Succeed, reporting how often this process prepared."""
        outcome = succeed(spec)
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        gc.collect()
        walked = any(o is self.model for o in gc.get_objects())
        return JobOutcome(
            state="succeeded",
            output_paths=outcome.output_paths,
            result={**outcome.result, "prepared": self.prepared, "model_walked_by_gc": walked},
        )


counting = Counting()
"""Handler ``dicomnode_job_twins:counting``."""


def outside_output(spec: JobSpec) -> JobOutcome:
    """Claim an output outside the work folder."""
    return JobOutcome(state="succeeded", output_paths=[spec.work_dir.parent / "elsewhere.dcm"])


class LedgerFolderSender:
    """Copies each file into a folder and appends its name to a ledger (fsync'd) per send."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, paths: Sequence[Path]) -> list[InstanceOutcome]:
        """Copy every file; one outcome per path."""
        outcomes = []
        with (self.folder / "ledger.txt").open("a", encoding="utf-8") as ledger:
            for path in paths:
                shutil.copyfile(path, self.folder / f"{path.parent.parent.name}-{path.name}")
                ledger.write(f"{path.parent.parent.name}/{path.parent.name}/{path.name}\n")
                ledger.flush()
                os.fsync(ledger.fileno())
                outcomes.append(
                    InstanceOutcome(path, path.stem, DeliveryStatus.SUCCESS, None, "copied")
                )
        return outcomes


def serve(
    db_url: str,
    work_dir: Path,
    out_dir: Path,
    handler: str,
    start_method: Literal["spawn", "forkserver"],
    warm: bool,
) -> None:
    """Run the local job runner and the outbox until the process is killed."""
    from dicomnode.audit.log import AuditLog
    from dicomnode.jobs.config import JobsConfig
    from dicomnode.jobs.local import LocalJobRunner
    from dicomnode.outbox.config import OutboxConfig
    from dicomnode.outbox.outbox import Outbox

    audit = AuditLog.from_url(db_url, max_job_attempts=10)
    outbox = Outbox(
        audit,
        {"folder": LedgerFolderSender("folder", out_dir)},
        OutboxConfig(poll_interval_s=0.2, backoff_base_s=0.1, backoff_max_s=0.1),
    )
    config = JobsConfig(
        workers=2,
        handler=f"dicomnode_job_twins:{handler}",
        start_method=start_method,
        warm_workers=warm,
        work_dir=work_dir,
        poll_interval_s=0.2,
        stop_grace_s=1.0,
    )
    runner = LocalJobRunner(
        config,
        audit,
        pipeline=PipelineConfig(),
        node_name="crashnode",
        on_finished=lambda _job, _state: outbox.notify(),
    )
    runner.start()
    outbox.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    method: Literal["spawn", "forkserver"] = (
        "forkserver" if sys.argv[5] == "forkserver" else "spawn"
    )
    serve(
        sys.argv[1],
        Path(sys.argv[2]),
        Path(sys.argv[3]),
        sys.argv[4],
        method,
        sys.argv[6] == "warm",
    )
