"""Plain input types of the SIRT worksheet, the PDF's first page a planner signs.

The worksheet restates one SIRT plan for reading and signing: territory, microspheres,
every planning input with its source, each activity with the time it holds for, each mean
dose with its region and the guideline limit of that dose with its rule and whether it is
met. Values
arrive formatted (numbers with their units); :mod:`pipeline.encode.worksheet_pdf` lays them
out and :mod:`pipeline.run.sirt_worksheet` builds them from the typed SIRT plan.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorksheetInput:
    """One planning input.

    Parameters
    ----------
    name : str
        What it is, e.g. "Lung shunt fraction".
    value : str
        Its value with unit ("6 %"), or "not given".
    source : str
        Where it came from: "planner", "site default", "CT header" or "-" when not given.
    """

    name: str
    value: str
    source: str


@dataclass(frozen=True)
class WorksheetActivity:
    """One activity of a plan and the time it holds for.

    Parameters
    ----------
    label : str
        What the activity is, e.g. "Activity to inject into the right lobe".
    gbq : float
        The activity, GBq.
    reference : str
        Its time reference, e.g. "at administration 2026-03-05T12:00:00" or "at
        calibration 2026-03-02T12:00:00".
    note : str
        E.g. the decay factor and interval from calibration to administration.
    """

    label: str
    gbq: float
    reference: str
    note: str = ""


@dataclass(frozen=True)
class WorksheetDose:
    """The mean absorbed dose to one region and the guideline limit that applies to it.

    Parameters
    ----------
    region : str
        The region, e.g. "Tumour in the territory".
    volume : str
        Volume (or mass) of the region with unit, or "-".
    dose : str
        Mean dose with unit ("123.4 Gy"), or why it was not computed.
    limit : str
        The rule: its identifier, threshold and condition (``|``-joined identifiers and
        every candidate threshold when an input that selects it is unknown); "-" for none.
    status : str
        "met", "NOT MET", "not evaluable", each candidate's status when an input is
        unknown, or "-" without a limit.
    """

    region: str
    volume: str
    dose: str
    limit: str = "-"
    status: str = "-"


@dataclass(frozen=True)
class WorksheetMethod:
    """One computed planning method.

    Parameters
    ----------
    title : str
        Method name, e.g. "Partition model"; marks the device's convention.
    notes : tuple[str, ...]
        Formula, BSA, lung-shunt reduction, what limited the activity.
    activities : tuple[WorksheetActivity, ...]
        Activities with their time references (the activity to inject first).
    doses : tuple[WorksheetDose, ...]
        Mean doses by region with their limits.
    """

    title: str
    notes: tuple[str, ...]
    activities: tuple[WorksheetActivity, ...]
    doses: tuple[WorksheetDose, ...]


@dataclass(frozen=True)
class SirtWorksheet:
    """A SIRT plan (or why there is none) as a planner reads and signs it.

    Parameters
    ----------
    plan_revision : int
        Revision of the plan (1: the automatic result; a re-plan increments it).
    territory : str
        Treated territory in words, with its Couinaud segments, or "not given".
    microspheres : str
        "resin", "glass" or "not given".
    inputs : tuple[WorksheetInput, ...]
        Every planning input with its source (those not given included).
    methods : tuple[WorksheetMethod, ...]
        The methods that computed an activity, the plan shown in full first (the device's
        convention where it was computed); empty when no plan was computed.
    missing : tuple[str, ...]
        Per method not computed, the planner inputs it is missing (or why it does not
        apply).
    """

    plan_revision: int
    territory: str
    microspheres: str
    inputs: tuple[WorksheetInput, ...]
    methods: tuple[WorksheetMethod, ...]
    missing: tuple[str, ...]
