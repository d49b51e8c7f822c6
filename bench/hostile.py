"""Receive under attack: allowed DCMTK senders while hostile connections misbehave (not in CI).

Starts ``dicomnode serve`` (4 receiving processes, durable receive, SQLite audit database,
dashboard for ``/metrics``), then sends ``--senders`` series of ``--instances`` CT instances
each with concurrent DCMTK ``storescu`` processes from 127.0.0.1, twice: once alone (the
baseline) and once while ``--hostile`` threads from 127.0.0.2 keep opening connections that
claim 1 GiB PDUs, send part of a PDU and wait, send undefined PDU types, or request a
presentation context with an even ID. Prints, for both runs, the wall time, instances/s,
failed senders, instances the audit database holds as stored, and the refusals by reason
from ``/metrics``, then the attacked run's rate as a ratio of the baseline's. The sender
check fails loudly (exit 1): in both runs every instance must be stored and no allowed
sender refused.

Usage::

    python bench/hostile.py [--senders 8] [--instances 500] [--hostile 20] [--work DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration" / "node"))
from ct_series import write_ct_series
from hostile_peer import IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION, associate_rq, pdu_header
from receive import _free_port, _listening, _wait, send_concurrently

DICOMNODE = str(Path(sys.executable).parent / "dicomnode")
HOSTILE_ADDRESS = "127.0.0.2"


def _behaviours() -> list[Callable[[socket.socket], None]]:
    """What the hostile threads do on each connection, in turn."""

    def claim_a_gibibyte(sock: socket.socket) -> None:
        sock.sendall(pdu_header(0x01, 1 << 30) + b"\0\1")
        sock.recv(64)

    def hold_a_partial_pdu(sock: socket.socket) -> None:
        sock.sendall(pdu_header(0x01, 1000) + b"\0" * 10)
        time.sleep(3.0)

    def unknown_pdu_type(sock: socket.socket) -> None:
        sock.sendall(pdu_header(0x09, 4) + b"\0" * 4)
        sock.recv(64)

    def even_context_id(sock: socket.socket) -> None:
        sock.sendall(associate_rq([(2, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN])]))
        sock.recv(64)

    return [claim_a_gibibyte, hold_a_partial_pdu, unknown_pdu_type, even_context_id]


def _attack(port: int, behaviour: Callable[[socket.socket], None], stop: threading.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError), socket.socket() as sock:
            sock.settimeout(5.0)
            sock.bind((HOSTILE_ADDRESS, 0))
            sock.connect(("127.0.0.1", port))
            behaviour(sock)
        time.sleep(0.01)


@contextlib.contextmanager
def _node(work: Path) -> Iterator[tuple[int, int, Path]]:
    port, web_port = _free_port(), _free_port()
    database = work / "audit.sqlite3"
    config = {
        "scp": {
            "port": port,
            "workers": 4,
            "allowed_peers": [{"ae_title": "BENCH", "addresses": ["127.0.0.1"]}],
        },
        "spool": {"path": str(work / "spool")},
        "audit": {"url": f"sqlite:///{database}"},
        "completion": {"series_quiet_s": 3600, "study_quiet_s": 3600},
        "web": {"port": web_port},
        "log_level": "WARNING",
    }
    work.mkdir(parents=True)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    with (work / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [DICOMNODE, "serve", "--config", str(work / "config.yaml")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait(lambda: _listening(port), 120, "dicomnode")
            time.sleep(2)  # every receiving process binds
            yield port, web_port, database
        finally:
            process.terminate()
            process.wait(timeout=120)


def _refusals(web_port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("dicomnode_connections_refused_total{"):
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            found[reason] = float(line.rsplit(" ", 1)[1])
    return {reason: count for reason, count in found.items() if count}


def _stored(database: Path) -> int:
    with sqlite3.connect(database) as db:
        row = db.execute("SELECT count(*) FROM instances WHERE status = 'stored'").fetchone()
    return int(row[0])


def _run(work: Path, folders: list[Path], hostile: int) -> dict[str, object]:
    with _node(work) as (port, web_port, database):
        stop = threading.Event()
        attackers = [
            threading.Thread(target=_attack, args=(port, behaviour, stop), daemon=True)
            for index in range(hostile)
            for behaviour in [_behaviours()[index % 4]]
        ]
        for thread in attackers:
            thread.start()
        time.sleep(1.0 if hostile else 0.0)
        elapsed, failures = send_concurrently(port, "DICOMNODE", folders)
        stop.set()
        for thread in attackers:
            thread.join(timeout=10)
        time.sleep(3.0)  # the recorder's last batch
        return {
            "elapsed_s": round(elapsed, 2),
            "instances_per_s": round(sum(len(list(f.iterdir())) for f in folders) / elapsed, 1),
            "failed_senders": len(failures),
            "stored": _stored(database),
            "refused_by_reason": _refusals(web_port),
            "first_failure": failures[0] if failures else None,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--hostile", type=int, default=20)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="dicomnode-hostile-"))
    folders = [
        write_ct_series(folder, args.instances, size=128, seed=index)[0].parent
        for index, folder in enumerate(work / "series" / f"s{n}" for n in range(args.senders))
    ]
    expected = args.senders * args.instances
    baseline = _run(work / "baseline", folders, hostile=0)
    attacked = _run(work / "attacked", folders, hostile=args.hostile)
    print(f"instances sent per run: {expected} ({args.senders} senders x {args.instances})")
    for name, figures in (("baseline", baseline), ("attacked", attacked)):
        print(f"{name:9s} {figures}")
    ratio = float(attacked["instances_per_s"]) / float(baseline["instances_per_s"])  # type: ignore[arg-type]
    print(f"attacked / baseline rate: {ratio:.2f}x")
    shutil.rmtree(work / "series", ignore_errors=True)
    for name, figures in (("baseline", baseline), ("attacked", attacked)):
        lost = expected - int(figures["stored"])  # type: ignore[call-overload]
        if lost or figures["failed_senders"]:
            failed = figures["failed_senders"]
            raise SystemExit(f"FAILED ({name}): {lost} instances lost, {failed} senders failed")


if __name__ == "__main__":
    main()
