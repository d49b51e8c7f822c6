"""The cyclic garbage collector is off in the encode block and as before after it."""

from __future__ import annotations

import gc

import pytest

from pipeline.encode.collector import paused_collector


def test_collector_is_off_in_the_block_and_on_after_it() -> None:
    assert gc.isenabled()
    with paused_collector():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_is_restored_after_an_exception() -> None:
    with pytest.raises(RuntimeError), paused_collector():
        raise RuntimeError("encode failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with paused_collector():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
