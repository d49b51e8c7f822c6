"""The demo's planner step: the automatic result re-planned with example planner inputs.

After the node has processed the demo study, :func:`plan_example` copies the job's result
folder (``result.json``, SEG, SR, PDF) to a folder of its own and re-plans it with
:data:`EXAMPLE_INPUTS` through the ``dicomnode plan`` code path
(:func:`dicomnode.planning.versions.compute_plan`, ``write_plan``), writing ``result.v2.json``,
``sr.v2.dcm`` (naming the job's SR as its predecessor), ``summary.v2.pdf`` and
``summary-pdf.v2.dcm``. This example is not delivered to the demo's destination folder (a
planner's approval on the dashboard delivers a re-plan: :mod:`dicomnode.web.planner`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom

from dicomnode.planning.versions import compute_plan, write_plan
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

_RESULT_FILES = ("result.json", "seg.dcm", "sr.dcm", "summary-pdf.dcm", "summary.pdf")


@dataclass(frozen=True)
class ExamplePlan:
    """The outcome of the planner step.

    Parameters
    ----------
    folder : Path
        The re-planned copy of the job's result folder.
    doc : dict
        The new result document (version 2).
    written : list of Path
        The files of the new version.
    sr_predecessor_uid : str
        SOP Instance UID the new SR names in its Predecessor Documents Sequence.
    first_sr_uid : str
        SOP Instance UID of the job's SR.
    """

    folder: Path
    doc: dict[str, Any]
    written: list[Path]
    sr_predecessor_uid: str
    first_sr_uid: str


def plan_example(job_dir: Path, folder: Path, config: PipelineConfig) -> ExamplePlan:
    """Copy a job's results to ``folder`` and re-plan them with :data:`EXAMPLE_INPUTS`.

    Parameters
    ----------
    job_dir : Path
        The job's work folder (its ``result.json`` and DICOM outputs).
    folder : Path
        Where the copy and the new version go (created; must not exist).
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
    FileNotFoundError
        The job folder lacks one of its result files.
    """
    folder.mkdir(parents=True)
    for name in _RESULT_FILES:
        shutil.copy2(job_dir / name, folder / name)
    preview = compute_plan(folder, EXAMPLE_INPUTS, PatientInfo(), config.quantification)
    doc, written = preview.doc, write_plan(preview, config.encode).paths
    new_sr = pydicom.dcmread(folder / f"sr.v{doc['result_version']}.dcm")
    predecessor = new_sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0]
    return ExamplePlan(
        folder=folder,
        doc=doc,
        written=written,
        sr_predecessor_uid=str(predecessor.ReferencedSOPSequence[0].ReferencedSOPInstanceUID),
        first_sr_uid=str(pydicom.dcmread(folder / "sr.dcm").SOPInstanceUID),
    )
