"""The demo's planner step: the automatic result re-planned with example planner inputs.

After the node has processed the demo study, :func:`plan_example` re-plans the job's result
folder with :data:`EXAMPLE_INPUTS` through the code path of ``dicomnode plan`` and of the
dashboard's planner form (:func:`dicomnode.planning.versions.compute_plan`, ``write_plan``),
writing ``result.v2.json``, ``sr.v2.dcm`` (naming the job's SR as its predecessor),
``summary.v2.pdf`` and ``summary-pdf.v2.dcm`` beside the job's files. The demo then approves
it as the dashboard's "Approve" does (:func:`dicomnode.planning.approval.approve_written_plan`)
so that the node's outbox delivers the new SR and PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom

from dicomnode.planning.versions import WrittenPlan, compute_plan, write_plan
from pipeline.config import PipelineConfig
from pipeline.quantify.inputs import Microspheres, PatientInfo, PlannerInputs

EXAMPLE_INPUTS = PlannerInputs(
    lung_shunt_fraction=0.06,
    tumour_to_normal_ratio=3.0,
    territory="right",
    microspheres=Microspheres.RESIN,
)
"""Example planner inputs (not a patient's): resin microspheres to the right lobe, lung
shunt fraction 6 %, tumour-to-normal ratio 3. With the demo study's height and weight they
give a BSA-method and a partition-model plan."""

EXAMPLE_DESCRIPTION = (
    "resin microspheres, right lobe, lung shunt fraction 6 %, tumour-to-normal ratio (T/N) 3"
)
"""The example inputs in words."""

EXAMPLE_COMMAND = "--microspheres resin --territory right --lsf 0.06 --tn 3"
"""The same inputs as ``dicomnode plan`` options."""

@dataclass(frozen=True)
class ExamplePlan:
    """The outcome of the planner step.

    Parameters
    ----------
    folder : Path
        The job's result folder, re-planned.
    doc : dict
        The new result document (version 2).
    written : WrittenPlan
        The files of the new version.
    sr_predecessor_uid : str
        SOP Instance UID the new SR names in its Predecessor Documents Sequence.
    first_sr_uid : str
        SOP Instance UID of the job's SR.
    """

    folder: Path
    doc: dict[str, Any]
    written: WrittenPlan
    sr_predecessor_uid: str
    first_sr_uid: str


def plan_example(folder: Path, config: PipelineConfig) -> ExamplePlan:
    """Re-plan a job's results with :data:`EXAMPLE_INPUTS`; the new version goes beside them.

    Parameters
    ----------
    folder : Path
        The job's result folder (its ``result.json`` and DICOM outputs).
    config : PipelineConfig
        The node's pipeline settings (quantification and writers).

    Returns
    -------
    ExamplePlan
        The new version and its files.

    Raises
    ------
    ValueError
        The job's result has no quantification (a rejected study).
    OSError
        The job folder lacks one of its result files, or a file cannot be written.
    """
    preview = compute_plan(folder, EXAMPLE_INPUTS, PatientInfo(), config.quantification)
    doc, written = preview.doc, write_plan(preview, config.encode)
    new_sr = pydicom.dcmread(folder / f"sr.v{doc['result_version']}.dcm")
    predecessor = new_sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0]
    return ExamplePlan(
        folder=folder,
        doc=doc,
        written=written,
        sr_predecessor_uid=str(predecessor.ReferencedSOPSequence[0].ReferencedSOPInstanceUID),
        first_sr_uid=str(pydicom.dcmread(folder / "sr.dcm").SOPInstanceUID),
    )
