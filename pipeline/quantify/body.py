"""Body surface area and total estimated liver volume (``docs/clinical-sources.md`` §2, §4)."""

from __future__ import annotations

import math

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
