"""The cyclic garbage collector in a job worker: the meter and the freeze after start-up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from dicomnode.jobs.collector import CollectorMeter, freeze_prepared


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Give the test process's frozen objects back to the collector afterwards."""
    yield
    gc.unfreeze()


def test_the_meter_counts_the_collections_of_its_block() -> None:
    gc.collect()
    with CollectorMeter() as meter:
        for _ in range(3):
            cycle: list[object] = []
            cycle.append(cycle)
            del cycle
            gc.collect()
    gc.collect()  # after the block: not counted
    assert meter.collections == 3
    assert meter.seconds > 0.0
    assert meter.to_dict()["collections"] == 3
    assert meter._callback not in gc.callbacks


def test_frozen_objects_are_no_longer_walked_and_stay_alive(unfrozen: None) -> None:
    model = [1, 2, 3]
    assert any(o is model for o in gc.get_objects())
    frozen = freeze_prepared()
    assert frozen == gc.get_freeze_count() > 0
    assert not any(o is model for o in gc.get_objects())
    later = [4]
    assert any(o is later for o in gc.get_objects())  # objects made after are walked
    assert model == [1, 2, 3]
