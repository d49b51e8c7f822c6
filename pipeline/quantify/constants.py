"""Physical constants of Y-90 dosimetry and their published presets.

Sources: ``docs/clinical-sources.md`` §1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class ConstantsPreset(StrEnum):
    """A published set of dosimetry constants."""

    EANM = "EANM"
    THERASPHERE_IFU = "TheraSphere IFU"
    MIRD_AAPM = "MIRD/AAPM"


PRESET_VALUES: dict[ConstantsPreset, tuple[float, float]] = {
    ConstantsPreset.EANM: (49.67, 1.03),
    ConstantsPreset.THERASPHERE_IFU: (50.0, 1.03),
    ConstantsPreset.MIRD_AAPM: (49.38, 1.03),
}
"""Preset -> (energy per activity C in Gy·kg/GBq, liver density in g/mL)."""

PRESET_SOURCES: dict[ConstantsPreset, str] = {
    ConstantsPreset.EANM: "EANM 2022 guideline / SOP 2021",
    ConstantsPreset.THERASPHERE_IFU: "TheraSphere instructions for use",
    ConstantsPreset.MIRD_AAPM: "AAPM MPPG 14.a; MIRD (Gulec 2006)",
}


@dataclass(frozen=True)
class DosimetryConstants:
    """The constants one calculation used (echoed in the output and the SR).

    Parameters
    ----------
    preset : str
        Name of the preset the values started from.
    energy_gy_kg_per_gbq : float
        C: absorbed dose times mass per unit activity for complete local deposition of
        Y-90, Gy·kg/GBq.
    liver_density_g_ml : float
        Density used to turn volumes (mL) into masses, g/mL (also used for tumour).
    half_life_h : float
        Y-90 physical half-life, hours.
    lung_mass_kg : float
        Lung mass used when it is not measured on CT, kg.
    lung_density_max_g_ml : float
        Upper clip of the voxel density derived from HU for the CT lung mass, g/mL.
    source : str
        Where the preset's values come from.
    overridden : tuple[str, ...]
        Names of the fields a configuration override changed from the preset.
    """

    preset: str
    energy_gy_kg_per_gbq: float
    liver_density_g_ml: float
    half_life_h: float
    lung_mass_kg: float
    lung_density_max_g_ml: float
    source: str
    overridden: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every constant."""
        out = asdict(self)
        out["overridden"] = list(self.overridden)
        return out
