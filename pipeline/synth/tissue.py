"""Tissue classes of the phantom and their attenuation (HU) in each contrast phase."""

from __future__ import annotations

from enum import IntEnum, StrEnum

import numpy as np
from numpy.typing import NDArray


class Phase(StrEnum):
    """Contrast phase of a CT acquisition."""

    NATIVE = "native"
    ARTERIAL = "arterial"
    PORTAL_VENOUS = "portal_venous"
    DELAYED = "delayed"


class Tissue(IntEnum):
    """Tissue class of a phantom point (values < LESION_BASE; lesions follow)."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    BONE_CORTEX = 3
    BONE_MARROW = 4
    DISC = 5
    SPINAL_CANAL = 6
    LUNG = 7
    HEART_WALL = 8
    HEART_BLOOD = 9
    AORTA = 10
    IVC = 11
    PORTAL_VEIN = 12
    HEPATIC_VEIN = 13
    SPLANCHNIC_VEIN = 14
    LIVER = 15
    SPLEEN = 16
    KIDNEY_CORTEX = 17
    KIDNEY_MEDULLA = 18
    STOMACH_WALL = 19
    STOMACH_FLUID = 20
    BOWEL_GAS = 21
    BOWEL_FLUID = 22
    GALLBLADDER = 23
    PANCREAS = 24


LESION_BASE = 64
"""Tissue value of lesion 0's core; lesion ``i`` has core ``64 + 2i`` and rim ``65 + 2i``."""

N_TISSUES = 256

# HU per phase (native, arterial, portal venous, delayed): values seen in adult
# multiphase liver CT at ~120 kVp with a standard iodine bolus.
_HU: dict[Tissue, tuple[float, float, float, float]] = {
    Tissue.AIR: (-1000, -1000, -1000, -1000),
    Tissue.FAT: (-100, -100, -98, -98),
    Tissue.MUSCLE: (50, 58, 65, 60),
    Tissue.BONE_CORTEX: (800, 800, 800, 800),
    Tissue.BONE_MARROW: (200, 215, 220, 215),
    Tissue.DISC: (80, 85, 90, 90),
    Tissue.SPINAL_CANAL: (15, 20, 25, 25),
    Tissue.LUNG: (-860, -855, -850, -850),
    Tissue.HEART_WALL: (45, 120, 110, 95),
    Tissue.HEART_BLOOD: (40, 280, 170, 115),
    Tissue.AORTA: (40, 320, 160, 115),
    Tissue.IVC: (40, 75, 145, 115),
    Tissue.PORTAL_VEIN: (40, 95, 185, 125),
    Tissue.HEPATIC_VEIN: (40, 50, 165, 120),
    Tissue.SPLANCHNIC_VEIN: (40, 110, 180, 120),
    Tissue.LIVER: (55, 70, 110, 90),
    Tissue.SPLEEN: (45, 125, 120, 95),
    Tissue.KIDNEY_CORTEX: (35, 190, 165, 140),
    Tissue.KIDNEY_MEDULLA: (35, 60, 150, 150),
    Tissue.STOMACH_WALL: (40, 90, 100, 80),
    Tissue.STOMACH_FLUID: (8, 8, 8, 8),
    Tissue.BOWEL_GAS: (-950, -950, -950, -950),
    Tissue.BOWEL_FLUID: (15, 15, 15, 15),
    Tissue.GALLBLADDER: (10, 10, 10, 10),
    Tissue.PANCREAS: (40, 120, 100, 80),
}

_PHASE_INDEX = {Phase.NATIVE: 0, Phase.ARTERIAL: 1, Phase.PORTAL_VENOUS: 2, Phase.DELAYED: 3}

# Metastases of colorectal cancer: hypovascular core, optional enhancing rim.
LESION_CORE_HU = (35.0, 45.0, 60.0, 68.0)
LESION_RIM_HU = (40.0, 95.0, 105.0, 88.0)


def phase_index(phase: Phase) -> int:
    """Column of ``phase`` in the HU tables (0 native .. 3 delayed)."""
    return _PHASE_INDEX[Phase(phase)]


def hu_table(phase: Phase, enhancement_scale: float = 1.0,
             lesion_core_offsets_hu: NDArray[np.float64] | None = None,
             lesion_has_rim: NDArray[np.bool_] | None = None) -> NDArray[np.float32]:
    """HU of every tissue value in one phase.

    Parameters
    ----------
    phase : Phase
        Contrast phase.
    enhancement_scale : float
        Factor applied to every enhancement (phase HU - native HU): the patient's bolus
        and circulation, or a low-contrast acquisition (< 1).
    lesion_core_offsets_hu : ndarray, optional
        Per-lesion offset in HU added to the core (lesion density variation).
    lesion_has_rim : ndarray of bool, optional
        Per lesion: whether the rim enhances (otherwise the rim equals the core).

    Returns
    -------
    ndarray of float32, shape (256,)
        HU indexed by tissue value.
    """
    k = phase_index(phase)
    table = np.zeros(N_TISSUES, dtype=np.float32)
    for tissue, values in _HU.items():
        table[tissue] = values[0] + enhancement_scale * (values[k] - values[0])
    offsets = np.zeros(0) if lesion_core_offsets_hu is None else lesion_core_offsets_hu
    rims = np.zeros(len(offsets), bool) if lesion_has_rim is None else lesion_has_rim
    core = LESION_CORE_HU[0] + enhancement_scale * (LESION_CORE_HU[k] - LESION_CORE_HU[0])
    rim = LESION_RIM_HU[0] + enhancement_scale * (LESION_RIM_HU[k] - LESION_RIM_HU[0])
    for i, off in enumerate(offsets):
        table[LESION_BASE + 2 * i] = core + off
        table[LESION_BASE + 2 * i + 1] = (rim if rims[i] else core) + off
    return table
