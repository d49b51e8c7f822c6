"""Named reasons for rejecting or flagging an image, a series or a volume.

Every problem the selection finds is one of these members; the value is its stable machine
name, used in JSON output, logs and configuration. Nothing is averaged or repaired silently.
"""

from __future__ import annotations

from enum import StrEnum


class GeometryReason(StrEnum):
    """A geometric or pixel-value problem of a set of CT slices meant to form one volume."""

    MISSING_GEOMETRY = "missing_geometry"
    """ImagePositionPatient, ImageOrientationPatient, PixelSpacing, Rows or Columns absent."""
    MIXED_FRAME_OF_REFERENCE = "mixed_frame_of_reference"
    """More than one FrameOfReferenceUID."""
    MIXED_ORIENTATION = "mixed_orientation"
    """ImageOrientationPatient differs between slices."""
    MIXED_MATRIX = "mixed_matrix"
    """Rows/Columns differ between slices."""
    MIXED_PIXEL_SPACING = "mixed_pixel_spacing"
    """PixelSpacing differs between slices."""
    DUPLICATE_POSITIONS = "duplicate_positions"
    """Several slices at one position along the normal (several stacks or phases)."""
    MISSING_SLICES = "missing_slices"
    """A gap: a slice spacing well above the nominal spacing."""
    IRREGULAR_SPACING = "irregular_spacing"
    """Slice spacings differ by more than the tolerance without forming a gap."""
    GANTRY_TILT = "gantry_tilt"
    """GantryDetectorTilt is not 0 or the stacking direction is not parallel to the normal."""
    TOO_FEW_SLICES = "too_few_slices"
    """Fewer slices than the configured minimum."""
    NOT_A_REGULAR_VOLUME = "not_a_regular_volume"
    """highdicom's independent check does not accept the slices as one regular volume."""
    UNREADABLE_PIXELS = "unreadable_pixels"
    """Pixel data could not be decoded (transfer syntax or corrupt file)."""
    RESCALE_VARIES = "rescale_varies"
    """RescaleSlope/RescaleIntercept differ between slices (applied per slice: a note)."""
    MIXED_SLICE_THICKNESS = "mixed_slice_thickness"
    """SliceThickness differs between slices (a note)."""
    DUPLICATE_INSTANCES = "duplicate_instances"
    """The same SOPInstanceUID was given more than once; one copy kept (a note)."""

    @property
    def blocking(self) -> bool:
        """Whether the problem prevents building a correct volume."""
        return self not in _NOTES


_NOTES = frozenset(
    {
        GeometryReason.RESCALE_VARIES,
        GeometryReason.MIXED_SLICE_THICKNESS,
        GeometryReason.DUPLICATE_INSTANCES,
    }
)


class CandidateReason(StrEnum):
    """Why a series (or a part of it) is not a candidate, or is ranked lower."""

    NOT_CT_IMAGE_STORAGE = "not_ct_image_storage"
    """SOP Class is not CT, Enhanced CT or Legacy Converted Enhanced CT Image Storage (e.g.
    secondary capture, SR, SEG)."""
    ENHANCED_CT_NO_FRAME_POSITIONS = "enhanced_ct_no_frame_positions"
    """An Enhanced or Legacy Converted Enhanced CT image (multi-frame) whose frames do not
    each carry a Plane Position Sequence: their positions and order are unknown."""
    MULTIFRAME_SEVERAL_IMAGES = "multiframe_several_images"
    """The stack's frames come from several multi-frame images, or mix multi-frame and
    single-frame images: the DICOM-SEG can reference the frames of one image only."""
    LOCALIZER = "localizer"
    """ImageType LOCALIZER, or a topogram/scout/surview by description."""
    DERIVED = "derived"
    """ImageType value 1 is DERIVED."""
    SECONDARY = "secondary"
    """ImageType value 2 is SECONDARY."""
    DOSE_SCREEN = "dose_screen"
    """Dose report or protocol screen."""
    NM_ATTENUATION_CT = "nm_attenuation_ct"
    """A CT sharing its FrameOfReferenceUID with an NM or PET image of the input: the CT of
    a SPECT/CT or PET/CT (attenuation correction, localisation), never the planning CT."""
    NON_AXIAL = "non_axial"
    """Slice normal further from the patient's head-foot axis than allowed (a reformat)."""
    GEOMETRY = "geometry"
    """The slices do not form one correct volume (see the geometry reasons)."""
    TOO_THICK = "too_thick"
    """SliceThickness above the acceptable maximum."""
    THICK_SLICES = "thick_slices"
    """SliceThickness above the preferred range but acceptable (a reliability penalty)."""
    SHARP_KERNEL = "sharp_kernel"
    """Bone or lung reconstruction kernel (a penalty)."""
    PHASE_NOT_ACCEPTED = "phase_not_accepted"
    """The detected contrast phase is not one the configuration accepts."""
    PHASE_DISAGREEMENT = "phase_disagreement"
    """Header and image evidence disagree on the phase; the image wins (a note)."""
    INCOMPLETE_COVERAGE = "incomplete_coverage"
    """The liver region does not appear to be fully inside the scanned range."""
    HIGH_NOISE = "high_noise"
    """Image noise above the configured limit (e.g. a low-dose acquisition; a penalty)."""
    SPLIT_STACK = "split_stack"
    """The series held several stacks; this candidate is one of them (a note)."""
    UNREADABLE = "unreadable"
    """The file could not be read as DICOM."""
    LOWER_RANK = "lower_rank"
    """Acceptable, but another candidate ranks higher."""
