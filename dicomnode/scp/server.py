"""The listening side: a pynetdicom AE per process, several processes sharing the port.

pynetdicom handles each association in a Python thread, so one process is bound by the
interpreter lock. :class:`ScpProcessPool` binds one listening socket and starts ``workers``
processes that all accept from it, so concurrent senders use several CPU cores. A process
that already serves associations waits a little before it accepts (see
:data:`ACCEPT_DELAY_PER_ASSOCIATION_S`), so a new sender goes to an idle process when there
is one; ``SO_REUSEPORT``, used before, hashed connections onto processes regardless of their
load (three of four senders could land on one process while others stayed idle). Every
process publishes its records to one queue read by the service process (the only one that
writes the audit database).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from types import FrameType
from typing import Any, cast

from pydicom import config as pydicom_config
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    VerificationPresentationContexts,
    evt,
)
from pynetdicom import _config as pynetdicom_config
from pynetdicom.events import Event
from pynetdicom.transport import ThreadedAssociationServer

from dicomnode.logs import protect_logs
from dicomnode.scp._fork import receive_path
from dicomnode.scp.access import AccessPolicy
from dicomnode.scp.config import ScpConfig
from dicomnode.scp.events import ReceiveEvent, ReceiveSink
from dicomnode.scp.guard import ConnectionGuard
from dicomnode.scp.handlers import StorageScpHandlers
from dicomnode.scp.pdu import RefusalReason
from dicomnode.scp.slots import (
    ADDRESS_BUCKETS,
    AddressSlots,
    AssociationCounts,
    association_table,
    slot_table,
)
from dicomnode.scp.spool import SpoolWriter
from dicomnode.scp.tls import server_ssl_context
from dicomnode.scp.watermark import DiskWatermark

LOGGER = logging.getLogger(__name__)

PYNETDICOM_MIN_LOG_LEVEL = logging.WARNING
"""pynetdicom's own log level unless the node runs at DEBUG."""

SHUTDOWN_GRACE_S = 5.0
"""How long active associations may finish after a stop request, in seconds."""


UNCOUNTED_NEGOTIATIONS = 10_000
"""Headroom of pynetdicom's own association limit over ours (see :func:`build_ae`); the
connections themselves are bounded per address."""

LISTEN_BACKLOG = 128
"""Connections the kernel queues for the receiving processes before they accept them."""

ACCEPT_DELAY_PER_ASSOCIATION_S = 0.01
"""How long a receiving process waits before accepting, per association it already serves
(at most :data:`ACCEPT_DELAY_MAX_S`): every process wakes on a new connection and the first
to accept gets it, so an idle process wins. Paid once per association, not per instance."""

ACCEPT_DELAY_MAX_S = 0.05
"""Longest wait of a busy receiving process before it accepts, in seconds."""


