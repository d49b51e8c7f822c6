"""Settings of the DICOM writers."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class SegmentationType(StrEnum):
    """DICOM Segmentation Type (0062,0001) written for the SEG.

    ``BINARY`` is the default: Orthanc 1.10 and older validators reject the LABELMAP
    Segmentation Storage SOP Class (docs/development.md, "DICOM writers").
    """

    BINARY = "BINARY"
    LABELMAP = "LABELMAP"


class EncodeConfig(BaseModel):
    """Settings of the DICOM-SEG, SR and PDF writers; every field has a working default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segmentation_type: SegmentationType = Field(
        default=SegmentationType.BINARY,
        description="SEG Segmentation Type: BINARY (one bit-packed frame per segment and "
        "slice; segments may overlap) or LABELMAP (one frame per slice; segments may not "
        "overlap, so the derived liver and the all-lesion metastasis segments are left out).",
    )
    lesions_as_segments: bool = Field(
        default=True,
        description="Write each metastasis (connected component of the lesion map) as its "
        "own segment with TrackingID 'Lesion N' and a TrackingUID; the SR's per-lesion "
        "groups reference them.",
    )
    union_segments: bool = Field(
        default=True,
        description="BINARY only: also write the derived liver segment (union of Couinaud "
        "segments and metastases) and, with lesion segments, the all-lesions segment. They "
        "overlap other segments; the SEG's frames are made by pipeline.encode.seg_frames, "
        "so they cost little time and memory. LABELMAP never has them.",
    )
    manufacturer: str = Field(
        default="dicomnode", description="Manufacturer (0008,0070) of the outputs."
    )
    manufacturer_model_name: str = Field(
        default="dicomnode liver pipeline",
        description="Manufacturer's Model Name (0008,1090) of the outputs.",
    )
    software_versions: str = Field(
        default="0.1.0", description="Software Versions (0018,1020) written into every output."
    )
    device_serial_number: str = Field(
        default="0", description="Device Serial Number (0018,1000) of the node."
    )
    institution_name: str = Field(
        default="", description="Institution Name (0008,0080) of the SR; empty leaves it out."
    )
    seg_series_number: int = Field(
        default=9901, ge=0, description="Series Number of the DICOM-SEG series."
    )
    sr_series_number: int = Field(default=9902, ge=0, description="Series Number of the SR series.")
    pdf_series_number: int = Field(
        default=9903, ge=0, description="Series Number of the Encapsulated PDF series."
    )
    seg_series_description: str = Field(
        default="Liver segmentation", description="SeriesDescription of the SEG (a demo model "
        "appends ' DEMO-not for clinical use'; 64 characters at most in all).",
        max_length=38,
    )
    sr_series_description: str = Field(
        default="Liver volumetry report", description="SeriesDescription of the SR.", max_length=38
    )
    pdf_series_description: str = Field(
        default="Liver analysis summary", description="SeriesDescription of the PDF.", max_length=38
    )
    write_pdf: bool = Field(default=True, description="Also write the Encapsulated PDF summary.")
    pdf_overlay_slices: int = Field(
        default=4, ge=1, le=12,
        description="Number of representative axial slices with segmentation overlays in "
        "the PDF.",
    )
    pdf_overlay_dpi: int = Field(
        default=110, ge=50, le=300,
        description="Resolution of the overlay figures in the PDF, dots per inch.",
    )
    overlay_window_center_hu: float = Field(
        default=60.0, description="Window centre of the overlay CT display, HU (liver window)."
    )
    overlay_window_width_hu: float = Field(
        default=400.0, gt=0, description="Window width of the overlay CT display, HU."
    )
