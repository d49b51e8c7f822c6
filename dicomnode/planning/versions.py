"""Result versions of a study folder: the newest one, a re-plan's preview, writing version N.

``result.json`` is version 1, ``result.vN.json`` version N. A re-plan is computed first
(:func:`compute_plan`, which writes nothing: what the planner reviews) and written second
(:func:`write_plan`): ``sr.vN.dcm``, ``summary.vN.pdf`` and ``summary-pdf.vN.dcm`` where the
folder holds the study's ``seg.dcm`` (:mod:`pipeline.run.replan_outputs`), and
``result.vN.json`` last, so that a version whose result file exists is whole. A failure
removes the version's partial files; writers of one folder take turns (a lock file).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.encode.config import EncodeConfig
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import PatientInfo, PlannerInputs

_VERSIONED = re.compile(r"^result\.v(\d+)\.json$")
_VERSION_FILES = re.compile(
    r"^(?:result|sr|summary|summary-pdf)\.v(\d+)\.(?:json|dcm|pdf)"
    r"(?:\.part)?$"
)
LOCK_NAME = ".plan.lock"
"""Lock file of a study folder's writers."""


class PlanConflictError(RuntimeError):
    """Another version was written since the preview: review the plan again."""


def result_versions(result_dir: Path) -> dict[int, Path]:
    """Result files of a study by version number (``result.json`` is version 1)."""
    found = {}
    if (result_dir / "result.json").is_file():
        found[1] = result_dir / "result.json"
    for path in result_dir.iterdir():
        match = _VERSIONED.match(path.name)
        if match and path.is_file():
            found[int(match.group(1))] = path
    return found


def newest_result(result_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The newest result version of a study folder: its path and document.

    Raises
    ------
    ValueError
        The folder has no result, or the newest one has no quantification (rejected).
    """
    versions = result_versions(result_dir)
    if not versions:
        raise ValueError("no result.json in the folder")
    base = versions[max(versions)]
    previous = json.loads(base.read_text(encoding="utf-8"))
    if "volumes_ml" not in previous or "tumour_burden" not in previous:
        raise ValueError(f"{base.name} has no quantification (rejected study?)")
    return base, previous


@dataclass(frozen=True)
class PlanPreview:
    """A re-plan computed and not yet written.

    Parameters
    ----------
    result_dir : Path
        The study folder.
    base : Path
        Its newest result file when the plan was computed.
    previous : dict
        That file's document (the version the plan replaces).
    doc : dict
        The new result document (``result_version`` and ``supersedes`` set).
    """

    result_dir: Path
    base: Path
    previous: dict[str, Any]
    doc: dict[str, Any]

    @property
    def version(self) -> int:
        """The version number the plan will be written as."""
        return int(self.doc["result_version"])


@dataclass(frozen=True)
class WrittenPlan:
    """The files of a version written by :func:`write_plan`.

    Parameters
    ----------
    version : int
        Its number N.
    result : Path
        ``result.vN.json``.
    dicom : tuple of Path
        ``sr.vN.dcm`` and ``summary-pdf.vN.dcm`` (empty without ``seg.dcm``; the SR only
        with PDFs off).
    pdf : Path or None
        ``summary.vN.pdf``.
    """

    version: int
    result: Path
    dicom: tuple[Path, ...]
    pdf: Path | None

    @property
    def paths(self) -> list[Path]:
        """Every file written, the result last."""
        return [*self.dicom, *([self.pdf] if self.pdf else []), self.result]


def compute_plan(
    result_dir: Path, planner: PlannerInputs, patient: PatientInfo, config: QuantificationConfig
) -> PlanPreview:
    """Re-plan a study folder's newest result with planner inputs; writes nothing.

    Parameters
    ----------
    result_dir : Path
        The study folder (``result.json``, and ``seg.dcm`` for the DICOM outputs).
    planner, patient : PlannerInputs, PatientInfo
        Inputs given now (they override the earlier version's).
    config : QuantificationConfig
        Quantification settings.

    Returns
    -------
    PlanPreview
        The new document, numbered as the next version.

    Raises
    ------
    ValueError
        The folder has no result, or the newest one has no quantification.
    """
    from pipeline.quantify.quantify import replan

    base, previous = newest_result(result_dir)
    study_date = (
        None if (previous.get("inputs") or {}).get("study_date") else _seg_study_date(result_dir)
    )
    doc = replan(previous, planner, config, patient, study_date)
    doc["supersedes"] = base.name
    doc["result_version"] = max(result_versions(result_dir)) + 1
    return PlanPreview(result_dir, base, previous, doc)


def write_plan(preview: PlanPreview, encode_config: EncodeConfig) -> WrittenPlan:
    """Write a computed plan as version N: its SR and PDF first, ``result.vN.json`` last.

    Parameters
    ----------
    preview : PlanPreview
        From :func:`compute_plan`.
    encode_config : EncodeConfig
        Writer settings.

    Returns
    -------
    WrittenPlan
        The files written.

    Raises
    ------
    PlanConflictError
        The folder's newest version is no longer the one the preview was computed from.
    Exception
        Whatever the writers raise; the version's partial files are removed first.
    """
    from pipeline.durable import atomic_write
    from pipeline.run.replan_outputs import write_replan_outputs

    folder, version = preview.result_dir, preview.version
    with _folder_lock(folder):
        newest = max(result_versions(folder), default=0)
        if newest + 1 != version:
            raise PlanConflictError(
                f"version {newest} was written since this plan was "
                f"computed (as version {version}); review it again"
            )
        _remove_from(folder, version)  # leftovers of an interrupted writer
        try:
            outputs: list[Path] = []
            if (folder / "seg.dcm").is_file():
                outputs = write_replan_outputs(folder, preview.doc, version, encode_config)
            data = json.dumps(preview.doc, indent=2, allow_nan=False).encode("utf-8")
            result = atomic_write(folder / f"result.v{version}.json", data)
        except BaseException:
            _remove_from(folder, version)
            raise
    return WrittenPlan(
        version=version,
        result=result,
        dicom=tuple(p for p in outputs if p.suffix == ".dcm"),
        pdf=next((p for p in outputs if p.suffix == ".pdf"), None),
    )


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold the study folder's writer lock (an exclusive ``flock`` on a file in it)."""
    with (folder / LOCK_NAME).open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_from(folder: Path, version: int) -> None:
    """Remove the files (and temporary files) of versions ``version`` and later."""
    for path in folder.iterdir():
        match = _VERSION_FILES.match(path.name)
        if match and int(match.group(1)) >= version and not path.is_dir():
            path.unlink(missing_ok=True)


def _seg_study_date(result_dir: Path) -> dt.date | None:
    """StudyDate of the study's SEG (None without one)."""
    import pydicom

    from pipeline.run.report_content import study_date

    seg = result_dir / "seg.dcm"
    return study_date(pydicom.dcmread(seg, stop_before_pixels=True)) if seg.is_file() else None
