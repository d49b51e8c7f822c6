"""Nuclear-medicine emission images in a set of headers, and the frames of reference they share.

A SPECT/CT or PET/CT stores its CT (attenuation correction and localisation) in the same
FrameOfReferenceUID as its emission images. Such a CT is low dose and acquired for the NM
study: it must never become the planning CT (:data:`CandidateReason.NM_ATTENUATION_CT
<pipeline.select.reasons.CandidateReason>`).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.dataset import Dataset
from pydicom.uid import (
    EnhancedPETImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
    NuclearMedicineImageStorage,
    PositronEmissionTomographyImageStorage,
)

PET_SOP_CLASSES = frozenset({str(PositronEmissionTomographyImageStorage),
                             str(EnhancedPETImageStorage),
                             str(LegacyConvertedEnhancedPETImageStorage)})
"""The PET image storage SOP classes."""
EMISSION_SOP_CLASSES = PET_SOP_CLASSES | {str(NuclearMedicineImageStorage)}
"""NM and PET image storage SOP classes (emission images)."""


def is_emission(ds: Dataset) -> bool:
    """Whether an image is an NM or PET image (by SOP Class, else by Modality NM/PT)."""
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if sop_class:
        return sop_class in EMISSION_SOP_CLASSES
    return str(ds.get("Modality", "")).upper() in ("NM", "PT")


def emission_frames(datasets: Iterable[Dataset]) -> frozenset[str]:
    """FrameOfReferenceUIDs of the NM/PET images among ``datasets`` (empty ones ignored)."""
    return frozenset(str(ds.get("FrameOfReferenceUID", "")) for ds in datasets
                     if is_emission(ds) and str(ds.get("FrameOfReferenceUID", "")))