def accept_delay_s(serving: int) -> float:
    """Wait before accepting of a process serving ``serving`` associations, in seconds."""
    return min(ACCEPT_DELAY_MAX_S, serving * ACCEPT_DELAY_PER_ASSOCIATION_S)


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` for the receiving processes to share.

    Parameters
    ----------
    host : str
        Address to listen on (IPv6 if it contains ``:``).
    port : int
        TCP port.

    Returns
    -------
    socket.socket
        A non-blocking listening socket (a process that loses the race for a connection
        gets ``BlockingIOError``, which the server loop ignores).

    Raises
    ------
    OSError
        If the address cannot be bound, with the address in the message.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT left-overs
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.setblocking(False)
    return sock


class GuardedAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server, counting each connection against its address's limit
    (:class:`~dicomnode.scp.guard.ConnectionGuard`; set :attr:`guard` before serving)."""

    guard: ConnectionGuard
    request_queue_size = LISTEN_BACKLOG  # socketserver's default of 5 drops bursts

    def verify_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> bool:
        """Take a connection slot of the peer's address, or refuse (close) the connection."""
        address, port = str(client_address[0]), int(client_address[1])
        if self.guard.slots.acquire(address):
            return True
        self.guard.refuse(
            address,
            port,
            RefusalReason.ADDRESS_LIMIT,
            f"{self.guard.slots.limit} connections from this address already open",
        )
        return False

    def process_request_thread(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Start the association; if that fails, close the connection and free its slot
        (once started, the association's socket frees it when closed)."""
        try:
            self.finish_request(request, client_address)
        except Exception as exc:
            LOGGER.error("could not start an association: %s", type(exc).__name__)
            self.guard.slots.release(str(client_address[0]))
            self.shutdown_request(request)


class SharedSocketAssociationServer(GuardedAssociationServer):
    """pynetdicom's threaded server on a listening socket shared by several processes.

    Set :attr:`shared_socket` on a subclass (see :func:`_shared_server_class`): the socket
    pynetdicom creates is replaced by a duplicate of it instead of being bound; closing the
    server closes the duplicate only.
    """

    shared_socket: socket.socket

    def server_bind(self) -> None:
        """Use a duplicate of the shared socket (already bound and listening)."""
        if self.socket is not None:
            self.socket.close()
        self.socket = self.shared_socket.dup()
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()

    def server_activate(self) -> None:
        """Nothing to do: the shared socket already listens."""

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """Accept a connection, after a short wait if this process is busy (an idle process
        accepts first); ``BlockingIOError`` if another process took it."""
        delay = accept_delay_s(len(self.ae.active_associations))
        if delay:
            time.sleep(delay)
        return super().get_request()

    def server_close(self) -> None:
        """Close this process's handle only: shutting the shared socket down would stop the
        other processes listening."""
        if self.socket is not None:
            self.socket.close()


def _shared_server_class(sock: socket.socket) -> type[SharedSocketAssociationServer]:
    """A :class:`SharedSocketAssociationServer` subclass serving ``sock``."""
    return type("SharedSocketServer", (SharedSocketAssociationServer,), {"shared_socket": sock})


def _set_network_timeout_response(event: Event, response: str) -> None:
    """Set how an accepted association ends on its network timeout (``EVT_CONN_OPEN``
    handler: pynetdicom has no setting for its acceptor associations)."""
    event.assoc.network_timeout_response = response


def build_ae(config: ScpConfig, associations: int) -> AE:
    """Build the AE: every storage SOP class and Verification, all transfer syntaxes.

    Parameters
    ----------
    config : ScpConfig
        AE title, timeouts and PDU size.
    associations : int
        Most concurrent associations this AE accepts.

    Returns
    -------
    pynetdicom.AE
        The configured application entity; called-AE checks are done by our
        access policy (so rejections are recorded), not by pynetdicom.
    """
    ae = AE(ae_title=config.ae_title)
    for context in (*VerificationPresentationContexts, *AllStoragePresentationContexts):
        ae.add_supported_context(str(context.abstract_syntax), ALL_TRANSFER_SYNTAXES)
    # pynetdicom counts connections still negotiating against this; the handlers count
    # established associations against ``associations`` themselves, so hostile connections
    # that never associate cannot take an allowed sender's place.
    ae.maximum_associations = associations + UNCOUNTED_NEGOTIATIONS
    ae.acse_timeout = config.acse_timeout_s
    ae.dimse_timeout = config.dimse_timeout_s
    ae.network_timeout = config.network_timeout_s
    ae.maximum_pdu_size = config.maximum_pdu_size
    ae.require_called_aet = False
    ae.require_calling_aet = []
    return ae


@dataclass
class RunningScp:
    """One listening AE in this process (see :func:`start_scp`)."""

    ae: AE
    server: ThreadedAssociationServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The TCP port actually bound."""
        return int(self.server.server_address[1])

    def stop(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop accepting, let active associations finish for ``grace_s`` s, then abort."""
        self.server.shutdown()
        deadline = time.monotonic() + grace_s
        while self.ae.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)
        self.ae.shutdown()
        self.thread.join(timeout=grace_s)


def start_scp(
    config: ScpConfig,
    spool: SpoolWriter,
    sink: ReceiveSink,
    *,
    shared_socket: socket.socket | None = None,
    min_free_bytes: int = 0,
    slots: AddressSlots | None = None,
    counts: AssociationCounts | None = None,
) -> RunningScp:
    """Bind and serve the SCP in a background thread of this process.

    Parameters
    ----------
    config : ScpConfig
        Address, identity, limits, access control and TLS.
    spool : SpoolWriter
        Where instances are written.
    sink : ReceiveSink
        Receives the records of associations and instances.
    shared_socket : socket.socket, optional
        A listening socket shared with other processes (see :func:`listening_socket`);
        without it the server binds ``config.host:config.port`` itself.
    min_free_bytes : int
        Disk-space watermark of the spool in bytes: below it new associations are refused
        with a transient rejection; 0 disables the check.
    slots : AddressSlots, optional
        Connections per address shared with other receiving processes; without it this
        process counts its own (``config.max_connections_per_address``).
    counts : AssociationCounts, optional
        Established associations of every receiving process, for ``max_associations``;
        without it this process counts its own.

    Returns
    -------
    RunningScp
        The running server; call :meth:`RunningScp.stop` to end it.
    """
    ae = build_ae(config, config.max_associations)
    path = receive_path(config.direct_store)
    guard = ConnectionGuard(
        slots=slots or AddressSlots([0] * ADDRESS_BUCKETS, 0, config.max_connections_per_address),
        sink=sink,
        maximum_pdu_size=config.maximum_pdu_size,
        pdu_timeout_s=config.pdu_timeout_s,
        association_timeout_s=config.acse_timeout_s,
        max_data_set_bytes=config.max_data_set_bytes,
    )
    handlers = StorageScpHandlers(
        AccessPolicy(config),
        spool,
        sink,
        DiskWatermark(spool.root, min_free_bytes),
        max_associations=config.max_associations,
        counts=counts,
    )
    server_class: type[GuardedAssociationServer] = (
        GuardedAssociationServer if shared_socket is None else _shared_server_class(shared_socket)
    )
    server = ae.make_server(
        (config.host, config.port),
        ae_title=config.ae_title,
        ssl_context=server_ssl_context(config.tls),
        evt_handlers=[
            *handlers.handlers(),
            *path.handlers(guard),
            (evt.EVT_CONN_OPEN, _set_network_timeout_response, [config.network_timeout_response]),
        ],
        server_class=server_class,
        request_handler=path.request_handler,
    )
    cast(GuardedAssociationServer, server).guard = guard
    ae._servers.append(server)  # as AE.start_server does, so AE.shutdown() reaches it
    thread = threading.Thread(target=server.serve_forever, name="scp-server", daemon=True)
    thread.start()
    return RunningScp(ae=ae, server=server, thread=thread)


class QueueSink:
    """A :class:`ReceiveSink` that forwards records to a multiprocessing queue."""

    def __init__(self, queue: Queue[ReceiveEvent]) -> None:
        self._queue = queue

    def publish(self, event: ReceiveEvent) -> None:
        """Put the record on the queue (does not block: the queue is unbounded)."""
        self._queue.put(event)


def configure_receiving_process(log_level: int) -> None:
    """Process-wide library settings of a receiving process (it only receives).

    pynetdicom logs every association and DIMSE message at INFO; the audit database holds
    that record, so its chatter is shown at DEBUG only. Below DEBUG its standard event
    handlers, which format a description of every DIMSE message and PDU whether or not it
    is logged, are not bound at all, and pydicom does not validate the values of the
    command sets and headers it decodes and encodes here (the node validates the UIDs it
    uses itself, :mod:`dicomnode.scp.uids`; pydicom's warnings would also write received
    values, possibly PHI, into the log). Both cost CPU for every instance
    (``docs/receive.md``).

    Parameters
    ----------
    log_level : int
        The node's logging level.
    """
    debug = log_level <= logging.DEBUG
    logging.getLogger("pynetdicom").setLevel(
        log_level if debug else max(log_level, PYNETDICOM_MIN_LOG_LEVEL)
    )
    if not debug:
        pynetdicom_config.LOG_HANDLER_LEVEL = "none"
        pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE
        pydicom_config.settings.writing_validation_mode = pydicom_config.IGNORE


def _worker_main(
    config: ScpConfig,
    shared_socket: socket.socket,
    spool_root: Path,
    queue: Queue[ReceiveEvent],
    ready: MpEvent,
    log_level: int,
    min_free_bytes: int,
    slot_table: Any,
    counts_table: Any,
    row: int,
) -> None:
    """Body of one receiving process: serve until SIGTERM arrives or the service process
    is gone (killed), then stop gracefully."""
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(processName)s %(name)s %(levelname)s %(message)s"
    )
    protect_logs()  # no patient values in the log (dicomnode.logs)
    configure_receiving_process(log_level)

    terminated: list[int] = []

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        # Only a plain flag: touching the shared Event from a handler can deadlock on its
        # lock while this very thread waits on it.
        terminated.append(signum)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service process decides
    running = start_scp(
        config,
        SpoolWriter(spool_root),
        QueueSink(queue),
        shared_socket=shared_socket,
        min_free_bytes=min_free_bytes,
        slots=AddressSlots(slot_table, row, config.max_connections_per_address),
        counts=AssociationCounts(counts_table, row),
    )
    ready.set()
    parent = os.getppid()
    while not terminated and os.getppid() == parent:  # also stop if the service died
        time.sleep(0.2)
    running.stop()
    queue.close()
    queue.join_thread()


class ScpProcessPool:
    """``workers`` receiving processes sharing one port, reporting to one queue.

    Parameters
    ----------
    config : ScpConfig
        The SCP settings (``workers`` processes are started).
    spool_root : Path
        The spool folder.
    log_level : int
        Logging level of the worker processes.
    min_free_bytes : int
        Disk-space watermark of the spool in bytes (see :func:`start_scp`); 0 disables it.
    """

    def __init__(
        self,
        config: ScpConfig,
        spool_root: Path,
        log_level: int = logging.INFO,
        min_free_bytes: int = 0,
    ):
        self._config = config
        self._spool_root = spool_root
        self._log_level = log_level
        self._min_free_bytes = min_free_bytes
        self._context = multiprocessing.get_context("spawn")
        self.queue: Queue[ReceiveEvent] = self._context.Queue()
        self._processes: list[SpawnProcess] = []
        self._socket: socket.socket | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the processes and wait until each listens.

        Raises
        ------
        OSError
            If the port is taken.
        RuntimeError
            If a process dies or does not listen within ``timeout_s`` seconds.
        """
        self._socket = listening_socket(self._config.host, self._config.port)
        table = slot_table(self._context, self._config.workers)
        counts = association_table(self._context, self._config.workers)
        readies = []
        for index in range(self._config.workers):
            ready = self._context.Event()
            process = self._context.Process(
                target=_worker_main,
                args=(
                    self._config,
                    self._socket,
                    self._spool_root,
                    self.queue,
                    ready,
                    self._log_level,
                    self._min_free_bytes,
                    table,
                    counts,
                    index,
                ),
                name=f"scp-{index}",
                daemon=True,
            )
            process.start()
            self._processes.append(process)
            readies.append(ready)
        deadline = time.monotonic() + timeout_s
        for process, ready in zip(self._processes, readies, strict=True):
            while not ready.wait(0.1):
                if not process.is_alive() or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"SCP process {process.name} failed to start")
        LOGGER.info(
            "SCP %s listening on %s:%d with %d processes",
            self._config.ae_title,
            self._config.host,
            self._config.port,
            self._config.workers,
        )

    def alive(self) -> bool:
        """Whether every receiving process is still running."""
        return bool(self._processes) and all(p.is_alive() for p in self._processes)

    def stop(self, timeout_s: float = SHUTDOWN_GRACE_S + 5.0) -> None:
        """Send SIGTERM (a graceful stop), wait ``timeout_s`` seconds, then kill the rest.

        A signal rather than a shared event: a process killed while holding a shared lock
        cannot block the service's stop.
        """
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + timeout_s
        for process in self._processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                LOGGER.warning("SCP process %s did not stop; terminating it", process.name)
                process.kill()
                process.join(timeout=5.0)
        self._processes.clear()
        if self._socket is not None:
            self._socket.close()
            self._socket = None
