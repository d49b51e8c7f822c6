"""The version guard of the pynetdicom fork: which receive path an SCP runs.

The receiving processes replace parts of pynetdicom's internals for speed and safety
(docs/receive.md): the DUL loop (:mod:`dicomnode.scp._dul_reactor`), the association loop
(:mod:`dicomnode.scp._assoc_reactor`), the connection's PDU reads
(:mod:`dicomnode.scp._transport`) and the C-STORE decoding and encoding
(:mod:`dicomnode.scp._store_dimse`). They follow the source of the pynetdicom versions in
:data:`SUPPORTED_PYNETDICOM_VERSIONS` only. With any other version installed the node
receives through pynetdicom's own reactors and DIMSE provider and logs one warning per
process; with ``scp.direct_store: false`` it keeps the fork's reactors and transport but
decodes and encodes every message with pynetdicom.

The fork's modules are imported only once the installed version is known to be
supported, so a pynetdicom that moved a private name cannot break the import of the node.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from dataclasses import dataclass

import pynetdicom
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.transport import RequestHandler

from dicomnode.scp.guard import ConnectionGuard

LOGGER = logging.getLogger(__name__)

SUPPORTED_PYNETDICOM_VERSIONS = frozenset({"3.0.4"})
"""pynetdicom versions whose internals the fork was checked against (docs/receive.md says
how to check a new one before adding it here and to the pin in pyproject.toml)."""


@dataclass(frozen=True)
class ReceivePath:
    """How an SCP receives: the connection handler and what it brings.

    Parameters
    ----------
    request_handler : type of pynetdicom.transport.RequestHandler
        The handler class given to ``AE.make_server``.
    forked : bool
        Whether the fork's reactors and guarded transport run (PDU limits and deadlines,
        the data set limit, refusal records); False: pynetdicom's own.
    direct_store : bool
        Whether plain C-STORE messages are decoded and encoded directly.
    """

    request_handler: type[RequestHandler]
    forked: bool
    direct_store: bool

    def handlers(self, guard: ConnectionGuard) -> list[evt.EventHandlerType]:
        """Event handlers this path needs besides the node's (bind them to the server).

        On pynetdicom's own path the connection slot of the peer's address (taken when the
        connection was accepted) is released when pynetdicom reports the connection closed;
        the fork's transport releases it itself.

        Parameters
        ----------
        guard : ConnectionGuard
            The limits of this receiving process.

        Returns
        -------
        list of (event, handler)
            Empty on the fork; the slot release on pynetdicom's own path.
        """
        if self.forked:
            return []
        return [(evt.EVT_CONN_CLOSE, _SlotRelease(guard))]


class _SlotRelease:
    """Releases the connection slot of an association's peer address, once per association
    (an ``EVT_CONN_CLOSE`` handler)."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._released: weakref.WeakSet[Association] = weakref.WeakSet()
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """Release the slot of ``event.assoc``'s peer, unless already released."""
        with self._lock:
            if event.assoc in self._released:
                return
            self._released.add(event.assoc)
        self._guard.slots.release(str(event.assoc.requestor.address))


def receive_path(direct_store: bool, version: str | None = None) -> ReceivePath:
    """The receive path for the installed pynetdicom and ``scp.direct_store``.

    Parameters
    ----------
    direct_store : bool
        ``scp.direct_store``: decode and encode plain C-STORE messages directly.
    version : str, optional
        The pynetdicom version; default the installed one (``pynetdicom.__version__``).

    Returns
    -------
    ReceivePath
        The fork (direct or pynetdicom's DIMSE) for a supported version; pynetdicom's own
        path otherwise, after one warning per process and version.
    """
    version = pynetdicom.__version__ if version is None else version
    if version not in SUPPORTED_PYNETDICOM_VERSIONS:
        _warn_unsupported(version)
        return ReceivePath(RequestHandler, forked=False, direct_store=False)
    from dicomnode.scp._assoc_reactor import (  # only for a version the fork follows
        EventDrivenRequestHandler,
        PynetdicomDimseRequestHandler,
    )

    if direct_store:
        return ReceivePath(EventDrivenRequestHandler, forked=True, direct_store=True)
    return ReceivePath(PynetdicomDimseRequestHandler, forked=True, direct_store=False)


@functools.cache
def _warn_unsupported(version: str) -> None:
    """Log, once per process and version, that the fork is off."""
    supported = ", ".join(sorted(SUPPORTED_PYNETDICOM_VERSIONS))
    LOGGER.warning(
        "pynetdicom %s is not a version the receive fork follows (%s): receiving with "
        "pynetdicom's own reactors and DIMSE, without the PDU size and time limits, the "
        "data set limit and the direct C-STORE path (see docs/receive.md)",
        version,
        supported,
    )
