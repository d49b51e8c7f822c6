"""Pausing Python's cyclic garbage collector while the outputs are built.

Building and encoding a SEG, SR and PDF allocates some 100,000 small Python objects
(pydicom datasets and elements, highdicom content items). The cyclic collector runs every
few hundred allocations and, in its older generations, walks every object the process
tracks: in a warm job worker (models and their frameworks loaded, ~900,000 tracked
objects) the ~170 collections during one study's encode stage took 0.33-0.40 s of its
~3 s (measured with ``gc.callbacks`` in the worker of ``bench/e2e.py``, 300 slices).
:func:`paused_collector` turns the collector off for the block and back on after it
(reference counting frees objects as always; cycles made in the block are collected by the
next collection after it).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_collector() -> Iterator[None]:
    """Turn the cyclic garbage collector off for the block (restored after it, also on an
    exception; a collector that was already off stays off).

    Yields
    ------
    None
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
