"""The SIRT worksheet page of the PDF summary: one plan, laid out to be read and signed.

Order on the page: title with the plan revision, the demo-model notice where it applies,
territory and microspheres, the planning inputs with their sources, per computed method its
activities with their time references, mean doses by region and guideline limits with their
rules and status (or, when no plan was computed, the inputs each method is missing), the
warnings, and, under a plan, the lines for the planner's and the checker's signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pipeline.encode.worksheet import SirtWorksheet, WorksheetInput, WorksheetMethod

DEMO_LINE = ("Demo model \u2014 not for clinical use: the volumes behind this plan come from "
             "the bundled demo model.")
"""The notice on the worksheet of a plan made on the demo model's volumes."""

SIGNATURE_LINES = (
    "Planned by (name): ______________________  Date/time: ______________  "
    "Signature: ______________________",
    "Checked by (name): ______________________  Date/time: ______________  "
    "Signature: ______________________",
)
"""The sign-off lines at the foot of the worksheet."""


TABLE_PT = 8
"""Font size of the worksheet's tables, pt (the page holds one plan)."""


class Page(Protocol):
    """What the worksheet needs of the PDF (:class:`pipeline.encode.pdf._Summary` has it)."""

    def heading(self, text: str) -> None:
        """A bold section heading."""

    def line_text(self, text: str) -> None:
        """A paragraph of body text."""

    def rows(self, header: Sequence[str], rows: Sequence[Sequence[str]],
             widths: Sequence[float] | None = None, size: float = 9) -> None:
        """A table with a heading row; relative column widths, font size in pt."""


def _input_rows(inputs: Sequence[WorksheetInput]) -> list[list[str]]:
    """Inputs two to a row (name, value, source, name, value, source)."""
    cells = [[i.name, i.value, i.source] for i in inputs]
    half = (len(cells) + 1) // 2
    right = cells[half:] + [["", "", ""]] * (2 * half - len(cells))
    return [a + b for a, b in zip(cells[:half], right, strict=True)]


def _plan(page: Page, method: WorksheetMethod) -> None:
    """The plan in full: activities, and doses by region with their limits."""
    page.heading(f"Plan: {method.title}")
    for note in method.notes:
        page.line_text(note)
    page.rows(["Activity", "GBq", "Time reference", "Decay"],
              [[a.label, f"{a.gbq:.3f}", a.reference, a.note or "-"]
               for a in method.activities], widths=(34, 9, 27, 30), size=TABLE_PT)
    page.rows(["Region", "Volume / mass", "Mean dose", "Limit (rule)", "Status"],
              [[d.region, d.volume, d.dose, d.limit, d.status] for d in method.doses],
              widths=(20, 15, 14, 33, 18), size=TABLE_PT)


def summary_line(method: WorksheetMethod) -> str:
    """One line of an alternative method: activity, doses and limits not met."""
    first = method.activities[0]
    doses = "; ".join(f"{d.region} {d.dose}" for d in method.doses if d.dose.endswith(" Gy"))
    failed = [d.limit.split(":")[0] for d in method.doses if "NOT MET" in d.status]
    limits = f"NOT MET: {', '.join(failed)}" if failed else "no limit NOT MET"
    return f"{method.title}: {first.gbq:.3f} GBq {first.reference}; {doses}; {limits}."


def render_worksheet(page: Page, worksheet: SirtWorksheet, warnings: Sequence[str],
                     demo: bool) -> None:
    """Write the SIRT worksheet onto the current page.

    Parameters
    ----------
    page : Page
        The PDF being written, positioned below the patient lines.
    worksheet : SirtWorksheet
        The plan, or what is missing for one. The first method is shown in full, the other
        computed ones in a line each (all of them in full in the SIRT tables further on).
    warnings : sequence of str
        Warnings and quality flags, one line each.
    demo : bool
        The volumes come from the bundled demo model: the notice is shown.
    """
    page.heading(f"SIRT worksheet (Y-90), plan revision {worksheet.plan_revision}")
    if demo:
        page.heading(DEMO_LINE)
    page.line_text(f"Territory: {worksheet.territory}.  Microspheres: "
                   f"{worksheet.microspheres}.")
    page.heading("Planning inputs and their sources")
    page.rows(["Input", "Value", "Source"] * 2, _input_rows(worksheet.inputs),
              widths=(22, 16, 10, 22, 16, 10), size=TABLE_PT)
    if worksheet.methods:
        _plan(page, worksheet.methods[0])
    else:
        page.heading("No SIRT plan computed: planner inputs missing")
    if worksheet.methods[1:]:
        page.heading("Other methods computed (in full in the SIRT tables below)")
    for method in worksheet.methods[1:]:
        page.line_text(summary_line(method))
    if worksheet.methods and worksheet.missing:
        page.heading("Methods not computed")
    for line in worksheet.missing:
        page.line_text(line)
    page.heading("Warnings")
    for line in warnings or ["None."]:
        page.line_text(line)
    if worksheet.methods:
        page.heading("Approval")
        for line in SIGNATURE_LINES:
            page.line_text(line)
