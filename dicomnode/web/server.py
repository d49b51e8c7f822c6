"""The dashboard as one of the service's background loops: uvicorn in a thread.

The listening socket is bound in :meth:`WebServer.start`, so a taken port is known at once.
The dashboard is an aid, not the node's job: when its port cannot be bound the error is
logged and recorded as a service event (``web_failed``) and the node keeps receiving and
processing studies.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from dicomnode.audit.ports import ServiceEventLog
from dicomnode.web.config import WebConfig

LOGGER = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
"""How long :meth:`WebServer.start` waits for uvicorn to serve, in seconds."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class WebServer:
    """Serves the dashboard application with uvicorn in a background thread.

    Parameters
    ----------
    app : FastAPI
        The dashboard (:func:`dicomnode.web.app.create_app`).
    config : WebConfig
        Address and port.
    audit : ServiceEventLog
        Where a failure to start is recorded.
    """

    def __init__(self, app: FastAPI, config: WebConfig, audit: ServiceEventLog) -> None:
        self._app = app
        self._config = config
        self._audit = audit
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        """The port actually bound (after :meth:`start`), or None when not serving."""

    def start(self) -> None:
        """Bind the port and serve in a thread; a bind failure is logged and recorded."""
        try:
            sock = bind_socket(self._config.host, self._config.port)
        except OSError as exc:
            message = f"dashboard cannot listen on {self._config.host}:{self._config.port}: {exc}"
            LOGGER.error("%s; the node runs without it", message)
            self._audit.record_service_event("web_failed", message)
            return
        self.port = int(sock.getsockname()[1])
        # proxy_headers off: uvicorn would take the client address from X-Forwarded-For
        # of any loopback peer; the application decides (web.trusted_proxies).
        server = uvicorn.Server(
            uvicorn.Config(self._app, log_level="warning", access_log=False, lifespan="off",
                           proxy_headers=False)
        )
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="web-server", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        self._server, self._thread = server, thread
        if not server.started:
            message = f"dashboard did not start on {self._config.host}:{self.port}"
            LOGGER.error("%s; the node runs without it", message)
            self._audit.record_service_event("web_failed", message)
            return
        LOGGER.info("dashboard on http://%s:%d/", self._config.host, self.port)

    def stop(self) -> None:
        """Ask uvicorn to finish the open requests and stop; wait for its thread."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10.0)
        self._server = self._thread = None
        self.port = None
