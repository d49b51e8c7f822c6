"""End-to-end latency: from the last instance the node receives to the last output the PACS
acknowledges, for a realistic synthetic study, broken down by stage (not run in CI).

Writes a synthetic study (``pipeline.synth``, realistic profile: 512x512 pixels; a thin
portal-venous series of ``--slices`` slices, 1.25 mm every 0.625 mm, plus 5 mm arterial and
portal-venous series), loads it into Orthanc (the PACS), starts ``dicomnode serve`` (SQLite
audit DB, the real pipeline job with the bundled demo model — not for clinical use, C-STORE
delivery back to Orthanc) and has Orthanc push the study to the node. The breakdown comes
from the audit database: instance receipt times, job creation/start/finish, the job's stage
events (with durations) and the delivery attempts' timestamps.

Baseline, side by side: DCMTK ``storescu`` sending the same study straight to a fresh
Orthanc (the transport floor: what moving the study between two systems costs at all).

``--studies N`` sends N studies (seeds ``seed``, ``seed+1``...) one after the other to the
same running node, one column each: the first study meets a freshly started service, the
later ones its warm job worker. ``--cold-workers`` runs with ``jobs.warm_workers: false``
(a fresh process per job attempt, as before warm workers). The row "worker start stage"
is the ``worker start`` event of the job (the worker process's imports and model load), with
``*`` where it was paid before the job was sent (at service start).

    OMP_WAIT_POLICY=PASSIVE python bench/e2e.py [--slices 300] [--seed 1] [--studies 1]
        [--cold-workers] [--work DIR]

Prints a table and one JSON document. (Small and quick: ``--slices 60``.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration" / "node"))
from e2e_node import (
    NODE_AET,
    load_study,
    push_to_node,
    start_node,
    store_in_pacs,
    wait_for_job,
)
from loopback_peers import PEER_ENV, free_port, run_orthanc

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobDetail
from pipeline.synth import Phase
from pipeline.synth.phantom import make_phantom
from pipeline.synth.spec import SeriesSpec, StudySpec
from pipeline.synth.study import write_study

STORESCU = "/usr/bin/storescu"
THIN_SPACING_MM = 0.625
"""Slice spacing of the thin series (the realistic profile's lattice), mm."""
STAGES = ("select", "segment", "coverage", "quantify", "encode")
"""Pipeline stages the job reports (in order)."""
REST = "worker start, model load, hand-back"
"""The job's run time outside its pipeline stages."""
WORKER_START = "worker start"
"""The stage event of a worker process's start-up (dicomnode.jobs.worker)."""


def realistic_spec(seed: int, slices: int) -> StudySpec:
    """A 512x512 study whose thin portal-venous series has ``slices`` slices over the liver."""
    lo, hi = make_phantom(seed).liver_bbox
    centre = (float(lo[2]) + float(hi[2])) / 2.0
    half = (slices - 1) * THIN_SPACING_MM / 2.0
    z_range = (centre - half, centre + half)
    return StudySpec(
        seed=seed,
        profile="realistic",
        series=(
            SeriesSpec(
                phase=Phase.ARTERIAL,
                slice_thickness_mm=5.0,
                z_range_mm=z_range,
                description="Arterial 5mm",
            ),
            SeriesSpec(
                phase=Phase.PORTAL_VENOUS,
                slice_thickness_mm=1.25,
                spacing_mm=THIN_SPACING_MM,
                z_range_mm=z_range,
                description="Portal venous 1.25mm",
            ),
            SeriesSpec(
                phase=Phase.PORTAL_VENOUS,
                slice_thickness_mm=5.0,
                z_range_mm=z_range,
                description="Portal venous 5mm",
            ),
        ),
    )


def storescu_seconds(folder: Path, work: Path) -> float:
    """Seconds for DCMTK storescu to send ``folder`` to a fresh Orthanc (one association)."""
    with run_orthanc(work / "orthanc-baseline", aet="BASELINE", dicomweb=False) as peer:
        command = [
            STORESCU,
            "-aet",
            "MODALITY",
            "-aec",
            peer.aet,
            "-nh",
            "+sd",
            "+r",
            "127.0.0.1",
            str(peer.dicom_port),
            str(folder),
        ]
        started = time.perf_counter()
        subprocess.run(command, env=PEER_ENV, check=True, capture_output=True, timeout=1800)
        return time.perf_counter() - started


def _s(later: datetime | None, earlier: datetime | None) -> float:
    assert later is not None and earlier is not None
    return (later - earlier).total_seconds()


def breakdown(detail: JobDetail) -> list[tuple[str, float]]:
    """(what, seconds) from the last instance received to the last output acknowledged."""
    job = detail.job
    last_received = max(i.received_at for i in detail.instances)
    stage_s = {
        e.stage: float(e.duration_s)
        for e in detail.events
        if e.stage in STAGES and e.duration_s is not None
    }
    run_s = _s(job.finished_at, job.started_at)
    delivered = [a.occurred_at for a in detail.delivery_attempts if a.status == "success"]
    rows = [
        ("completion (study quiet timer)", _s(job.created_at, last_received)),
        ("queue (job picked up)", _s(job.started_at, job.created_at)),
    ]
    rows += [(f"pipeline: {stage}", stage_s.get(stage, 0.0)) for stage in STAGES]
    rows.append((REST, run_s - sum(stage_s.values())))
    rows.append(("delivery (plan, C-STORE, ack)", _s(max(delivered), job.finished_at)))
    return rows


def worker_start(detail: JobDetail) -> tuple[float, bool]:
    """The job's ``worker start`` event: (seconds, paid before the job was sent); (0, False)
    for a job without one (its worker had started for an earlier job)."""
    for event in detail.events:
        if event.stage == WORKER_START and event.duration_s is not None:
            return float(event.duration_s), "before this job" in event.message
    return 0.0, False


def segment_detail(detail: JobDetail) -> list[tuple[str, float]]:
    """The segmentation stage's own timings (model load, preprocessing, each fold, resampling
    to the CT grid, post-processing, confidence), seconds."""
    timings = ((detail.job.result or {}).get("segmentation") or {}).get("timings_s") or {}
    return [(str(name), float(seconds)) for name, seconds in timings.items() if name != "total"]


def collector(detail: JobDetail) -> dict[str, float]:
    """The worker's cyclic garbage collections during the job (``worker.gc`` of the result:
    collections, seconds, objects frozen out of them); empty for a result without it."""
    worker = (detail.job.result or {}).get("worker") or {}
    return {str(k): float(v) for k, v in (worker.get("gc") or {}).items()}


@dataclass(frozen=True)
class Measured:
    """One study's figures."""

    rows: list[tuple[str, float]]
    parts: list[tuple[str, float]]
    worker_start_s: float
    worker_start_ahead: bool
    gc: dict[str, float]
    total_s: float
    push_s: float
    instances: int
    megabytes: float


def measure(detail: JobDetail, push_s: float, instances: int, megabytes: float) -> Measured:
    """The figures of one finished job."""
    if detail.job.error:
        raise SystemExit(f"job ended {detail.job.state.value}: {detail.job.error}")
    delivered = [a.occurred_at for a in detail.delivery_attempts if a.status == "success"]
    total_s = _s(max(delivered), max(i.received_at for i in detail.instances))
    start_s, ahead = worker_start(detail)
    return Measured(
        breakdown(detail),
        segment_detail(detail),
        start_s,
        ahead,
        collector(detail),
        total_s,
        push_s,
        instances,
        megabytes,
    )


def print_table(studies: list[Measured], baseline_s: float, warm: bool) -> None:
    """The breakdown per study (columns; the segmentation's parts indented) and the baseline,
    side by side."""
    first = studies[0]
    names = [name for name, _ in first.rows] + [name for name, _ in first.parts]
    width = max(len(name) for name in names) + 6
    print(
        f"study: {first.instances} instances, {first.megabytes:.0f} MB; "
        f"{os.cpu_count()} CPU cores; jobs.warm_workers: {str(warm).lower()}"
    )

    def line(name: str, values: list[str]) -> None:
        print(f"{name:<{width}}" + "".join(f"{v:>12}" for v in values))

    line("stage", [f"study {n} s" for n in range(1, len(studies) + 1)])

    for index, (name, _) in enumerate(first.rows):
        line(name, [f"{m.rows[index][1]:.1f}" for m in studies])
        if name == "pipeline: segment":
            for part, _ in first.parts:
                line("    " + part, [f"{dict(m.parts).get(part, 0.0):.1f}" for m in studies])
    line(
        "worker start stage (* before the job)",
        [f"{m.worker_start_s:.1f}{'*' if m.worker_start_ahead else ' '}" for m in studies],
    )
    line(
        "cyclic GC in the worker s (collections)",
        [f"{m.gc.get('seconds', 0.0):.2f} ({m.gc.get('collections', 0):.0f})" for m in studies],
    )
    line("  objects frozen out of it", [f"{m.gc.get('frozen_objects', 0):.0f}" for m in studies])
    line("total: last received -> last ack", [f"{m.total_s:.1f}" for m in studies])
    print()
    print(f"{'baseline: storescu study -> Orthanc':<{width}}{baseline_s:>12.1f}")
    line("(for reference) Orthanc -> node push", [f"{m.push_s:.1f}" for m in studies])
    line("ratio total / baseline", [f"{m.total_s / baseline_s:.1f}" for m in studies])


def main() -> None:
    """Run the benchmark; print the table and a JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300, help="slices of the thin series")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--studies", type=int, default=1, help="studies sent one after the other to the same node"
    )
    parser.add_argument(
        "--cold-workers",
        action="store_true",
        help="jobs.warm_workers: false (a fresh process per job attempt)",
    )
    parser.add_argument(
        "--study-quiet-s",
        type=float,
        default=5.0,
        help="completion.study_quiet_s of the node (120 s in production)",
    )
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (kept)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    study_dirs = []
    for number in range(args.studies):
        study_dir = work / ("study" if number == 0 else f"study-{number + 1}")
        if not (study_dir / "truth" / "series.json").exists():
            print(f"writing study {number + 1} to {study_dir} ...", flush=True)
            write_study(study_dir, realistic_spec(args.seed + number, args.slices), volumes=False)
        study_dirs.append(study_dir)

    baseline_s = storescu_seconds(study_dirs[0] / "dicom", work)
    run = work / f"run-{int(time.time())}"
    warm = not args.cold_workers
    measured: list[Measured] = []
    with run_orthanc(run / "orthanc", aet="PACS", dicomweb=False) as pacs:
        audit_url = f"sqlite:///{run / 'audit.sqlite3'}"
        node = start_node(
            run / "node",
            free_port(),
            pacs,
            audit_url,
            {"completion": {"study_quiet_s": args.study_quiet_s}, "jobs": {"warm_workers": warm}},
        )
        try:
            for study_dir in study_dirs:
                study = load_study(study_dir)
                files = sorted((study_dir / "dicom").rglob("*.dcm"))
                megabytes = sum(f.stat().st_size for f in files) / 1e6
                orthanc_id = store_in_pacs(pacs, study)
                started = time.perf_counter()
                push_to_node(pacs, orthanc_id)
                push_s = time.perf_counter() - started
                audit = AuditLog.from_url(audit_url)
                try:
                    detail = wait_for_job(audit, study.study_instance_uid, node, timeout_s=3600)
                finally:
                    audit.dispose()
                measured.append(measure(detail, push_s, len(files), megabytes))
        finally:
            node.stop()
    print_table(measured, baseline_s, warm)
    print(
        json.dumps(
            {
                "node_aet": NODE_AET,
                "thin_slices": args.slices,
                "cpu_count": os.cpu_count(),
                "warm_workers": warm,
                "baseline_storescu_s": round(baseline_s, 2),
                "studies": [
                    {
                        "instances": m.instances,
                        "megabytes": round(m.megabytes, 1),
                        "stages_s": {k: round(v, 2) for k, v in m.rows},
                        "worker_start_s": round(m.worker_start_s, 2),
                        "worker_start_before_job": m.worker_start_ahead,
                        "worker_gc": m.gc,
                        "total_s": round(m.total_s, 2),
                        "orthanc_push_s": round(m.push_s, 2),
                        "ratio": round(m.total_s / baseline_s, 1),
                        "segment_parts_s": {k: round(v, 2) for k, v in m.parts},
                    }
                    for m in measured
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
