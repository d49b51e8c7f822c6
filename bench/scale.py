"""Studies per hour with 1, 2 and 4 worker processes: the local backend against the Celery
backend (RabbitMQ 127.0.0.1:5672 guest/guest, PostgreSQL 127.0.0.1:5432), side by side.

The job is the fixed-cost handler of tests/integration/jobs/fixed_cost.py burning
``--job-s`` seconds of one CPU core (``--pipeline``: the real pipeline with the demo model,
each job its own small synthetic study of one portal venous 5 mm series, seeds never reused
within a run). Workers are started and warm before the clock starts (``--pipeline``: each
point first runs one warm-up study per worker process, off the clock); the time is from
queuing the jobs to the last one recorded as final. Prints one line per point and a JSON
summary. Default run: about 2-3 minutes on 2 cores (``--pipeline``: about 6).

    python bench/scale.py [--jobs 8] [--job-s 1.0] [--workers 1 2 4] [--pipeline]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JOBS_TESTS = REPO / "tests" / "integration" / "jobs"
sys.path[:0] = [str(REPO), str(JOBS_TESTS), str(REPO / "tests")]
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), str(JOBS_TESTS)])

from celery_cluster import Cluster, running_cluster, write_small_study  # noqa: E402
from loopback_peers import postgres_database  # noqa: E402

from dicomnode.audit import migrate  # noqa: E402
from dicomnode.audit.engine import create_audit_engine  # noqa: E402
from dicomnode.audit.rows import JobState  # noqa: E402
from dicomnode.jobs.local import LocalJobRunner  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402


class Studies:
    """Small synthetic studies for ``--pipeline``, each written once (a new seed each)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._seed = 0

    def take(self, count: int) -> list[Path]:
        """``count`` studies never handed out before (their ``dicom`` folders)."""
        folders = []
        for _ in range(count):
            self._seed += 1
            folders.append(write_small_study(self._root / f"study-{self._seed}", self._seed))
        return folders


def _timed(
    cluster: Cluster, notify: Callable[[], None], workers: int, jobs: int, studies: Studies | None
) -> float:
    """Seconds from queuing ``jobs`` jobs to the last one final (warm-up and the writing of
    the studies off the clock)."""
    if studies is None:
        started = time.perf_counter()
        ids = [cluster.add_fixed_job() for _ in range(jobs)]
    else:
        warm = [cluster.add_study_job(study) for study in studies.take(workers)]
        notify()
        cluster.wait_final(warm, timeout_s=1800)
        folders = studies.take(jobs)
        started = time.perf_counter()
        ids = [cluster.add_study_job(study) for study in folders]
    notify()
    details = cluster.wait_final(ids, timeout_s=1800)
    seconds = time.perf_counter() - started
    failed = {i: d.job.error for i, d in details.items() if d.job.state is not JobState.SUCCEEDED}
    if failed:
        raise RuntimeError(f"jobs did not succeed: {failed}")
    segment = [
        e.duration_s or 0.0 for d in details.values() for e in d.events if e.stage == "segment"
    ]
    if segment:
        print(f"  mean segment stage {sum(segment) / len(segment):.1f} s", flush=True)
    return seconds


def _local(
    root: Path, url: str, workers: int, jobs: int, handler: str, studies: Studies | None
) -> float:
    cluster = Cluster(root, url)
    config = cluster.jobs_config(
        backend="local", workers=workers, handler=handler, work_dir=root / "work-local"
    )
    runner = LocalJobRunner(config, cluster.audit, pipeline=PipelineConfig())
    runner.start()  # warm workers prepare now
    time.sleep(2.0)
    try:
        return _timed(cluster, runner.notify, workers, jobs, studies)
    finally:
        runner.stop()
        cluster.audit.dispose()


def _celery(
    root: Path, url: str, workers: int, jobs: int, handler: str, studies: Studies | None
) -> float:
    with running_cluster(root, url) as cluster:
        cluster.start_worker(
            "bench",
            handler=handler,
            concurrency=workers,
            cpu=True,
            job_s=float(os.environ["DICOMNODE_TEST_JOB_S"]),
        )
        cluster.wait_ready(["bench"])
        time.sleep(2.0)  # pool processes prepared
        return _timed(cluster, cluster.runner.notify, workers, jobs, studies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8, help="jobs per point")
    parser.add_argument("--job-s", type=float, default=1.0, help="CPU seconds per fixed job")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--pipeline",
        action="store_true",
        help="the demo pipeline on a small synthetic study instead",
    )
    args = parser.parse_args()
    os.environ["DICOMNODE_TEST_JOB_S"] = str(args.job_s)
    os.environ["DICOMNODE_TEST_JOB_CPU"] = "1"
    handler = "fixed_cost:mixed" if args.pipeline else "fixed_cost:handler"
    rows = []
    with tempfile.TemporaryDirectory(prefix="dicomnode-scale-") as tmp, postgres_database() as url:
        engine = create_audit_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        studies = Studies(Path(tmp) / "studies") if args.pipeline else None
        for n in args.workers:
            local = _local(Path(tmp) / f"local-{n}", url, n, args.jobs, handler, studies)
            celery = _celery(Path(tmp) / f"celery-{n}", url, n, args.jobs, handler, studies)
            row = {
                "workers": n,
                "local_studies_per_hour": round(3600 * args.jobs / local, 1),
                "celery_studies_per_hour": round(3600 * args.jobs / celery, 1),
                "celery_over_local": round(local / celery, 2),
            }
            rows.append(row)
            print(
                f"workers={n}: local {row['local_studies_per_hour']}/h, "
                f"celery {row['celery_studies_per_hour']}/h "
                f"(celery/local {row['celery_over_local']})",
                flush=True,
            )
    print(
        json.dumps(
            {
                "cores": os.cpu_count(),
                "jobs": args.jobs,
                "job_s": args.job_s,
                "pipeline": args.pipeline,
                "points": rows,
                "load": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
