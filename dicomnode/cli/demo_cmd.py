"""``dicomnode demo``: the README's main job, a synthetic study through the real node."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dicomnode.cli.app import app

if TYPE_CHECKING:
    from dicomnode.audit.log import AuditLog
    from dicomnode.audit.rows import JobDetail
    from dicomnode.demo import DemoPaths
    from dicomnode.demo_plan import ExamplePlan

DEMO_APPROVER = "demo (example inputs)"
"""The name the demo's approval of its example plan is recorded under."""


def _print_truth(console: Console, volumes_ml: dict[str, Any], truth: dict[str, Any]) -> None:
    table = Table("structure", "node mL", "ground truth mL", "difference %",
                  title="Volumes against the synthetic study's exact ground truth "
                        "(demo model: not for clinical use)", title_justify="left")
    for name, expected in truth.items():
        measured = volumes_ml.get(name)
        if not isinstance(expected, int | float) or not isinstance(measured, int | float):
            continue
        difference = 100.0 * (measured - expected) / expected if expected else float("nan")
        table.add_row(name, f"{measured:.1f}", f"{expected:.1f}", f"{difference:+.1f}")
    console.print(table)


def _print_deliveries(console: Console, detail: JobDetail, results: Path) -> None:
    table = Table("output", "SOP Instance UID", "destination", "state", "attempts", "detail",
                  title="Results and their delivery", title_justify="left")
    kinds = {o.id: o.kind.value for o in detail.outputs}
    for d in detail.deliveries:
        style = {"delivered": "green", "pending": "yellow"}.get(d.state.value, "red")
        table.add_row(kinds.get(d.output_id, "?"), d.sop_instance_uid, d.destination,
                      f"[{style}]{d.state.value}", str(d.attempts), d.last_detail or "")
    console.print(table)
    delivered = sorted(p for p in results.rglob("*") if p.is_file())
    console.print(f"[bold]Files in the destination folder[/bold] {results}:")
    for path in delivered:
        console.print(f"  {path.relative_to(results)}  ({path.stat().st_size / 1e3:.0f} kB)")


def planner_step(console: Console, job_dir: Path, paths: DemoPaths) -> ExamplePlan | None:
    """Re-plan a job's result (its work folder) with the example inputs; print the plan and
    its new files.

    Returns the plan when it was computed and its SR names the job's SR as predecessor,
    None otherwise (the reason printed).
    """
    from dicomnode.cli.show_worksheet import print_worksheet
    from dicomnode.config import load_config
    from dicomnode.demo_plan import EXAMPLE_COMMAND, EXAMPLE_DESCRIPTION, plan_example
    from pipeline.run.report_content import recorded_content

    console.rule("6. the planner's step, with EXAMPLE inputs")
    console.print(f"[bold yellow]EXAMPLE planner inputs, not a patient's[/bold yellow]: "
                  f"{EXAMPLE_DESCRIPTION} (dicomnode plan FOLDER {EXAMPLE_COMMAND}, or the "
                  "dashboard's SIRT plan form)")
    try:
        plan = plan_example(job_dir, load_config(paths.config).pipeline)
    except (ValueError, OSError) as exc:
        console.print(f"[red]planner step failed: {exc}")
        return None
    worksheet = recorded_content(plan.doc, "").worksheet
    if worksheet is None:
        console.print("[red]the re-plan has no SIRT section")
        return None
    print_worksheet(console, worksheet)
    console.print(f"[bold]New version {plan.doc['result_version']}[/bold] in {plan.folder} "
                  "(earlier files kept):")
    for path in plan.written.paths:
        console.print(f"  {path.name}  ({path.stat().st_size / 1e3:.0f} kB)")
    linked = plan.sr_predecessor_uid == plan.first_sr_uid
    console.print(f"  the new SR names the job's SR {plan.first_sr_uid} as its predecessor: "
                  f"{'yes' if linked else 'NO'}")
    return plan if worksheet.methods and linked else None


def deliver_plan(console: Console, audit: AuditLog, job_id: int, plan: ExamplePlan,
                 node: subprocess.Popen[bytes], paths: DemoPaths, timeout_s: float) -> bool:
    """Approve the example plan as the dashboard's "Approve" does, wait for the node's
    outbox to deliver its SR and PDF, and print their delivery.

    Returns True when every delivery of the new version succeeded.
    """
    from dicomnode.audit.rows import DeliveryState
    from dicomnode.demo import wait_for_deliveries
    from dicomnode.demo_plan import EXAMPLE_INPUTS
    from dicomnode.jobs.outputs import identify_output
    from dicomnode.planning.approval import approve_written_plan
    from pipeline.quantify.inputs import PatientInfo

    approval = approve_written_plan(audit, job_id, plan.written, plan.folder, EXAMPLE_INPUTS,
                                    PatientInfo(), by_user=DEMO_APPROVER)
    console.print(f"approved by {DEMO_APPROVER!r} (plan approval {approval}, recorded in "
                  "the audit database); the node's outbox delivers the new SR and PDF")
    uids = {identify_output(p, plan.folder).sop_instance_uid for p in plan.written.dicom}
    detail = wait_for_deliveries(audit, job_id, uids, node, paths, timeout_s)
    _print_deliveries(console, detail, paths.results)
    return all(d.state is DeliveryState.DELIVERED
               for d in detail.deliveries if d.sop_instance_uid in uids)


