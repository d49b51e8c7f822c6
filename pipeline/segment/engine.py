"""The segmentation engine: verified models, stages and cascades, composition,
post-processing, fold agreement and confidence, with provenance.

>>> engine = SegmentationEngine(SegmentationConfig())   # the bundled demo model
>>> engine.verify()                                     # doctest: +SKIP
>>> result = engine.segment(volume)                     # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from pipeline.box import nonzero_box
from pipeline.segment.agreement import fold_agreement
from pipeline.segment.composition import StageMap, StageMaps
from pipeline.segment.confidence import combine, lesion_volumes_ml
from pipeline.segment.config import SegmentationConfig, StageConfig
from pipeline.segment.geometry import bounding_box, canonical_flips, value_counts
from pipeline.segment.inference import FoldPrediction, ModelRunner
from pipeline.segment.model_folders import ModelError, ModelInfo, verify_config
from pipeline.segment.postprocess import apply_rules, largest_component
from pipeline.segment.result import OUTPUT_LABEL_VALUES, SegmentationResult
from pipeline.segment.sliding_window import WindowOptions
from pipeline.structures import COUINAUD_SEGMENTS, PLANNING_REGIONS, Structure
from pipeline.volume import CTVolume

__all__ = ["ModelError", "ModelInfo", "SegmentationEngine", "SegmentationResult"]

log = logging.getLogger(__name__)

_CUDA_ERRORS = (RuntimeError, AssertionError)
"""What a failing CUDA device raises (out of memory, driver errors; CPU-only torch builds
raise AssertionError "Torch not compiled with CUDA enabled")."""

_LIVER_PARTS = frozenset({Structure.LIVER, Structure.METASTASIS, *COUINAUD_SEGMENTS})


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _in_input_order(record: dict[str, Any], flips: tuple[int, ...],
                    shape: tuple[int, ...]) -> dict[str, Any]:
    """A stage record with its box given on the input volume's grid (flips undone)."""
    box = record.get("box_zyx")
    if box is None:
        return record
    unflipped = [[shape[a] - stop, shape[a] - start] if a in flips else [start, stop]
                 for a, (start, stop) in enumerate(box)]
    return {**record, "box_zyx": unflipped}


