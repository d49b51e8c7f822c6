"""Body surface area and total estimated liver volume (``docs/clinical-sources.md`` §2, §4)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BSA_FORMULAS: dict[str, str] = {
    "dubois": "DuBois: 0.20247 x H[m]^0.725 x W[kg]^0.425",
    "mosteller": "Mosteller: sqrt(H[cm] x W[kg] / 3600)",
}

TELV_FORMULAS: dict[str, str] = {
    "vauthey": "Vauthey 2002: TELV[mL] = -794.41 + 1267.28 x BSA[m2]",
    "urata": "Urata 1995: TELV[mL] = 706.2 x BSA[m2] + 2.4",
    "heinemann": "Heinemann 1999: TELV[mL] = 1072.8 x BSA[m2] - 345.7",
}


def bsa_dubois(height_m: float, weight_kg: float) -> float:
    """Body surface area by DuBois & DuBois, m².

    Parameters
    ----------
    height_m : float
        Height, m.
    weight_kg : float
        Weight, kg.
    """
    return 0.20247 * height_m**0.725 * weight_kg**0.425


def bsa_mosteller(height_m: float, weight_kg: float) -> float:
    """Body surface area by Mosteller, m² (height in cm inside the formula)."""
    return math.sqrt(height_m * 100.0 * weight_kg / 3600.0)


def bsa(formula: str, height_m: float, weight_kg: float) -> float:
    """Body surface area by the named formula (``dubois`` or ``mosteller``), m²."""
    if formula == "dubois":
        return bsa_dubois(height_m, weight_kg)
    if formula == "mosteller":
        return bsa_mosteller(height_m, weight_kg)
    raise ValueError(f"unknown BSA formula {formula!r}")


def telv_ml(formula: str, bsa_m2: float) -> float:
    """Total estimated liver volume, mL, from body surface area (m²).

    Parameters
    ----------
    formula : str
        ``vauthey``, ``urata`` or ``heinemann``.
    bsa_m2 : float
        Body surface area, m².
    """
    if formula == "vauthey":
        return -794.41 + 1267.28 * bsa_m2
    if formula == "urata":
        return 706.2 * bsa_m2 + 2.4
    if formula == "heinemann":
        return 1072.8 * bsa_m2 - 345.7
    raise ValueError(f"unknown TELV formula {formula!r}")


@dataclass(frozen=True)
class PatientSection:
    """The ``patient`` section: body size as given and as used, and the BSA by each formula.

    Parameters
    ----------
    height_m, weight_kg : float or None
        Height (m) and weight (kg) as given (header or planner).
    height_used_m, weight_used_kg : float or None
        The values used (None: missing or implausible).
    bsa_dubois_m2, bsa_mosteller_m2 : float or None
        Body surface area by DuBois and by Mosteller, m².
    """

    height_m: float | None
    weight_kg: float | None
    height_used_m: float | None
    weight_used_kg: float | None
    bsa_dubois_m2: float | None
    bsa_mosteller_m2: float | None

    @classmethod
    def of(cls, height_m: float | None, weight_kg: float | None,
           height_used_m: float | None, weight_used_kg: float | None) -> PatientSection:
        """Given and usable body size, with the BSA computed from the usable one."""
        h, w = height_used_m, weight_used_kg
        if h is None or w is None:
            return cls(height_m, weight_kg, h, w, None, None)
        return cls(height_m, weight_kg, h, w, bsa_dubois(h, w), bsa_mosteller(h, w))

    def bsa_m2(self, formula: str) -> float | None:
        """BSA by ``formula`` (a key of :data:`BSA_FORMULAS`), m²."""
        return {"dubois": self.bsa_dubois_m2, "mosteller": self.bsa_mosteller_m2}[formula]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping, with the formulas in words."""
        return {"height_m": self.height_m, "weight_kg": self.weight_kg,
                "height_used_m": self.height_used_m, "weight_used_kg": self.weight_used_kg,
                "bsa_dubois_m2": self.bsa_dubois_m2, "bsa_mosteller_m2": self.bsa_mosteller_m2,
                "bsa_formulas": dict(BSA_FORMULAS)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PatientSection:
        """Read back :meth:`to_dict`."""
        return cls(data.get("height_m"), data.get("weight_kg"), data.get("height_used_m"),
                   data.get("weight_used_kg"), data.get("bsa_dubois_m2"),
                   data.get("bsa_mosteller_m2"))