@app.command("demo")
def demo(
    work: Annotated[Path, typer.Option("--work", help="Folder for the demo's node, study and "
                                       "results (emptied first if a demo made it).")]
    = Path("data/demo"),
    profile: Annotated[str, typer.Option("--profile", help="Synthetic study size: small or "
                                         "realistic (512x512, 300-600 slices; slow on CPU).")]
    = "small",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic study.")] = 7,
    timeout: Annotated[float, typer.Option("--timeout", help="Longest wait for the job and "
                                           "its deliveries, seconds.")] = 1800.0,
) -> None:
    """Start the node on the embedded defaults, send it a synthetic study over DICOM like a
    PACS would, wait for the job and its deliveries, show the result, and stop the node.

    Then re-plan the result with example planner inputs, show the plan, approve it and show
    its new SR/PDF version delivered. Exit 0 when the study was processed, every result
    delivered and the example plan computed and delivered, 1 otherwise.
    """
    from dicomnode.audit.log import AuditLog
    from dicomnode.audit.rows import DeliveryState, JobState
    from dicomnode.cli.net_cmds import dicom_files
    from dicomnode.cli.show import print_result
    from dicomnode.demo import (
        DemoError,
        free_port,
        prepare_work_folder,
        send_study,
        start_node,
        stop_node,
        wait_for_job,
        wait_for_node,
        write_node_config,
    )
    from pipeline.synth.study import write_study

    console = Console(width=None if Console().is_terminal else 120)
    try:
        paths = prepare_work_folder(work)
    except DemoError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    port = free_port()
    write_node_config(paths, port)
    console.rule("1. start the node")
    node = start_node(paths)
    started = time.monotonic()
    try:
        wait_for_node(node, paths, port, timeout_s=180.0)
        console.print(f"dicomnode serve --config {paths.config}: DICOMNODE@127.0.0.1:{port} "
                      f"answers C-ECHO after {time.monotonic() - started:.1f} s "
                      f"(log: {paths.node_log})")

        console.rule("2. synthesise a multi-phase study")
        truth = write_study(paths.study, seed, profile)
        for entry in truth.series:
            console.print(f"  series {entry.get('series_number')}: "
                          f"{entry.get('series_description') or '(no description)'} — "
                          f"{entry.get('kind')}, {entry.get('phase')}, "
                          f"{entry.get('slice_thickness_mm')} mm, "
                          f"{entry.get('n_instances')} images")

        console.rule("3. send it to the node like a PACS (C-STORE as DEMOSENDER)")
        files = dicom_files(paths.study / "dicom")
        outcomes = send_study(files, port)
        failures = [o for o in outcomes if not o.status.delivered]
        console.print(f"{len(outcomes) - len(failures)} of {len(files)} instances stored")
        if failures:
            raise DemoError(f"{len(failures)} instances were not stored: {failures[0].detail}")

        console.rule("4. wait for the job and the deliveries")
        audit = AuditLog.from_url(f"sqlite:///{paths.audit_db}")
        with console.status("waiting") as status:
            detail = wait_for_job(audit, truth.study_instance_uid, node, paths, timeout,
                                  on_progress=lambda text: status.update(text))
        console.print(f"job {detail.job.id}: [bold]{detail.job.state.value}[/bold] "
                      f"{detail.job.error or ''}")
        for event in detail.events:
            seconds = "" if event.duration_s is None else f" {event.duration_s:.1f} s"
            console.print(f"  {event.stage}{seconds}: {event.message}")

        console.rule("5. the result")
        if detail.job.result:
            print_result(detail.job.result, console=console)
            _print_truth(console, detail.job.result.get("volumes_ml") or {}, truth.volumes)
        chosen = (detail.job.result or {}).get("series", {}).get("chosen_series_instance_uid")
        verdict = ("the expected series" if chosen == truth.expected_series_uid
                   else f"NOT the expected series {truth.expected_series_uid}")
        console.print(f"chosen series: {verdict}")
        _print_deliveries(console, detail, paths.results)
        console.print(f"audit chain: dicomnode job {detail.job.id} --config {paths.config}")
        ok = (detail.job.state is JobState.SUCCEEDED and bool(detail.deliveries)
              and all(d.state is DeliveryState.DELIVERED for d in detail.deliveries))
        if ok:
            plan = planner_step(console, Path(detail.outputs[0].path).parent, paths)
            ok = plan is not None and deliver_plan(console, audit, detail.job.id, plan, node,
                                                   paths, timeout)
    except DemoError as exc:
        console.print(f"[red]demo failed: {exc}")
        ok = False
    finally:
        console.rule("7. stop the node")
        code = stop_node(node)
        console.print(f"node stopped (exit code {code})")
    raise typer.Exit(0 if ok else 1)
