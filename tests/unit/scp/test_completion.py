"""Series/study quiet timers and the scheduler that turns them into jobs."""

from __future__ import annotations

import time

from twin_clock import Clock

from dicomnode.completion import (
    CompletedGroup,
    CompletionConfig,
    CompletionPolicy,
    CompletionScheduler,
    CompletionTracker,
)


def _tracker(clock: Clock, **config: object) -> CompletionTracker:
    return CompletionTracker(CompletionConfig.model_validate(config), clock=clock.monotonic)


def test_series_completes_only_after_quiet_time_since_last_instance(clock: Clock) -> None:
    tracker = _tracker(clock, policy="series", series_quiet_s=10)
    tracker.note_instance("1.1", "1.1.1")
    clock.advance(8)
    tracker.note_instance("1.1", "1.1.1")  # a second association continues the series
    clock.advance(8)
    assert tracker.pop_due() == []
    clock.advance(2)
    assert tracker.pop_due() == [CompletedGroup("1.1", ("1.1.1",))]
    assert tracker.pop_due() == []
    assert len(tracker) == 0


def test_series_policy_gives_one_group_per_series_oldest_first(clock: Clock) -> None:
    tracker = _tracker(clock, policy="series", series_quiet_s=5)
    tracker.note_instance("1.1", "1.1.2")
    clock.advance(1)
    tracker.note_instance("1.1", "1.1.1")
    clock.advance(5)
    assert tracker.pop_due() == [
        CompletedGroup("1.1", ("1.1.2",)),
        CompletedGroup("1.1", ("1.1.1",)),
    ]


def test_study_policy_groups_series_and_waits_for_the_whole_study(clock: Clock) -> None:
    tracker = _tracker(clock, policy="study", series_quiet_s=1, study_quiet_s=20)
    tracker.note_instance("1.1", "1.1.1", "PACS_A")
    clock.advance(15)
    tracker.note_instance("1.1", "1.1.2")
    tracker.note_instance("2.2", "2.2.1", "PACS_B")
    clock.advance(15)
    assert tracker.pop_due() == []
    clock.advance(5)
    assert tracker.pop_due() == [
        CompletedGroup("1.1", ("1.1.1", "1.1.2"), "PACS_A"),
        CompletedGroup("2.2", ("2.2.1",), "PACS_B"),
    ]
    assert CompletionConfig.model_validate({"policy": "study"}).policy is CompletionPolicy.STUDY


def test_restore_gives_each_pending_series_a_full_quiet_period_from_now(clock: Clock) -> None:
    tracker = _tracker(clock, policy="series", series_quiet_s=30)
    tracker.restore([("1.1", "1.1.2"), ("1.1", "1.1.1")])
    clock.advance(29)
    assert tracker.pop_due() == []
    clock.advance(1)
    assert tracker.pop_due() == [
        CompletedGroup("1.1", ("1.1.2",)),
        CompletedGroup("1.1", ("1.1.1",)),
    ]


def test_a_large_series_costs_constant_time_per_instance(clock: Clock) -> None:
    tracker = _tracker(clock, policy="series", series_quiet_s=1)
    start = time.perf_counter()
    for index in range(50_000):  # quadratic bookkeeping would take minutes here
        tracker.note_instance("1.1", f"1.1.{index % 3}")
    assert time.perf_counter() - start < 10.0
    assert len(tracker) == 3
    clock.advance(2)
    assert len(tracker.pop_due()) == 3


def test_scheduler_hands_groups_over_and_retries_failures(clock: Clock) -> None:
    tracker = _tracker(clock, policy="series", series_quiet_s=5)
    created: list[CompletedGroup] = []
    failures = [RuntimeError("database locked")]

    def create_job(group: CompletedGroup) -> None:
        if failures:
            raise failures.pop()
        created.append(group)

    scheduler = CompletionScheduler(tracker, create_job, interval_s=0.01)
    tracker.note_instance("1.1", "1.1.1")
    clock.advance(5)
    assert scheduler.run_once() == 0  # failed: noted again
    assert len(tracker) == 1
    clock.advance(5)
    assert scheduler.run_once() == 1
    assert created == [CompletedGroup("1.1", ("1.1.1",))]


def test_scheduler_thread_runs_and_stops() -> None:
    tracker = CompletionTracker(CompletionConfig(policy="series", series_quiet_s=0.01))
    created: list[CompletedGroup] = []
    scheduler = CompletionScheduler(tracker, created.append, interval_s=0.01)
    scheduler.start()
    tracker.note_instance("1.1", "1.1.1")
    deadline = time.monotonic() + 5
    while not created and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.stop()
    assert created == [CompletedGroup("1.1", ("1.1.1",))]


def test_scheduler_waits_while_received_instances_are_not_recorded_yet(clock: Clock) -> None:
    tracker = _tracker(clock, policy="series", series_quiet_s=1)
    tracker.note_instance("1.1", "1.1.1")
    clock.advance(5)
    backlog = [True]
    created: list[CompletedGroup] = []
    scheduler = CompletionScheduler(
        tracker, created.append, interval_s=1.0, backlog=lambda: backlog[0]
    )
    assert scheduler.run_once() == 0  # the recorder is behind: not quiet yet
    backlog[0] = False
    assert scheduler.run_once() == 1
    assert created == [CompletedGroup("1.1", ("1.1.1",))]


def test_open_association_holds_its_study_until_it_ends(clock: Clock) -> None:
    tracker = _tracker(clock, policy="study", study_quiet_s=3)
    tracker.note_instance("1.1", "1.1.1", "PACS", association="a1")
    tracker.note_instance("1.2", "1.2.1", "PACS", association="a2")
    clock.advance(10)  # the recorder lags: quiet in the audit DB, but still sending
    assert tracker.pop_due() == []
    tracker.association_ended("a1")
    clock.advance(2)
    assert tracker.pop_due() == []  # a full quiet period after the release
    clock.advance(1)
    assert tracker.pop_due() == [CompletedGroup("1.1", ("1.1.1",), "PACS")]
    clock.advance(3600)  # an end that was never recorded holds for at most an hour
    assert tracker.pop_due() == [CompletedGroup("1.2", ("1.2.1",), "PACS")]
