"""Planners' approvals of re-plans and the delivery of their SR and PDF, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from audit_testing import SEGMENTATION_STORAGE, STUDY_UID, Receive
from sqlalchemy import inspect, text

from dicomnode.audit import migrate
from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.errors import JobStateError
from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import OutputKind, PlanOutput

SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.34"
PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
INPUTS = {"planner": {"lung_shunt_fraction": 0.06, "territory": "right"}, "patient": {}}


def _succeeded_job(audit: AuditLog, receive: Receive) -> int:
    receive("1.2.3.1", 2)
    job_id = audit.create_job(
        study_instance_uid=STUDY_UID, series_instance_uids=["1.2.3.1"], calling_ae=None
    )
    assert audit.claim_next_job("node/1") is not None
    audit.record_output(
        job_id,
        path="/work/seg.dcm",
        sop_instance_uid="2.25.1",
        sop_class_uid=SEGMENTATION_STORAGE,
        kind="SEG",
    )
    audit.finish_job(job_id, state="succeeded")
    assert audit.plan_deliveries(job_id, destinations=["pacs"]) == 1
    return job_id


def _approve(audit: AuditLog, job_id: int, version: int = 2) -> int:
    return audit.record_plan_approval(
        job_id,
        result_version=version,
        by_user="paula",
        inputs=INPUTS,
        sr_sop_instance_uid=f"2.25.{version}0",
        pdf_sop_instance_uid=f"2.25.{version}1",
    )


def _plan_outputs(version: int = 2) -> list[PlanOutput]:
    return [
        PlanOutput(f"/work/sr.v{version}.dcm", f"2.25.{version}0", SR_STORAGE, OutputKind.SR),
        PlanOutput(
            f"/work/summary-pdf.v{version}.dcm", f"2.25.{version}1", PDF_STORAGE, OutputKind.PDF
        ),
    ]


def test_an_approval_is_recorded_in_the_jobs_audit_chain(audit: AuditLog, receive: Receive) -> None:
    job_id = _succeeded_job(audit, receive)
    approval_id = _approve(audit, job_id)
    [row] = audit.plan_approvals(job_id)
    assert (row.id, row.result_version, row.approved_by, row.inputs) == (
        approval_id,
        2,
        "paula",
        INPUTS,
    )
    assert (row.sr_sop_instance_uid, row.pdf_sop_instance_uid) == ("2.25.20", "2.25.21")
    detail = audit.get_job(job_id)
    [action] = detail.admin_actions
    assert (action.user, action.action) == ("paula", "approve_plan")
    assert "result version 2: SR 2.25.20, PDF 2.25.21" in action.detail
    assert detail.events[-1].stage == "plan_approved"
    with pytest.raises(JobStateError, match="already approved"):
        _approve(audit, job_id)
    _approve(audit, job_id, version=3)
    assert [r.result_version for r in audit.plan_approvals(job_id)] == [2, 3]


def test_only_a_succeeded_job_is_re_planned(audit: AuditLog, receive: Receive) -> None:
    receive("1.2.3.1", 2)
    job_id = audit.create_job(
        study_instance_uid=STUDY_UID, series_instance_uids=["1.2.3.1"], calling_ae=None
    )
    with pytest.raises(JobStateError, match="only a succeeded job"):
        _approve(audit, job_id)
    assert audit.claim_next_job("node/1") is not None
    audit.finish_job(job_id, state="rejected", reason="no portal-venous series")
    with pytest.raises(JobStateError):
        _approve(audit, job_id)
    assert audit.plan_approvals(job_id) == []


def test_an_approved_plans_outputs_are_delivered_once(audit: AuditLog, receive: Receive) -> None:
    job_id = _succeeded_job(audit, receive)
    approval_id = _approve(audit, job_id)
    assert audit.jobs_awaiting_delivery_plan() == []
    ids = audit.record_plan_outputs(approval_id, _plan_outputs())
    assert audit.record_plan_outputs(approval_id, _plan_outputs()) == ids  # idempotent
    assert audit.jobs_awaiting_delivery_plan() == [job_id]
    assert audit.plan_deliveries(job_id, destinations=["pacs"]) == 2  # the new ones only
    due = audit.pending_deliveries()
    assert sorted(row.sop_instance_uid for row in due) == ["2.25.1", "2.25.20", "2.25.21"]
    outputs = audit.get_job(job_id).outputs
    assert [(o.sop_instance_uid, o.version, o.kind) for o in outputs] == [
        ("2.25.1", 1, OutputKind.SEG),
        ("2.25.20", 1, OutputKind.SR),
        ("2.25.21", 1, OutputKind.PDF),
    ]
    with pytest.raises(ValueError, match="not the SR or PDF"):
        audit.record_plan_outputs(approval_id, _plan_outputs(version=3))
    with pytest.raises(ValueError, match="no plan approval"):
        audit.record_plan_outputs(approval_id + 100, _plan_outputs())


def test_migration_0005_keeps_the_jobs_of_an_earlier_schema(database_url: str) -> None:
    engine = create_audit_engine(database_url)
    try:
        migrate.upgrade(engine, "0004")
        assert "plan_approvals" not in inspect(engine).get_table_names()
        with engine.begin() as connection:  # the models are newer than 0004: plain SQL
            job_id = connection.execute(
                text(
                    "INSERT INTO jobs (study_instance_uid, state, attempts, max_attempts, "
                    "created_at, updated_at) VALUES (:uid, 'queued', 0, 3, :now, :now) "
                    "RETURNING id"
                ),
                {"uid": STUDY_UID, "now": datetime.now(UTC)},
            ).scalar_one()
        migrate.upgrade(engine, "0005")
        assert migrate.current_revision(engine) == "0005"
        assert "plan_approvals" in inspect(engine).get_table_names()
        migrate.upgrade(engine)
        audit = AuditLog(engine)
        assert audit.get_job(job_id).job.study_instance_uid == STUDY_UID
        assert audit.plan_approvals(job_id) == []
        config = migrate.alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        assert "plan_approvals" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            state = connection.execute(
                text("SELECT state FROM jobs WHERE id = :id"), {"id": job_id}
            ).scalar_one()
        assert state == "queued"
    finally:
        engine.dispose()
