"""The outbox: batches per destination, retries with back-off, dead letters, partial sends."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from outbox_twins import ScriptedSender
from twin_clock import Clock

from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState
from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome
from dicomnode.outbox.config import OutboxConfig
from dicomnode.outbox.outbox import Outbox, parse_return_destination, return_destination

T = DeliveryStatus.TRANSIENT
P = DeliveryStatus.PERMANENT
CONFIG = OutboxConfig(max_attempts=3, backoff_base_s=10, backoff_max_s=15, batch_size=2)
MakeJob = Callable[..., int]


def _states(audit: AuditLog, job_id: int) -> dict[tuple[str, str], DeliveryState]:
    return {(Path(d.path).name, d.destination): d.state for d in audit.get_job(job_id).deliveries}


def test_every_output_reaches_every_destination_in_batches(
    audit: AuditLog, clock: Clock, make_job: MakeJob
) -> None:
    job_id = make_job(audit, 3)
    pacs, archive = ScriptedSender("pacs"), ScriptedSender("archive")
    outbox = Outbox(audit, {"pacs": pacs, "archive": archive}, CONFIG, clock=clock)
    assert outbox.run_once() == 4  # one batch of batch_size per destination
    assert pacs.batches == [["1.2.3.1-0.dcm", "1.2.3.1-1.dcm"]]
    assert outbox.run_once() == 2
    assert outbox.run_once() == 0
    assert archive.batches == [["1.2.3.1-0.dcm", "1.2.3.1-1.dcm"], ["1.2.3.1-2.dcm"]]
    assert set(_states(audit, job_id).values()) == {DeliveryState.DELIVERED}
    assert len(audit.get_job(job_id).delivery_attempts) == 6


def test_partial_send_resends_only_what_did_not_arrive_after_back_off(
    audit: AuditLog, clock: Clock, make_job: MakeJob
) -> None:
    job_id = make_job(audit, 2)
    pacs = ScriptedSender("pacs", {"1.2.3.1-1.dcm": [T, T]})
    outbox = Outbox(audit, {"pacs": pacs}, CONFIG, clock=clock)
    outbox.run_once()
    waiting = [d for d in audit.get_job(job_id).deliveries if d.state is DeliveryState.PENDING]
    assert [(Path(d.path).name, d.next_attempt_at) for d in waiting] == [
        ("1.2.3.1-1.dcm", clock.now.replace(second=10))  # base back-off: 10 s
    ]
    clock.advance(9)
    assert outbox.run_once() == 0  # not due yet
    clock.advance(1)
    assert outbox.run_once() == 1
    (again,) = [d for d in audit.get_job(job_id).deliveries if d.state is DeliveryState.PENDING]
    assert again.next_attempt_at == clock.now.replace(second=25)  # 20 s capped at 15 s
    clock.advance(15)
    outbox.run_once()
    assert pacs.batches == [
        ["1.2.3.1-0.dcm", "1.2.3.1-1.dcm"],
        ["1.2.3.1-1.dcm"],
        ["1.2.3.1-1.dcm"],
    ]
    assert set(_states(audit, job_id).values()) == {DeliveryState.DELIVERED}


def test_transient_failures_dead_letter_after_max_attempts_and_retry_rearms(
    audit: AuditLog, clock: Clock, make_job: MakeJob
) -> None:
    job_id = make_job(audit, 1)
    pacs = ScriptedSender("pacs", {"1.2.3.1-0.dcm": [T, T, T, T]})
    outbox = Outbox(audit, {"pacs": pacs}, CONFIG, clock=clock)
    for _ in range(5):
        outbox.run_once()
        clock.advance(60)
    assert len(pacs.batches) == 3  # max_attempts, then no more sends
    (delivery,) = audit.get_job(job_id).deliveries
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.DEAD_LETTERED,
        3,
        "transient",
    )
    assert audit.rearm_deliveries(job_id, by_user="admin") == 1
    outbox.run_once()  # fourth send: still transient, retry budget restarted
    (delivery,) = audit.get_job(job_id).deliveries
    assert (delivery.state, delivery.attempts_since_armed) == (DeliveryState.PENDING, 1)
    clock.advance(10)
    outbox.run_once()
    assert _states(audit, job_id) == {("1.2.3.1-0.dcm", "pacs"): DeliveryState.DELIVERED}


def test_permanent_failure_dead_letters_at_once(
    audit: AuditLog, clock: Clock, make_job: MakeJob
) -> None:
    job_id = make_job(audit, 2)
    pacs = ScriptedSender("pacs", {"1.2.3.1-0.dcm": [P]})
    outbox = Outbox(audit, {"pacs": pacs}, CONFIG, clock=clock)
    outbox.run_once()
    clock.advance(3600)
    assert outbox.run_once() == 0  # no retry storm
    assert _states(audit, job_id) == {
        ("1.2.3.1-0.dcm", "pacs"): DeliveryState.DEAD_LETTERED,
        ("1.2.3.1-1.dcm", "pacs"): DeliveryState.DELIVERED,
    }
    attempts = audit.get_job(job_id).delivery_attempts
    assert sorted((a.status, a.dimse_status) for a in attempts) == [
        ("permanent", 0x0122),
        ("success", 0),
    ]


class _Raising:
    name = "broken"

    def send(self, paths: Sequence[Path]) -> list[InstanceOutcome]:
        raise ConnectionError("peer vanished")


class _Short:
    name = "short"

    def send(self, paths: Sequence[Path]) -> list[InstanceOutcome]:
        return [InstanceOutcome(paths[0], "x", DeliveryStatus.SUCCESS, 0, "ok")]


def test_misbehaving_senders_count_as_transient(
    audit: AuditLog, clock: Clock, make_job: MakeJob
) -> None:
    job_id = make_job(audit, 2)
    outbox = Outbox(audit, {"broken": _Raising(), "short": _Short()}, CONFIG, clock=clock)
    outbox.run_once()
    details = {(Path(d.path).name, d.destination): d for d in audit.get_job(job_id).deliveries}
    broken = details[("1.2.3.1-0.dcm", "broken")]
    assert (broken.state, broken.last_status) == (DeliveryState.PENDING, "transient")
    assert broken.last_detail == "sender raised ConnectionError: peer vanished"
    assert details[("1.2.3.1-0.dcm", "short")].state is DeliveryState.DELIVERED
    missing = details[("1.2.3.1-1.dcm", "short")]
    assert (missing.state, missing.last_detail) == (
        DeliveryState.PENDING,
        "no outcome reported for this instance",
    )


def test_retry_state_survives_a_restart(db_url: str, clock: Clock, make_job: MakeJob) -> None:
    first = AuditLog(create_audit_engine(db_url), clock=clock)
    job_id = make_job(first, 1)
    Outbox(
        first, {"pacs": ScriptedSender("pacs", {"1.2.3.1-0.dcm": [T]})}, CONFIG, clock=clock
    ).run_once()
    first.dispose()
    clock.advance(5)
    restarted = AuditLog(create_audit_engine(db_url), clock=clock)
    pacs = ScriptedSender("pacs")
    outbox = Outbox(restarted, {"pacs": pacs}, CONFIG, clock=clock)
    assert outbox.run_once() == 0  # the persisted next attempt is 10 s after the failure
    clock.advance(5)
    assert outbox.run_once() == 1
    assert _states(restarted, job_id) == {("1.2.3.1-0.dcm", "pacs"): DeliveryState.DELIVERED}
    restarted.dispose()


def test_unconfigured_destinations_wait_and_no_destinations_send_nothing(
    audit: AuditLog, clock: Clock, make_job: MakeJob
) -> None:
    job_id = make_job(audit, 1)
    Outbox(
        audit, {"old": ScriptedSender("old", {"1.2.3.1-0.dcm": [T]})}, CONFIG, clock=clock
    ).run_once()
    clock.advance(60)
    assert Outbox(audit, {}, CONFIG, clock=clock).run_once() == 0
    new = ScriptedSender("new")
    later = make_job(audit, 1, series="1.2.3.2")
    assert Outbox(audit, {"new": new}, CONFIG, clock=clock).run_once() == 1
    assert new.batches == [["1.2.3.2-0.dcm"]]  # the old destination's entry is not touched
    assert _states(audit, job_id) == {("1.2.3.1-0.dcm", "old"): DeliveryState.PENDING}
    assert _states(audit, later) == {("1.2.3.2-0.dcm", "new"): DeliveryState.DELIVERED}


def test_background_loop_delivers_after_notify(audit: AuditLog, make_job: MakeJob) -> None:
    pacs = ScriptedSender("pacs")
    outbox = Outbox(audit, {"pacs": pacs}, OutboxConfig(poll_interval_s=30))
    outbox.start()
    try:
        with pytest.raises(RuntimeError):
            outbox.start()
        job_id = make_job(audit, 1)
        outbox.notify()
        for _ in range(200):
            if _states(audit, job_id) == {("1.2.3.1-0.dcm", "pacs"): DeliveryState.DELIVERED}:
                break
            time.sleep(0.02)
        assert pacs.batches == [["1.2.3.1-0.dcm"]]
    finally:
        outbox.stop()


def test_return_to_sender_adds_the_sending_association_as_a_destination(
    audit: AuditLog, clock: Clock, make_job: MakeJob
) -> None:
    association = audit.open_association(
        calling_ae="CT_SCANNER", called_ae="DICOMNODE", peer_address="10.1.2.3", peer_port=4006
    )
    job_id = make_job(audit, 2, association_id=association)
    imported_job = make_job(audit, 1, series="1.2.3.2")  # arrived without an association
    built: dict[tuple[str, str], ScriptedSender] = {}

    def return_sender(calling_ae: str, peer_address: str) -> ScriptedSender:
        return built.setdefault((calling_ae, peer_address), ScriptedSender("return"))

    pacs = ScriptedSender("pacs")
    outbox = Outbox(audit, {"pacs": pacs}, CONFIG, clock=clock, return_sender=return_sender)
    while outbox.run_once():
        pass
    back = "return-to-sender:CT_SCANNER@10.1.2.3"
    assert _states(audit, job_id) == {
        (f"1.2.3.1-{n}.dcm", destination): DeliveryState.DELIVERED
        for n in range(2)
        for destination in ("pacs", back)
    }
    assert _states(audit, imported_job) == {("1.2.3.2-0.dcm", "pacs"): DeliveryState.DELIVERED}
    assert list(built) == [("CT_SCANNER", "10.1.2.3")]
    assert built["CT_SCANNER", "10.1.2.3"].batches == [["1.2.3.1-0.dcm", "1.2.3.1-1.dcm"]]


def test_return_destination_names_round_trip() -> None:
    name = return_destination("AE@WITH@SIGNS", "fe80::1")
    assert parse_return_destination(name) == ("AE@WITH@SIGNS", "fe80::1")
    assert parse_return_destination("pacs") is None
