"""Runs a validation over a case set: predict (or load predictions), evaluate, cache.

Each case's figures are written to ``OUT/cases/<case>.json`` as soon as it is done; a rerun
with the same settings (NSD tolerance, prediction source) skips the cases already there, so
an interrupted run over hundreds of cases resumes where it stopped. Cases that failed with
an error are retried; rejected studies (no usable series) are kept. When the pipeline runs,
its label maps are kept under ``OUT/predictions/`` (NIfTI plus a JSON sidecar), which a
later ``--predictions OUT/predictions`` run can re-evaluate without inference.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline.config import PipelineConfig
from pipeline.durable import atomic_write
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.model_folders import ModelError
from pipeline.select.selector import select_series
from pipeline.validate.cases import Case, find_prediction
from pipeline.validate.evaluate import evaluate_case, finite_or_none
from pipeline.validate.labelmaps import (
    LabelImage,
    on_volume,
    read_nifti,
    read_seg,
    write_nifti,
)
from pipeline.validate.settings import ValidationSettings

log = logging.getLogger(__name__)

CACHE_SCHEMA = "dicomnode.validate.case/1"
"""Schema name of the per-case JSON files."""


@dataclass(frozen=True)
class _Prediction:
    label_image: LabelImage
    confidence: float | None
    review_recommended: bool | None
    demo: bool
    details: dict[str, Any]


def _write_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(finite_or_none(data), indent=1, allow_nan=False)
    atomic_write(path, text.encode("utf-8"), fsync_dir=False)


def _read_label_image(path: Path, labels: dict[Any, Any]) -> LabelImage:
    if path.suffix == ".dcm":
        return read_seg(path, labels or None)
    return read_nifti(path, labels)


class Runner:
    """Validates cases one by one (one engine, loaded once, for the whole run).

    Parameters
    ----------
    out : Path
        Output folder.
    settings : ValidationSettings
        Tolerance, bootstrap, risk structure.
    config : PipelineConfig
        Series selection and segmentation settings (used when the pipeline runs).
    predictions : Path, optional
        Folder of existing predictions; None runs the pipeline.
    """

    def __init__(
        self,
        out: Path,
        settings: ValidationSettings,
        config: PipelineConfig,
        predictions: Path | None = None,
    ) -> None:
        self.out = out
        self.settings = settings
        self.config = config
        self.predictions = predictions
        self._engine: SegmentationEngine | None = None

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What a cached case must have been computed with to be reused."""
        return {
            "schema": CACHE_SCHEMA,
            "tolerance_mm": self.settings.tolerance_mm,
            "predictions": str(self.predictions.resolve()) if self.predictions else None,
        }

    def case_path(self, case: Case) -> Path:
        """The per-case JSON file of a case."""
        return self.out / "cases" / f"{case.case_id}.json"

    def cached(self, case: Case) -> dict[str, Any] | None:
        """The cached record of a case, if it can be reused."""
        path = self.case_path(case)
        if not path.is_file():
            return None
        try:
            record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        if record.get("settings") != self.fingerprint or record.get("status") == "error":
            return None
        return record

    def run(self, cases: Sequence[Case], progress: bool = True) -> list[dict[str, Any]]:
        """Validate every case (cached ones are read back) and return their records.

        Parameters
        ----------
        cases : sequence of Case
            The case set.
        progress : bool
            Show a rich progress bar on stderr.

        Returns
        -------
        list[dict]
            One record per case (content of ``OUT/cases/<case>.json``).
        """
        records: list[dict[str, Any]] = []
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
            task = bar.add_task("validate", total=len(cases))
            for case in cases:
                bar.update(task, description=f"validate {case.case_id}")
                record = self.cached(case)
                if record is None:
                    record = self.validate_case(case)
                    _write_json(record, self.case_path(case))
                records.append(record)
                bar.advance(task)
        return records

    def validate_case(self, case: Case) -> dict[str, Any]:
        """Predict (or load the prediction of) one case and compute its figures.

        A case that fails is recorded with ``status`` ``error`` and the message (and
        retried by the next run); only a broken model configuration aborts the run.
        """
        t0 = time.perf_counter()
        record: dict[str, Any] = {
            "case_id": case.case_id,
            "settings": self.fingerprint,
            "source": "predictions" if self.predictions else "pipeline",
            "reference": str(case.reference),
            "synthetic": case.synthetic,
        }
        try:
            prediction = self._predict(case)
            if isinstance(prediction, str):
                return {
                    **record,
                    "status": "rejected",
                    "reason": prediction,
                    "seconds": time.perf_counter() - t0,
                }
            reference = _read_label_image(case.reference, case.reference_labels)
            figures = evaluate_case(prediction.label_image, reference, self.settings.tolerance_mm)
        except ModelError:
            raise
        except Exception as exc:  # one broken case must not stop a run over hundreds
            log.warning("case %s failed: %s", case.case_id, exc)
            return {
                **record,
                "status": "error",
                "reason": f"{type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - t0,
            }
        return {
            **record,
            "status": "ok",
            "reason": None,
            "confidence": prediction.confidence,
            "review_recommended": prediction.review_recommended,
            "demo": prediction.demo,
            **prediction.details,
            "spacing_mm": list(prediction.label_image.spacing_mm),
            "structures": figures.rows,
            "lesions": figures.lesions,
            "seconds": time.perf_counter() - t0,
        }

    def _predict(self, case: Case) -> _Prediction | str:
        """The prediction of a case, or why the study was rejected."""
        if self.predictions is not None:
            source = find_prediction(self.predictions, case.case_id)
            return _Prediction(
                _read_label_image(source.path, source.labels),
                source.confidence,
                source.review_recommended,
                source.demo,
                {"prediction": str(source.path)},
            )
        selection = select_series([case.images], self.config.selection)
        if selection.chosen is None:
            return selection.rejection_reason or "no series could be selected"
        if self._engine is None:
            self._engine = SegmentationEngine(self.config.segmentation)
        volume = selection.chosen
        result = self._engine.segment(volume)
        label_image = on_volume(result.labelmap, result.labels, volume, result.regions)
        details = {
            "series_instance_uid": selection.chosen_series_uid,
            "models": [m.to_dict() for m in result.models],
            "fold_dice": {s.value: d for s, d in result.fold_dice.items()},
        }
        folder = self.out / "predictions"
        write_nifti(label_image, folder / f"{case.case_id}.nii.gz")
        review = result.confidence.review_recommended
        _write_json(
            {
                "labels": {str(v): s.value for v, s in result.labels.items()},
                "confidence": result.confidence.score,
                "review_recommended": review,
                "demo": result.is_demo,
                **details,
            },
            folder / f"{case.case_id}.json",
        )
        return _Prediction(label_image, result.confidence.score, review, result.is_demo, details)
