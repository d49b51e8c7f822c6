"""A SIRT plan on the terminal, as the PDF's worksheet page states it (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from pipeline.encode.worksheet import SirtWorksheet
from pipeline.encode.worksheet_pdf import summary_line


def print_worksheet(console: Console, worksheet: SirtWorksheet) -> None:
    """Print territory, inputs given, the plan's activities, doses and limits.

    Parameters
    ----------
    console : rich.console.Console
        Where to print.
    worksheet : SirtWorksheet
        The plan (:func:`pipeline.run.sirt_worksheet.sirt_worksheet`).
    """
    console.print(f"[bold]SIRT plan, revision {worksheet.plan_revision}[/bold]: territory "
                  f"{worksheet.territory}, microspheres {worksheet.microspheres}")
    given = [f"{i.name} {i.value} ({i.source})" for i in worksheet.inputs
             if i.value != "not given"]
    console.print("inputs: " + "; ".join(given))
    if not worksheet.methods:
        console.print("[yellow]no SIRT plan computed[/yellow]: " + "; ".join(worksheet.missing))
        return
    plan = worksheet.methods[0]
    activities = Table("activity", "GBq", "time reference", "decay",
                       title=f"Plan: {plan.title}", title_justify="left")
    for a in plan.activities:
        activities.add_row(a.label, f"{a.gbq:.3f}", a.reference, a.note or "-")
    console.print(activities)
    doses = Table("region", "volume / mass", "mean dose",
                  title="Mean absorbed doses by region and EANM 2022 limits (advisory)",
                  title_justify="left")
    doses.add_column("limit (rule)", overflow="fold")  # rule identifiers are never cut
    doses.add_column("status")
    for d in plan.doses:
        style = "red" if "NOT MET" in d.status else ("green" if d.status == "met" else "")
        doses.add_row(d.region, d.volume, d.dose, d.limit,
                      f"[{style}]{d.status}" if style else d.status)
    console.print(doses)
    for method in worksheet.methods[1:]:
        console.print(f"also computed: {summary_line(method)}")
    for line in worksheet.missing:
        console.print(f"not computed: {line}")
