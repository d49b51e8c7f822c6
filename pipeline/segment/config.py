"""Settings of the segmentation stage: model registry, stages, post-processing, confidence.

Defaults run the bundled demo model (``models/demo_liver``; Demo model — not for clinical
use) on the CPU or a GPU when one is available. The models folder is the environment
variable ``DICOMNODE_MODELS_DIR`` when set, else the repository's ``models/`` folder found
from this package's location; a model's ``folder`` may also be an absolute path.
``preset: totalsegmentator`` fills the registry and stages with TotalSegmentator's liver
cascade (:mod:`pipeline.segment.presets`) and looks for its folders where TotalSegmentator
keeps them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.segment.agreement import METASTASIS_MIN_VOLUME_ML
from pipeline.segment.presets import TOTALSEGMENTATOR, preset_fields, totalsegmentator_weights_dir
from pipeline.structures import COUINAUD_SEGMENTS, Structure

MODELS_DIR_ENV = "DICOMNODE_MODELS_DIR"
"""Environment variable naming the folder that holds the model folders."""

DEMO_MODEL_FOLDER = "demo_liver"
"""Folder name of the bundled demo model inside the models folder."""


def default_models_dir() -> Path:
    """The models folder: ``$DICOMNODE_MODELS_DIR`` or the repository's ``models/``.

    Returns
    -------
    Path
        Folder holding one sub-folder per trained nnU-Net model.
    """
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models"


class ModelConfig(BaseModel):
    """One nnU-Net v2 trained-model folder and how to use it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    folder: str = Field(
        default=DEMO_MODEL_FOLDER,
        description="nnU-Net v2 trained-model folder (holding dataset.json, plans.json and "
                    "fold_N/); relative paths are resolved against the models folder.")
    folds: tuple[int, ...] = Field(
        default=(0, 1), min_length=1,
        description="Folds whose networks are run and averaged; two or more give the fold "
                    "agreement (mean pairwise Dice) used by the confidence score.")
    checkpoint: str = Field(default="checkpoint_final.pth",
                            description="Checkpoint file name inside each fold folder.")
    labels: dict[int, Structure] = Field(
        default_factory=dict,
        description="The model's label value -> structure. Empty: taken from the 'labels' "
                    "entry of the model's dicomnode.json. Every non-background label of "
                    "dataset.json must be mapped.")
    weights_sha256: str | None = Field(
        default=None,
        description="Expected combined SHA-256 of the checkpoints (see ModelInfo); a "
                    "mismatch stops verification. None: the hash is recorded, not checked.")
    unmapped_labels: Literal["error", "background"] = Field(
        default="error",
        description="'error': every non-background label of dataset.json must be mapped in "
                    "'labels'; 'background': labels not mapped count as background (a model "
                    "with more classes than the pipeline uses, e.g. TotalSegmentator's).")
    label_names: dict[int, str] = Field(
        default_factory=dict,
        description="Expected dataset.json name of label values (checked by 'dicomnode "
                    "models check': a different name is reported as a warning).")
    name: str | None = Field(
        default=None,
        description="Model name written in results, SEG and SR; None: dicomnode.json's "
                    "'name', else the folder name.")
    version: str | None = Field(
        default=None,
        description="Model version; None: dicomnode.json's 'version', else 'unversioned'.")
    description: str | None = Field(
        default=None,
        description="What the model provides (and does not); None: dicomnode.json's.")
    trainer: str | None = Field(
        default=None,
        description="nnU-Net trainer class the model was trained with; verification checks "
                    "that the installed nnU-Net has it. None: not checked.")
    plans: str | None = Field(
        default=None,
        description="nnU-Net plans identifier; verification checks plans.json's "
                    "'plans_name'. None: not checked.")
    configuration: str | None = Field(
        default=None,
        description="nnU-Net configuration; verification checks plans.json has it. None: "
                    "not checked.")
    use_mirroring: bool | None = Field(
        default=None,
        description="Test-time mirroring for this model; None: the segmentation-wide "
                    "'use_mirroring'. Axes a model was trained without are never mirrored.")