def _resolve_device(setting: str) -> torch.device:
    if setting == "cpu" or (setting == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda")


class SegmentationEngine:
    """Runs the configured models on CT volumes (one volume at a time; not thread-safe).

    Parameters
    ----------
    config : SegmentationConfig
        Models, stages, post-processing and confidence settings.
    """

    def __init__(self, config: SegmentationConfig) -> None:
        self.config = config
        self._infos: dict[str, ModelInfo] | None = None
        self._runners: dict[str, ModelRunner] = {}
        self._device = _resolve_device(config.device)
        self._warnings: list[str] = []

    @property
    def device(self) -> str:
        """Device type the engine runs on now (``cpu`` or ``cuda``)."""
        return self._device.type

    def verify(self) -> list[ModelInfo]:
        """Check every model the stages use (files, label mapping, channels, weights hash).

        Returns
        -------
        list[ModelInfo]
            One per model used, in stage order.

        Raises
        ------
        ModelError
            With a message naming the model and what is wrong.
        """
        if self._infos is None:
            self._infos = verify_config(self.config)
        return list(self._infos.values())

    def load(self) -> float:
        """Verify, then load every model's networks; returns the seconds spent (0 if loaded)."""
        if self._runners:
            return 0.0
        t0 = time.perf_counter()
        self.verify()
        assert self._infos is not None
        try:
            self._build_runners()
        except ModelError:
            raise
        except _CUDA_ERRORS as exc:
            if self._device.type != "cuda":
                raise
            self._fall_back_to_cpu(exc)
        return time.perf_counter() - t0

    def _build_runners(self) -> None:
        assert self._infos is not None
        self._runners = {
            key: ModelRunner(info, self._device, self._mirroring(key),
                             self.config.tile_step_size, self._window_options())
            for key, info in self._infos.items()}

    def _window_options(self) -> WindowOptions:
        c = self.config
        return WindowOptions(predictor=c.sliding_window, precision=c.precision,
                             tile_batch_size=c.tile_batch_size,
                             compile_network=c.compile_network)

    def _mirroring(self, key: str) -> bool:
        """Test-time mirroring of model ``key`` (its own setting, else the engine's)."""
        own = self.config.models[key].use_mirroring
        return self.config.use_mirroring if own is None else own

    def _fall_back_to_cpu(self, exc: BaseException) -> None:
        message = f"CUDA failed ({type(exc).__name__}: {exc}); fell back to CPU"
        log.warning(message)
        self._warnings.append(message)
        self._device = torch.device("cpu")
        self._build_runners()

    def _predict(self, stage: StageConfig, image: NDArray[np.float32],
                 spacing: tuple[float, float, float]) -> FoldPrediction:
        runner = self._runners[stage.model]
        try:
            return runner.predict(image, spacing)
        except ModelError:
            raise
        except _CUDA_ERRORS as exc:
            if self._device.type != "cuda":
                raise
            self._fall_back_to_cpu(exc)
            return self._runners[stage.model].predict(image, spacing)

    def _region(self, maps: StageMaps, structure: Structure) -> NDArray[np.bool_]:
        """Mask of a structure from earlier stages ('liver' = union of liver parts)."""
        if structure != Structure.LIVER:
            return maps.mask([structure])
        union = maps.mask(_LIVER_PARTS)
        rule = self.config.postprocess.get(Structure.LIVER)
        return largest_component(union) if rule is not None and rule.largest_component else union

    def segment(self, volume: CTVolume) -> SegmentationResult:
        """Segment one CT volume.

        Parameters
        ----------
        volume : CTVolume
            HU array (z, y, x) with spacing (z, y, x) in mm.

        Returns
        -------
        SegmentationResult
            Combined label map on the exact grid and slice order of ``volume``. The
            networks see the volume flipped to the supine head-first orientation
            (:func:`~pipeline.segment.geometry.canonical_flips`); the label map is flipped
            back.

        Raises
        ------
        ModelError
            A model is missing, broken or cannot be loaded.
        """
        t_start = time.perf_counter()
        self._warnings = []
        timings: dict[str, float] = {"load": self.load()}
        assert self._infos is not None
        shape = volume.shape
        spacing = tuple(float(s) for s in volume.spacing_mm)
        spacing_zyx = (spacing[0], spacing[1], spacing[2])
        flips = canonical_flips(volume.row_cosine, volume.column_cosine)
        hu = np.ascontiguousarray(np.flip(np.asarray(volume.hu, dtype=np.float32), flips))
        maps = StageMaps(shape)
        fold_dice: dict[Structure, float | None] = {}
        single_fold: set[Structure] = set()
        stages: list[dict[str, Any]] = []
        threads = self.config.cpu_threads if self._device.type == "cpu" else torch.get_num_threads()
        with _torch_threads(threads):
            for index, stage in enumerate(self.config.stages):
                record = self._run_stage(index, stage, hu, spacing_zyx, maps,
                                         (fold_dice, single_fold), timings)
                stages.append(_in_input_order(record, flips, shape))
        t0 = time.perf_counter()
        labels = {OUTPUT_LABEL_VALUES[s]: s for s in maps.structures
                  if s not in PLANNING_REGIONS}
        regions = {s: np.ascontiguousarray(np.flip(maps.mask([s]), flips))
                   for s in maps.structures if s in PLANNING_REGIONS}
        labelmap = maps.compose(self.config.priority)
        labelmap = apply_rules(labelmap, labels, self.config.postprocess, spacing_zyx,
                               self.config.priority)
        labelmap = np.ascontiguousarray(np.flip(labelmap, flips))  # back to the input order
        timings["postprocess"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # counted and labelled on the box of the labelled voxels: the same counts and
        # components as on the whole grid
        found = nonzero_box(labelmap, margin=1)
        labelled = labelmap[found] if found is not None else labelmap[:0]
        volumes = self._volumes(labelled, labels, volume.voxel_volume_ml)
        volumes.update({s: float(np.count_nonzero(m)) * volume.voxel_volume_ml
                        for s, m in regions.items()})
        metastasis = labelled == OUTPUT_LABEL_VALUES[Structure.METASTASIS]
        lesions = lesion_volumes_ml(metastasis, spacing_zyx) if metastasis.any() else []
        confidence = combine(fold_dice, volumes, min(lesions) if lesions else None,
                             float(volume.slice_thickness_mm), self.config.confidence,
                             single_fold=single_fold)
        timings["confidence"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        return SegmentationResult(
            labelmap=labelmap,
            labels={v: s for v, s in sorted(labels.items())},
            fold_dice={s: d for s, d in fold_dice.items() if d is not None},
            confidence=confidence,
            models=[self._infos[k] for k in dict.fromkeys(st.model for st in self.config.stages)],
            device=self._device.type,
            timings_s=timings,
            volumes_ml=volumes,
            spacing_mm=spacing_zyx,
            warnings=list(self._warnings),
            stages=stages,
            regions=regions,
        )

    def _run_stage(self, index: int, stage: StageConfig, hu: NDArray[np.float32],
                   spacing: tuple[float, float, float],
                   maps: StageMaps,
                   agreement: tuple[dict[Structure, float | None], set[Structure]],
                   timings: dict[str, float]) -> dict[str, Any]:
        """Run one stage (cropping and extra channels from earlier stages) and collect it.

        Returns the stage's record: model, box on the (canonically flipped) CT grid, the
        network grid's shape and spacing, the axes mirrored at test time, or why the stage
        was skipped.
        """
        assert self._infos is not None
        shape = (hu.shape[0], hu.shape[1], hu.shape[2])
        box: tuple[slice, ...] = tuple(slice(0, n) for n in shape)
        record: dict[str, Any] = {"model": stage.model}
        if stage.crop_to:
            region = np.zeros(shape, bool)
            for s in stage.crop_to:
                region |= self._region(maps, s)
            found = bounding_box(region, spacing, stage.crop_margin_mm)
            if found is None:
                message = (f"stage {index} ({stage.model}) skipped: no "
                           f"{'/'.join(s.value for s in stage.crop_to)} to crop to")
                self._warnings.append(message)
                return {**record, "box_zyx": None, "skipped": message}
            box = found
        extra = [self._region(maps, s)[box].astype(np.float32) for s in stage.extra_channels]
        image = np.stack([hu[box], *extra]) if extra else hu[box][None]  # no copy of the CT
        prediction = self._predict(stage, image, spacing)
        for name, seconds in prediction.timings_s.items():
            key = f"{stage.model}.{name}"
            timings[key] = timings.get(key, 0.0) + seconds
        info = self._infos[stage.model]
        maps.add(StageMap(box, prediction.labelmap, dict(info.labels)))
        self._fold_dice(info, prediction, *agreement)
        runner = self._runners[stage.model]
        return {**record, "box_zyx": [[b.start, b.stop] for b in box],
                "network_shape": list(prediction.fold_labelmaps[0].shape),
                "network_spacing_mm": runner.network_spacing_mm,
                "mirror_axes": runner.mirror_axes,
                "sliding_window": runner.sliding_window}

    def _fold_dice(self, info: ModelInfo, prediction: FoldPrediction,
                   fold_dice: dict[Structure, float | None],
                   single_fold: set[Structure]) -> None:
        """Fold agreement (volume-aware mean pairwise Dice, :mod:`pipeline.segment.agreement`)
        per structure of a stage (and of the liver); a model run with one fold has none, and
        its structures are noted in ``single_fold``."""
        minimum = self.config.confidence.agreement_min_volume_ml
        voxel_ml = prediction.fold_voxel_ml
        values: dict[Structure, list[int]] = {}
        for value, structure in info.labels.items():
            values.setdefault(structure, []).append(value)
        parts = [v for v, s in info.labels.items() if s in _LIVER_PARTS]
        if parts and Structure.LIVER not in values:
            values[Structure.LIVER] = parts
        for structure, wanted in values.items():
            fold_dice[structure] = fold_agreement(
                [np.isin(fm, wanted) for fm in prediction.fold_labelmaps], voxel_ml,
                minimum.get(structure, 0.0))
            if len(info.folds) < 2:
                single_fold.add(structure)
            else:
                single_fold.discard(structure)

    @staticmethod
    def _volumes(labelmap: NDArray[np.uint8], labels: dict[int, Structure],
                 voxel_ml: float) -> dict[Structure, float]:
        """Volume (mL) of each structure (label values are never 0, so any part of the
        label map that holds every labelled voxel gives the same volumes)."""
        counts = value_counts(labelmap, minlength=256)
        volumes = {s: float(counts[v]) * voxel_ml for v, s in labels.items()}
        parts = [v for v, s in labels.items() if s in _LIVER_PARTS]
        if parts:
            volumes[Structure.LIVER] = float(counts[parts].sum()) * voxel_ml
        return volumes
