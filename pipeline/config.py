"""The pipeline's configuration: one frozen model composed of each stage's own settings.

Every field has a documented default so an empty configuration runs the bundled demo model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pipeline.dosimetry.config import DosimetryConfig
from pipeline.encode.config import EncodeConfig
from pipeline.quantify.config import QuantificationConfig
from pipeline.segment.config import SegmentationConfig
from pipeline.select.config import SelectionConfig


class PipelineConfig(BaseModel):
    """Settings of every pipeline stage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    selection: SelectionConfig = Field(
        default_factory=SelectionConfig,
        description="Which series is segmented: candidates, geometry QA, phase, thickness, "
        "kernel and ranking rules.")
    segmentation: SegmentationConfig = Field(
        default_factory=SegmentationConfig,
        description="nnU-Net v2 models, folds, device, post-processing and confidence.")
    quantification: QuantificationConfig = Field(
        default_factory=QuantificationConfig,
        description="Volumetry, lesions, FLR and SIRT constants, thresholds and gates.")
    encode: EncodeConfig = Field(
        default_factory=EncodeConfig,
        description="DICOM-SEG, SR and PDF writer settings.")
    dosimetry: DosimetryConfig = Field(
        default_factory=DosimetryConfig,
        description="Image-based SIRT dosimetry of MAA SPECT/CT and Y-90 PET/CT: on/off, "
        "study link and pairing windows, the activity the MAA prediction is scaled to.")
    write_rejection_report: bool = Field(
        default=True,
        description="When a study cannot be measured, still write a short SR and PDF "
        "saying why (they are sent like any result).")
    reject_incomplete_liver_coverage: bool = Field(
        default=False,
        description="Reject a study whose segmented liver touches the first/last slice or "
        "the field of view. When false (default) it is measured and the affected volumes "
        "are withheld or flagged by the quantification's quality gates.")