class StageConfig(BaseModel):
    """One step of the composition: a model run on the CT or on a cascade input."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(default="demo", description="Key of the model in `models`.")
    crop_to: tuple[Structure, ...] = Field(
        default=(),
        description="Cascade: run on the CT cropped to the bounding box of these structures "
                    "from earlier stages ('liver' = union of liver parts), grown by "
                    "crop_margin_mm. Empty: the whole CT.")
    crop_margin_mm: float = Field(default=10.0, ge=0.0,
                                  description="Margin added around the crop box, mm.")
    extra_channels: tuple[Structure, ...] = Field(
        default=(),
        description="Cascade: binary masks of these structures from earlier stages, given "
                    "to the model as input channels 1.. after the CT (channel 0).")


class PostProcessRule(BaseModel):
    """Post-processing of one structure (applied on the CT grid after composition)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    largest_component: bool = Field(
        default=False,
        description="Keep only the largest 26-connected component ('liver': of the union "
                    "of liver parts; voxels of the parts outside it are cleared).")
    fill_holes: bool = Field(
        default=False,
        description="Fill enclosed background holes (3-D) with this structure ('liver': "
                    "with the nearest liver part).")
    min_island_ml: float = Field(
        default=0.0, ge=0.0,
        description="Remove connected components smaller than this volume, mL (0 = off).")
    inside_liver: bool = Field(
        default=False,
        description="Remove components whose one-voxel outer shell lies less than "
                    "inside_liver_min_contact in liver parenchyma (tumours kept in the liver).")
    inside_liver_min_contact: float = Field(
        default=0.25, ge=0.0, le=1.0,
        description="Fraction of a component's outer shell that must be liver parenchyma.")
    clip_to_liver_mm: float | None = Field(
        default=None, ge=0.0,
        description="Clear voxels farther than this distance from the liver, mm "
                    "(vessels clipped to the liver region). None: no clipping.")


def _default_postprocess() -> dict[Structure, PostProcessRule]:
    rules = {
        Structure.LIVER: PostProcessRule(largest_component=True, fill_holes=True),
        Structure.METASTASIS: PostProcessRule(min_island_ml=0.03, inside_liver=True),
        Structure.PORTAL_VEIN: PostProcessRule(min_island_ml=0.1, clip_to_liver_mm=30.0),
        Structure.HEPATIC_VEIN: PostProcessRule(min_island_ml=0.1, clip_to_liver_mm=15.0),
        Structure.IVC: PostProcessRule(largest_component=True),
    }
    for seg in COUINAUD_SEGMENTS:
        rules[seg] = PostProcessRule(min_island_ml=0.5)
    return rules


DEFAULT_PRIORITY: tuple[Structure, ...] = (
    Structure.METASTASIS, Structure.PORTAL_VEIN, Structure.HEPATIC_VEIN, Structure.IVC,
    *COUINAUD_SEGMENTS, Structure.LIVER, Structure.LUNG)
"""Overlap priority, highest first: a voxel claimed by two stages gets the higher one."""


