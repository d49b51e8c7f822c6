"""Giving freed heap memory back between stages (glibc's malloc_trim, a no-op elsewhere)."""

from __future__ import annotations

import ctypes.util

import numpy as np
import pytest

from pipeline import heap


def test_release_changes_no_data() -> None:
    data = np.arange(1_000_000, dtype=np.int64)
    scratch = [np.ones(1 << 16) for _ in range(64)]  # freed blocks for the allocator
    del scratch
    assert isinstance(heap.release_free_memory(), bool)
    assert np.array_equal(data, np.arange(1_000_000, dtype=np.int64))


def test_no_c_library_means_nothing_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    heap._malloc_trim.cache_clear()
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    try:
        assert heap._malloc_trim() is None
        assert heap.release_free_memory() is False
    finally:
        heap._malloc_trim.cache_clear()
