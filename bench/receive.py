"""Receive throughput of dicomnode versus Orthanc and DCMTK storescp (not run in CI).

Sends the same synthetic CT series (default 320 slices of 512x512, 16-bit) to each
receiver on loopback with DCMTK ``storescu`` (``TCP_NODELAY=1``): once with one sender,
once with four concurrent senders each sending a quarter of the series. Prints
instances/s and MB/s per receiver and the node's ratios to Orthanc and storescp.

Usage::

    python bench/receive.py [--slices 320] [--workers 4] [--rounds 1] [--work DIR]

The node runs as ``dicomnode serve`` with its durable receive (fsync per instance and its
folder) and its audit database; Orthanc and storescp run with their defaults: Orthanc 1.10
``fdatasync``-s every stored file (``SyncStorageArea``, seen with ``strace -c``: 320 calls
for 320 instances, plus its SQLite index) but not the folder; storescp does not sync.
With ``--rounds N`` the receivers take turns N times and each keeps its best time (on a
shared machine other load drifts between runs). ``CPU ms/inst`` is the user + system CPU of
the receiver's processes (the node's service and receiving processes, Orthanc, storescp and
its forks) during that best send, per instance: on a machine with fewer cores than busy
processes it decides the four-sender rate. Kernel threads (writeback, loopback) and the
senders are not counted. The load average is printed before and
after: read the figures with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration" / "node"))
from ct_series import write_ct_series

STORESCU = "/usr/bin/storescu"
STORESCP = "/usr/bin/storescp"
ORTHANC = "/usr/sbin/Orthanc"
DICOMNODE = str(Path(sys.executable).parent / "dicomnode")
ENV = dict(os.environ, TCP_NODELAY="1")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def _node(work: Path, workers: int) -> Iterator[tuple[int, int]]:
    port = _free_port()
    config = {
        "scp": {"port": port, "workers": workers, "accept_any": True},
        "spool": {"path": str(work / "node" / "spool")},
        "audit": {"url": f"sqlite:///{work / 'node' / 'audit.sqlite3'}"},
        "completion": {"series_quiet_s": 3600, "study_quiet_s": 3600},
        "log_level": "WARNING",
    }
    (work / "node").mkdir(parents=True)
    (work / "node" / "config.yaml").write_text(yaml.safe_dump(config))
    log = (work / "node" / "serve.log").open("wb")
    process = subprocess.Popen(
        [DICOMNODE, "serve", "--config", str(work / "node" / "config.yaml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait(lambda: _listening(port), 120, "dicomnode")
        time.sleep(2)  # let every worker process bind
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)


@contextmanager
def _orthanc(work: Path) -> Iterator[tuple[int, int]]:
    port, http_port = _free_port(), _free_port()
    folder = work / "orthanc"
    folder.mkdir(parents=True)
    config = {
        "Name": "bench",
        "DicomAet": "ORTHANC",
        "DicomPort": port,
        "HttpPort": http_port,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "SaveJobs": False,
        "Plugins": [],
    }
    (folder / "cfg.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [ORTHANC, str(folder / "cfg.json")],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ready() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http_port}/system", timeout=2)
            return True
        except OSError:
            return False

    try:
        _wait(ready, 120, "Orthanc")
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


@contextmanager
def _storescp(work: Path) -> Iterator[tuple[int, int]]:
    port = _free_port()
    out = work / "storescp"
    out.mkdir(parents=True)
    process = subprocess.Popen(
        [STORESCP, "--fork", "-od", str(out), str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait(lambda: _listening(port), 60, "storescp")
        yield port, process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its descendants (live ones and reaped ones), in s."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents[int(entry.name)] = int(fields[1])
        utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
        times[int(entry.name)] = (utime + stime + cutime + cstime) / ticks
    tree, grown = {root}, True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        grown = bool(children)
    return sum(times.get(pid, 0.0) for pid in tree)


def send_concurrently(port: int, aec: str, folders: list[Path]) -> tuple[float, list[str]]:
    """Send each folder with its own storescu (calling AE ``BENCH``) at once.

    Returns
    -------
    elapsed_s : float
        Wall time of the whole send, in seconds.
    failures : list of str
        The end of the error output of each storescu that exited non-zero or reported a
        failed store or a rejected association.
    """
    failures: list[str] = []

    def one(folder: Path) -> None:
        done = subprocess.run(
            [STORESCU, "-aet", "BENCH", "-aec", aec, "-nh", "+sd", "127.0.0.1", str(port), folder],
            env=ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or "Failed" in done.stderr or "Rejected" in done.stderr:
            failures.append(done.stderr[-500:])

    threads = [threading.Thread(target=one, args=(folder,)) for folder in folders]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, failures


def _send(port: int, aec: str, folders: list[Path]) -> float:
    """:func:`send_concurrently`; raises on the first failure; returns the wall time (s)."""
    elapsed, failures = send_concurrently(port, aec, folders)
    if failures:
        raise RuntimeError(f"storescu failed: {failures[0]}")
    return elapsed


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=320, help="slices in the series")
    parser.add_argument("--workers", type=int, default=4, help="node receiving processes")
    parser.add_argument("--rounds", type=int, default=1, help="turns per receiver (best kept)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder")
    args = parser.parse_args()
    load_before = os.getloadavg()
    work = args.work or Path(tempfile.mkdtemp(prefix="dicomnode-bench-"))
    series = work / "series"
    paths = write_ct_series(series, args.slices, size=512, seed=11)
    quarters = [work / f"quarter{i}" for i in range(4)]
    for index, path in enumerate(paths):
        target = quarters[index % 4]
        target.mkdir(exist_ok=True)
        os.link(path, target / path.name)
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    receivers = {
        "dicomnode": (lambda w: _node(w, args.workers), "DICOMNODE"),
        "orthanc": (_orthanc, "ORTHANC"),
        "storescp": (_storescp, "ANY"),
    }
    results: dict[str, dict[int, float]] = {name: {} for name in receivers}
    cpu: dict[str, dict[int, float]] = {name: {} for name in receivers}
    for turn in range(args.rounds):
        for name, (start, aec) in receivers.items():
            for senders, folders in ((1, [series]), (4, quarters)):
                scratch = work / f"{name}-{senders}-{turn}"
                with start(scratch) as (port, pid):
                    before = _cpu_seconds(pid)
                    seconds = _send(port, aec, folders)
                    time.sleep(0.5)  # the last records reach the audit database
                    used = _cpu_seconds(pid) - before
                if seconds < results[name].get(senders, float("inf")):
                    results[name][senders], cpu[name][senders] = seconds, used
                shutil.rmtree(scratch, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"series: {len(paths)} instances, {megabytes:.1f} MB; node workers: {args.workers}")
    print(
        f"load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}, "
        f"after: {' '.join(f'{x:.2f}' for x in load_after)}; best of {args.rounds} round(s)"
    )
    print(f"{'receiver':<10} {'senders':>7} {'inst/s':>8} {'MB/s':>8} {'CPU ms/inst':>12}")
    for name, timings in results.items():
        for senders, seconds in timings.items():
            rate = len(paths) / seconds
            per_instance = 1000 * cpu[name][senders] / len(paths)
            print(
                f"{name:<10} {senders:>7} {rate:>8.1f} {megabytes / seconds:>8.1f} "
                f"{per_instance:>12.2f}"
            )
    for senders in (1, 4):
        node = results["dicomnode"][senders]
        print(
            f"{senders} sender(s): node/orthanc = {results['orthanc'][senders] / node:.2f}, "
            f"node/storescp = {results['storescp'][senders] / node:.2f}"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
