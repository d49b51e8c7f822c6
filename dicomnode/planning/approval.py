"""A planner's approval of a written re-plan: recorded, and its SR and PDF queued for delivery.

One path for every approver: the dashboard's "Approve" (:mod:`dicomnode.web.planner`) and
the demo's planner step (:mod:`dicomnode.cli.demo_cmd`). The approval is recorded in the
audit database with who approved which version and with which inputs; the version's SR and
encapsulated PDF become outputs of the job, which the node's outbox delivers to the job's
destinations with its retries.
"""

from __future__ import annotations

from pathlib import Path

from dicomnode.audit.ports import PlanApprovalLog
from dicomnode.audit.rows import OutputKind, PlanOutput
from dicomnode.jobs.outputs import identify_output
from dicomnode.planning.inputs import given_inputs
from dicomnode.planning.versions import WrittenPlan
from pipeline.quantify.inputs import PatientInfo, PlannerInputs


def approve_written_plan(
    audit: PlanApprovalLog,
    job_id: int,
    written: WrittenPlan,
    folder: Path,
    planner: PlannerInputs,
    patient: PatientInfo,
    by_user: str,
) -> int:
    """Record the approval of a written version and hand its SR and PDF to the outbox.

    Parameters
    ----------
    audit : PlanApprovalLog
        The audit database.
    job_id : int
        The succeeded job whose result was re-planned.
    written : WrittenPlan
        The version :func:`~dicomnode.planning.versions.write_plan` wrote.
    folder : Path
        The job's result folder (the version's files lie in it).
    planner, patient : PlannerInputs, PatientInfo
        The inputs the version was computed with (recorded with the approval).
    by_user : str
        Who approved (a dashboard user's name).

    Returns
    -------
    int
        The approval's id.

    Raises
    ------
    ValueError
        The version has no SR (its folder held no ``seg.dcm``).
    dicomnode.audit.errors.JobStateError
        The job has not succeeded.
    """
    outputs = [identify_output(path, folder) for path in written.dicom]
    sr = next((o for o in outputs if o.kind is OutputKind.SR), None)
    pdf = next((o for o in outputs if o.kind is OutputKind.PDF), None)
    if sr is None:
        raise ValueError(f"version {written.version} has no SR")
    approval = audit.record_plan_approval(
        job_id,
        result_version=written.version,
        by_user=by_user,
        inputs=given_inputs(planner, patient),
        sr_sop_instance_uid=sr.sop_instance_uid,
        pdf_sop_instance_uid=None if pdf is None else pdf.sop_instance_uid,
    )
    audit.record_plan_outputs(
        approval,
        [PlanOutput(str(o.path), o.sop_instance_uid, o.sop_class_uid, o.kind) for o in outputs],
    )
    return approval
