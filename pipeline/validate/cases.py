"""A case set: the images, the reference segmentation and, optionally, existing predictions.

Layout of ``CASES/`` (one folder per case, processed in name order):

- a synthetic study written by ``dicomnode synth`` (``<case>/dicom/`` and
  ``<case>/truth/series.json``): the reference is the label map of the series a correct
  selection must choose, in the demo label values;
- any other case: DICOM files under ``<case>/dicom/`` and the reference as
  ``<case>/reference.nii.gz`` (or ``.nii``) with a label mapping, or as a DICOM-SEG
  ``<case>/reference.dcm``. The label mapping (``labels.yaml``, ``labels.yml`` or
  ``labels.json``, in the case folder or in ``CASES/``) maps label values (NIfTI) or Segment
  Numbers (SEG, optional: segments are otherwise recognised by their SNOMED CT codes) to
  structure names of :class:`pipeline.structures.Structure`::

      labels: {1: liver, 2: metastasis}

Existing predictions (``--predictions DIR``), per case, the first found of:
``DIR/<case>.nii.gz`` with an optional sidecar ``DIR/<case>.json`` (``labels``,
``confidence``, ``review_recommended``, ``demo`` — what the validation run itself writes under
``OUT/predictions/``), or ``DIR/<case>/seg.dcm`` with ``DIR/<case>/result.json`` (the
output folder of ``dicomnode run``). NIfTI predictions without a mapping use the engine's
output label values (:data:`pipeline.segment.result.OUTPUT_LABEL_VALUES`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.segment.result import OUTPUT_LABEL_VALUES
from pipeline.structures import DEMO_LABELS, Structure

MAPPING_NAMES = ("labels.yaml", "labels.yml", "labels.json")
"""File names of a label mapping, searched in the case folder, then the case-set folder."""


class CaseError(ValueError):
    """A case folder or prediction that cannot be used, with the reason."""


@dataclass(frozen=True)
class Case:
    """One case of a case set.

    Parameters
    ----------
    case_id : str
        The case folder's name.
    images : Path
        Folder of the case's DICOM files.
    reference : Path
        Reference segmentation (NIfTI or DICOM-SEG).
    reference_labels : dict[int, Structure]
        NIfTI: label value -> structure; SEG: Segment Number overrides (may be empty).
    synthetic : bool
        A ``dicomnode synth`` study (exact ground truth).
    """

    case_id: str
    images: Path
    reference: Path
    reference_labels: dict[int, Structure] = field(default_factory=dict)
    synthetic: bool = False


@dataclass(frozen=True)
class PredictionSource:
    """Where an existing prediction of a case is.

    Parameters
    ----------
    path : Path
        NIfTI label map or DICOM-SEG.
    labels : dict[int, Structure]
        NIfTI label value -> structure (SEG: Segment Number overrides, usually empty).
    confidence : float or None
        The study confidence score, when recorded.
    review_recommended : bool or None
        The study's review flag, when recorded.
    demo : bool
        Produced by a demo model (outputs not for clinical use).
    """

    path: Path
    labels: dict[int, Structure]
    confidence: float | None
    review_recommended: bool | None
    demo: bool


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def parse_mapping(data: Any, source: str) -> dict[int, Structure]:
    """Label value -> structure from a parsed mapping (``{labels: {1: liver}}`` or ``{1: liver}``).

    Raises
    ------
    CaseError
        Not a mapping, a key that is not an integer or an unknown structure name.
    """
    if isinstance(data, dict) and isinstance(data.get("labels"), dict):
        data = data["labels"]
    if not isinstance(data, dict):
        raise CaseError(f"{source}: expected a mapping of label value -> structure name")
    out: dict[int, Structure] = {}
    for key, name in data.items():
        try:
            out[int(key)] = Structure(str(name))
        except ValueError as exc:
            raise CaseError(
                f"{source}: {key!r}: {name!r} is not a label value -> one of "
                f"{', '.join(s.value for s in Structure)}"
            ) from exc
    return out


def read_mapping(path: Path) -> dict[int, Structure]:
    """Read a label mapping file (YAML or JSON)."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return parse_mapping(data, str(path))


def _find_mapping(*folders: Path) -> dict[int, Structure] | None:
    for folder in folders:
        for name in MAPPING_NAMES:
            if (folder / name).is_file():
                return read_mapping(folder / name)
    return None


def _synthetic_case(folder: Path) -> Case:
    series = json.loads((folder / "truth" / "series.json").read_text(encoding="utf-8"))
    expected = [e for e in series if e.get("expected_choice") and e.get("labels")]
    if not expected:
        raise CaseError(f"{folder}: truth/series.json names no expected series with labels")
    return Case(
        folder.name,
        folder / "dicom",
        folder / expected[0]["labels"],
        dict(DEMO_LABELS),
        synthetic=True,
    )


def _case(folder: Path, root: Path) -> Case:
    if (folder / "truth" / "series.json").is_file():
        return _synthetic_case(folder)
    images = folder / "dicom"
    if not images.is_dir():
        raise CaseError(f"{folder}: no dicom/ folder")
    mapping = _find_mapping(folder, root)
    for name in ("reference.nii.gz", "reference.nii"):
        if (folder / name).is_file():
            if mapping is None:
                raise CaseError(
                    f"{folder}: {name} needs a label mapping ({' or '.join(MAPPING_NAMES)})"
                )
            return Case(folder.name, images, folder / name, mapping)
    if (folder / "reference.dcm").is_file():
        return Case(folder.name, images, folder / "reference.dcm", mapping or {})
    raise CaseError(f"{folder}: no reference.nii.gz, reference.nii or reference.dcm")


def discover_cases(root: Path) -> list[Case]:
    """Every case of a case set, in folder-name order (layout in the module docstring).

    Parameters
    ----------
    root : Path
        The case-set folder.

    Returns
    -------
    list[Case]
        The cases.

    Raises
    ------
    CaseError
        A case folder that does not follow the layout (the message says what is missing).
    """
    if not root.is_dir():
        raise CaseError(f"{root}: not a folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [_case(p, root) for p in folders]


def find_prediction(folder: Path, case_id: str) -> PredictionSource:
    """The existing prediction of a case (layout in the module docstring).

    Raises
    ------
    CaseError
        No prediction for the case.
    """
    nifti = folder / f"{case_id}.nii.gz"
    if nifti.is_file():
        sidecar = folder / f"{case_id}.json"
        meta = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
        labels = (
            parse_mapping(meta["labels"], str(sidecar))
            if "labels" in meta
            else _find_mapping(folder) or {v: s for s, v in OUTPUT_LABEL_VALUES.items()}
        )
        confidence = meta.get("confidence")
        return PredictionSource(
            nifti,
            labels,
            None if confidence is None else float(confidence),
            _flag(meta.get("review_recommended")),
            bool(meta.get("demo", False)),
        )
    seg = folder / case_id / "seg.dcm"
    if seg.is_file():
        result_path = folder / case_id / "result.json"
        result = (
            json.loads(result_path.read_text(encoding="utf-8")) if result_path.is_file() else {}
        )
        confidence = result.get("confidence") or {}
        score = confidence.get("score")
        demo = bool((result.get("segmentation") or {}).get("demo", False))
        return PredictionSource(
            seg,
            _find_mapping(folder / case_id) or {},
            None if score is None else float(score),
            _flag(confidence.get("review_recommended")),
            demo,
        )
    raise CaseError(
        f"no prediction for case {case_id} in {folder} ({nifti.name} or {case_id}/seg.dcm)"
    )