class ConfidenceConfig(BaseModel):
    """How fold agreement, tumour volume and slice thickness combine into a study score.

    score = (w_a * agreement + w_t * tumour_term + w_s * thickness_term) / (w_a + w_t + w_s),
    each term in [0, 1]; see ``pipeline.segment.confidence``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    agreement_structures: tuple[Structure, ...] = Field(
        default=(Structure.LIVER, Structure.METASTASIS),
        description="Structures whose fold Dice is averaged into the agreement term "
                    "(those not segmented by any fold are skipped).")
    weight_agreement: float = Field(default=0.6, ge=0.0, description="Weight of fold agreement.")
    weight_tumour_volume: float = Field(default=0.2, ge=0.0,
                                        description="Weight of the smallest-tumour term.")
    weight_slice_thickness: float = Field(default=0.2, ge=0.0,
                                          description="Weight of the slice-thickness term.")
    tumour_volume_full_ml: float = Field(
        default=1.0, gt=0.0,
        description="Smallest metastasis volume at or above which the tumour term is 1; "
                    "below it the term falls linearly to 0 at 0 mL, mL.")
    slice_thickness_good_mm: float = Field(
        default=1.5, gt=0.0, description="Slice thickness at or below which the term is 1, mm.")
    slice_thickness_poor_mm: float = Field(
        default=5.0, gt=0.0,
        description="Slice thickness at or above which the term is 0 (linear between), mm.")
    review_below_score: float = Field(
        default=0.75, ge=0.0, le=1.0,
        description="Review is recommended when the study score is below this value.")
    min_fold_dice: dict[Structure, float] = Field(
        default_factory=lambda: {Structure.LIVER: 0.9, Structure.METASTASIS: 0.6},
        description="Review is recommended when a structure's fold Dice is below its value.")
    agreement_min_volume_ml: dict[Structure, float] = Field(
        default_factory=lambda: {Structure.METASTASIS: METASTASIS_MIN_VOLUME_ML},
        description="Volume a fold must find of a structure for the fold to count as finding "
                    "it, mL (pipeline.segment.agreement; default metastasis 0.5 mL, a 10 mm "
                    "sphere); folds that all find less agree. Structures not listed: any "
                    "voxel counts.")


class SegmentationConfig(BaseModel):
    """Settings of the segmentation stage (defaults: the bundled demo model)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: Literal["totalsegmentator"] | None = Field(
        default=None,
        description="A ready model registry and stage list: 'totalsegmentator' runs "
                    "TotalSegmentator's liver cascade from the folders TotalSegmentator's "
                    "tools installed (docs/totalsegmentator.md). 'models' entries given "
                    "beside it override the preset's fields per model; 'stages' given "
                    "replace its stages. None: no preset.")
    models_dir: Path | None = Field(
        default=None,
        description="Folder holding the model folders; None: $DICOMNODE_MODELS_DIR, else "
                    "the repository's models/ (with the 'totalsegmentator' preset: "
                    "$TOTALSEG_WEIGHTS_PATH, else $TOTALSEG_HOME_DIR/nnunet/results, else "
                    "~/.totalsegmentator/nnunet/results).")
    models: dict[str, ModelConfig] = Field(
        default_factory=lambda: {"demo": ModelConfig()},
        description="Model registry: key -> nnU-Net v2 trained-model folder and use.")
    stages: tuple[StageConfig, ...] = Field(
        default=(StageConfig(),), min_length=1,
        description="Models run in order; a later stage may crop to / take as channels the "
                    "structures of earlier ones, and its masks replace earlier masks of the "
                    "same structure.")
    priority: tuple[Structure, ...] = Field(
        default=DEFAULT_PRIORITY,
        description="Overlap priority of the combined label map, highest first "
                    "(structures not listed rank below all listed ones).")
    postprocess: dict[Structure, PostProcessRule] = Field(
        default_factory=_default_postprocess,
        description="Post-processing rule per structure (missing: none).")
    confidence: ConfidenceConfig = Field(default_factory=ConfidenceConfig,
                                         description="Study-level confidence score.")
    device: Literal["auto", "cuda", "cpu"] = Field(
        default="auto",
        description="Inference device; 'auto' uses CUDA when available. A CUDA failure falls "
                    "back to the CPU (recorded in the result's warnings).")
    cpu_threads: int = Field(default=2, ge=1, description="torch threads for CPU inference.")
    use_mirroring: bool = Field(
        default=True,
        description="Test-time mirroring on the axes the model allows (up to 8 passes per "
                    "tile; the demo model allows none).")
    tile_step_size: float = Field(
        default=0.5, gt=0.0, le=1.0,
        description="Sliding-window step as a fraction of the patch (0.5 = 50 % overlap; "
                    "larger is faster).")
    sliding_window: Literal["auto", "dicomnode", "nnunet"] = Field(
        default="auto",
        description="Who runs the sliding window: 'dicomnode' (pipeline.segment."
                    "sliding_window: all folds warm on the device, tiles and mirrors batched, "
                    "folds summed and arg-maxed on the device), 'nnunet' (nnUNetPredictor, "
                    "fold by fold), 'auto': dicomnode (the faster on the CPU and on CUDA, "
                    "docs/segmentation-gpu.md). 2-D configurations always use nnunet.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto",
        description="Autocast precision of the networks in dicomnode's sliding window "
                    "(sums are float32): 'auto' = fp16 on CUDA (nnU-Net's own autocast), fp32 "
                    "on the CPU; bf16 is as fast and less precise.")
    tile_batch_size: int | None = Field(
        default=None, ge=1,
        description="Patches (tiles x mirrored copies) per forward pass of dicomnode's "
                    "sliding window; None: 8 on CUDA; on the CPU as many patches as hold "
                    "4 x 32 x 48 x 64 voxels, 1 to 4 (a single small patch takes PyTorch's "
                    "slow float32 convolution; a 128^3 patch does not).")
    compile_network: bool = Field(
        default=False,
        description="torch.compile each fold's network in dicomnode's sliding window (CUDA "
                    "only; the first study pays the compilation).")

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: Any) -> Any:
        """Fill 'models' and 'stages' from the preset; given models refine its entries."""
        if not isinstance(data, dict) or not data.get("preset"):
            return data
        fields = preset_fields(str(data["preset"]))
        merged = dict(data)
        models = fields["models"]
        for key, given in dict(data.get("models") or {}).items():
            if isinstance(given, BaseModel):
                given = given.model_dump(exclude_unset=True)
            models[key] = {**models.get(key, {}), **dict(given)}
        merged["models"] = models
        merged.setdefault("stages", fields["stages"])
        return merged

    def resolved_models_dir(self) -> Path:
        """The models folder this configuration uses."""
        if self.models_dir is not None:
            return self.models_dir
        if self.preset == TOTALSEGMENTATOR:
            return totalsegmentator_weights_dir()
        return default_models_dir()

    def model_folder(self, key: str) -> Path:
        """Absolute folder of registry entry ``key``."""
        folder = Path(self.models[key].folder)
        return folder if folder.is_absolute() else self.resolved_models_dir() / folder
