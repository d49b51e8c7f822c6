"""Keep DIMSE responses for the ``send_*()`` call that waits for them (pynetdicom race).

A pynetdicom 3.0 requestor association has two readers of its DIMSE message queue: the
``send_c_store()`` (or ``send_c_echo()``) call waiting for its response (a blocking get), and
the association's own reactor thread, which polls the queue (non-blocking gets) for requests
from the peer. ``send_*()`` pauses the reactor before sending, but the pause can be missed:
after the previous call un-paused it, the reactor may still be between its checkpoint and
``_is_paused = False``, so the next call sees a stale "paused" flag and sends. If the peer
answers before the reactor thread runs again (a fast SCP, a busy machine), the reactor takes
the response off the queue, logs "Received unexpected C-STORE-RSP service message", and the
caller waits out its whole DIMSE timeout (pynetdicom issue #875 reports the same with
C-FIND). Seen here as a 60 s stall in about one round in three when three studies were sent
at once to the node under CPU load.

:func:`keep_responses_for_caller` gives an established association a message queue whose
non-blocking gets hand out only requests, so a response stays for the blocking get.
"""

from __future__ import annotations

import queue
from typing import Any

from pynetdicom.association import Association


def _is_request(item: Any) -> bool:
    """Whether a queue item (context ID, DIMSE primitive) holds a request from the peer."""
    primitive = item[1] if isinstance(item, tuple) and len(item) == 2 else None
    return bool(getattr(primitive, "is_valid_request", False))


class RequestOnlyPollQueue(queue.Queue[Any]):
    """A DIMSE message queue whose non-blocking gets return only requests.

    Blocking gets (the waiting ``send_*()`` call) return any item, in order, as
    :class:`queue.Queue` does; a non-blocking get (the association reactor's poll) raises
    :class:`queue.Empty` unless the first item is a request from the peer.
    """

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Remove and return the first item (see the class description)."""
        if block:
            return super().get(block, timeout)
        with self.not_empty:
            if not self._qsize() or not _is_request(self.queue[0]):
                raise queue.Empty
            item = self._get()
            self.not_full.notify()
            return item


def keep_responses_for_caller(assoc: Association) -> None:
    """Give a newly established requestor association a :class:`RequestOnlyPollQueue`.

    Call it before the first ``send_*()``; the association's queue is still empty then.

    Parameters
    ----------
    assoc : pynetdicom.association.Association
        An established association this process requested.
    """
    assoc.dimse.msg_queue = RequestOnlyPollQueue()
