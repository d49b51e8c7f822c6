"""Runs ``dicomnode serve`` as a subprocess for service tests, and reads its audit DB."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
START_TIMEOUT_S = 90.0
DICOMNODE = str(Path(sys.executable).parent / "dicomnode")


class ServedNode:
    """One ``dicomnode serve`` process with its own data folder.

    Parameters
    ----------
    root : Path
        Folder for the configuration, spool, database, work folders and log.
    port : int
        SCP port.
    overrides : dict
        Configuration merged over the test defaults (short quiet time, twin handler).
    env : dict, optional
        Extra environment variables for the service.
    """

    def __init__(
        self,
        root: Path,
        port: int,
        overrides: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.config_path = root / "config.yaml"
        self.log_path = root / "serve.log"
        self.database = root / "data" / "audit.sqlite3"
        self.spool = root / "data" / "spool"
        config: dict[str, Any] = {
            "scp": {"port": port, "workers": 2},
            "spool": {"path": str(self.spool)},
            "audit": {"url": f"sqlite:///{self.database}"},
            "completion": {"policy": "series", "series_quiet_s": 2, "check_interval_s": 0.2},
            "jobs": {
                "handler": "twin_handler:run_job",
                "work_dir": str(root / "data" / "work"),
                "poll_interval_s": 0.5,
                "stop_grace_s": 5,
            },
        }
        for key, value in (overrides or {}).items():
            config.setdefault(key, {}).update(value)
        self.config_path.write_text(yaml.safe_dump(config))
        # The test handlers' folder first, then the caller's path (a worktree's checkout).
        python_path = os.pathsep.join(filter(None, (str(HERE), os.environ.get("PYTHONPATH"))))
        self.env = dict(os.environ, PYTHONPATH=python_path, **(env or {}))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the service and wait until its SCP listens."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [DICOMNODE, "serve", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.root,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:]
            if b"listening on" in text:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"dicomnode serve did not start:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM the service and wait; kills it (and its group) after ``timeout_s`` s.

        Returns its exit status, or ``None`` when it had to be killed (or was not running).
        """
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            code = None
        self.process = None
        return code

    def kill9(self) -> None:
        """``kill -9`` the service and all its processes at once (as systemd's cgroup kill
        or a power loss would)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        """Read the audit database (read-only)."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10) as db:
            return list(db.execute(sql, args))

    def spool_files(self) -> list[Path]:
        return sorted(self.spool.glob("*/*/*.dcm"))

    def wait_for(self, condition: Any, timeout_s: float = 120.0, what: str = "") -> None:
        """Poll ``condition()`` until true; fail with the log tail after ``timeout_s`` s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except sqlite3.OperationalError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{self.log_text()[-3000:]}")
