"""Synthetic abdominal CT studies with exact ground truth (demo and test data, not patients).

The phantom (:mod:`.phantom`) is random anatomy in patient coordinates; :mod:`.render`
samples it on CT grids; :mod:`.study` writes whole multi-series DICOM studies with their
ground truth (:mod:`.truth`); :mod:`.nm_study` adds the patient's Tc-99m MAA SPECT/CT and
Y-90 PET/CT studies with their dosimetry truth.
"""

from .tissue import Phase

__all__ = ["Phase"]
