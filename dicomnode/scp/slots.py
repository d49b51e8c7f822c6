"""Connections per peer address and established associations, counted across the
receiving processes.

Each receiving process owns one row of a table in shared memory and counts there the
connections it holds per address bucket (a CRC-32 of the address); a new connection is
closed at once when the sum over the rows for its bucket has reached the limit. A process
writes only its own row, so no lock is needed and a process that dies takes nothing with
it but its row. The sum is read without a lock: concurrent accepts in several processes can
exceed the limit by at most the number of processes. Two addresses that share a bucket
share its limit (4096 buckets: rare, and on the safe side).
"""

from __future__ import annotations

import zlib
from typing import Any

ADDRESS_BUCKETS = 4096
"""Buckets of the per-address table (a power of two)."""

ASSOCIATION_CELLS = 1
"""Cells per process of the association table: its established associations."""


def slot_table(context: Any, processes: int) -> Any:
    """A zeroed shared table for ``processes`` receiving processes.

    Parameters
    ----------
    context : multiprocessing context
        The context the receiving processes are started with (``spawn``).
    processes : int
        Number of receiving processes (rows).

    Returns
    -------
    ctypes array
        Shared memory of ``processes * ADDRESS_BUCKETS`` C ints, to pass to each process.
    """
    return context.RawArray("i", processes * ADDRESS_BUCKETS)


class AddressSlots:
    """The connections one receiving process holds per peer address.

    Parameters
    ----------
    table : ctypes array
        The shared table (:func:`slot_table`), or any mutable sequence of ints of
        ``rows * ADDRESS_BUCKETS`` entries.
    row : int
        This process's row.
    limit : int
        Most connections from one address across all rows.
    """

    def __init__(self, table: Any, row: int, limit: int) -> None:
        self._table = table
        self._rows = len(table) // ADDRESS_BUCKETS
        self._row = row
        self.limit = limit

    @staticmethod
    def _bucket(address: str) -> int:
        return zlib.crc32(address.encode("ascii", "replace")) % ADDRESS_BUCKETS

    def held(self, address: str) -> int:
        """Connections from ``address`` (its bucket) held by every process."""
        bucket = self._bucket(address)
        return sum(self._table[row * ADDRESS_BUCKETS + bucket] for row in range(self._rows))

    def acquire(self, address: str) -> bool:
        """Count a new connection from ``address``; False (nothing counted) at the limit."""
        if self.held(address) >= self.limit:
            return False
        self._table[self._row * ADDRESS_BUCKETS + self._bucket(address)] += 1
        return True

    def release(self, address: str) -> None:
        """Forget one connection from ``address`` counted by :meth:`acquire`."""
        index = self._row * ADDRESS_BUCKETS + self._bucket(address)
        self._table[index] = max(0, self._table[index] - 1)


def association_table(context: Any, processes: int) -> Any:
    """A zeroed shared table of established associations, one cell per receiving process
    (pass it to each, with its row, to :class:`AssociationCounts`)."""
    return context.RawArray("i", processes * ASSOCIATION_CELLS)


class AssociationCounts:
    """Established associations of every receiving process, so that ``max_associations``
    holds for the node, not per process (a burst of senders is not spread evenly).

    Each process writes only its own cell, with the count it sees in its AE at that moment
    (:meth:`publish`), so nothing leaks when an association ends without an event: the
    next request or end in that process corrects the cell. Read without a lock, the total
    can be exceeded by at most the number of processes minus one under concurrent requests.

    Parameters
    ----------
    table : ctypes array
        The shared table (:func:`association_table`), or any mutable sequence of ints.
    row : int
        This process's cell.
    """

    def __init__(self, table: Any, row: int) -> None:
        self._table = table
        self._row = row

    def publish(self, established: int) -> None:
        """Record this process's count of established associations."""
        self._table[self._row] = established

    def total(self) -> int:
        """Established associations of all processes, as last published."""
        return int(sum(self._table))
