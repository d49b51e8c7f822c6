"""Giving freed heap memory back to the operating system between pipeline stages.

glibc's allocator keeps memory freed by large temporary arrays in its arenas (small and
medium blocks, and the top of each heap) instead of returning it at once; after a stage
that allocated and freed a few hundred MB, the process's resident set stays that much
higher through the next stage. ``malloc_trim(0)`` releases what it can (the freed pages of
every arena). It changes no data. Elsewhere than on glibc (musl, macOS, Windows) there is
no such call and :func:`release_free_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the C heap's freed pages to the operating system (``malloc_trim(0)``).

    Returns
    -------
    bool
        True when memory was released, False when none was or the C library has no
        ``malloc_trim``.
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
