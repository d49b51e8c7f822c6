"""Typed result of an image-based dosimetry: lung shunt, T/N, regional dose figures.

:meth:`DosimetryResult.to_json` gives the mapping stored under the key ``dosimetry`` of
``result.json``: ``lsf``, ``tn_ratio``, ``source``, ``regions`` (``name``, ``mean_gy``,
``d70_gy``, ``v100_percent``, ...), plus the method details and the registration quality.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.quantify.constants import DosimetryConstants


@dataclass(frozen=True)
class RegionDose:
    """Dose-volume figures of one region (conventions: :mod:`pipeline.dosimetry.dvh`).

    Parameters
    ----------
    name : str
        Region name (structure machine name, e.g. ``liver``, ``normal_liver``, ``lesion_1``).
    volume_ml : float
        Region volume on the dose grid, mL.
    mean_gy : float
        Mean absorbed dose, Gy.
    d50_gy, d70_gy, d90_gy, d95_gy : float
        Minimum dose to the hottest 50, 70, 90, 95 % of the volume, Gy.
    v70_percent, v100_percent, v120_percent, v205_percent : float
        Volume receiving at least 70, 100, 120, 205 Gy, % of the region.
    max_gy : float
        Largest voxel dose, Gy.
    """

    name: str
    volume_ml: float
    mean_gy: float
    d50_gy: float
    d70_gy: float
    d90_gy: float
    d95_gy: float
    v70_percent: float
    v100_percent: float
    v120_percent: float
    v205_percent: float
    max_gy: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every figure."""
        return asdict(self)


@dataclass(frozen=True)
class RegistrationSummary:
    """How well the emission study's CT was registered to the planning CT.

    Parameters
    ----------
    metric : str
        Optimised similarity metric (e.g. ``Mattes mutual information``).
    final_metric_value : float
        Metric value at the end (lower is better for ITK metrics).
    ncc : float
        Normalised cross-correlation of the HU images inside the planning CT body, after
        registration (-1..1).
    body_dice : float
        Dice of the body masks (HU > threshold) after registration (0..1).
    translation_mm : tuple of float
        Translation of the found rigid transform (x, y, z), mm.
    rotation_deg : float
        Rotation angle of the found rigid transform, degrees.
    stop_condition : str
        The optimiser's stop condition, as ITK states it.
    start : str
        Initial transform of the accepted optimisation (``identity`` or ``geometry``).
    """

    metric: str
    final_metric_value: float
    ncc: float
    body_dice: float
    translation_mm: tuple[float, float, float]
    rotation_deg: float
    stop_condition: str
    start: str = "identity"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        out = asdict(self)
        out["translation_mm"] = list(self.translation_mm)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegistrationSummary:
        """A summary as :meth:`to_dict` wrote it."""
        x, y, z = (float(v) for v in data["translation_mm"])
        return cls(str(data["metric"]), float(data["final_metric_value"]), float(data["ncc"]),
                   float(data["body_dice"]), (x, y, z), float(data["rotation_deg"]),
                   str(data["stop_condition"]), str(data.get("start", "identity")))


@dataclass(frozen=True)
class PlanarLsf:
    """Lung shunt fraction of the planar views, reported beside the SPECT's.

    Parameters
    ----------
    lsf : float or None
        Geometric-mean LSF, 0-1 (None: not measured; ``error`` says why).
    ncc : float or None
        Normalised cross-correlation of the views' match to the SPECT's projection.
    translation_mm : tuple of float or None
        (column, row) shift of that match, mm.
    error : str or None
        Why there is no planar LSF.
    """

    lsf: float | None
    ncc: float | None
    translation_mm: tuple[float, float] | None
    error: str | None

    method = ("planar geometric mean; lung and liver regions projected from the SPECT, "
              "views matched to it by translation")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanarLsf:
        """A planar LSF as :meth:`to_dict` wrote it."""
        shift = data.get("translation_mm")
        return cls(data.get("lsf"), data.get("ncc"),
                   None if shift is None else (float(shift[0]), float(shift[1])),
                   data.get("error"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"lsf": self.lsf, "method": self.method, "ncc": self.ncc,
                "translation_mm": None if self.translation_mm is None
                else list(self.translation_mm), "error": self.error}


@dataclass(frozen=True)
class DosimetryResult:
    """Image-based dosimetry of one study.

    Parameters
    ----------
    source : str
        What the numbers come from, in words (images, method, scaling).
    dose_method : str
        ``local deposition`` (the only method implemented).
    lsf : float or None
        Lung shunt fraction, 0-1 (None: not measured, e.g. from a Y-90 PET alone).
    lsf_method : str or None
        ``planar geometric mean`` or ``SPECT counts``.
    tn_ratio : float or None
        Tumour-to-normal-liver ratio of activity concentrations.
    administered_gbq : float or None
        Injected activity the dose is scaled to (MAA) or was given (Y-90), GBq.
    regions : tuple of RegionDose
        Dose figures per region.
    constants : DosimetryConstants
        C, density and half-life used.
    registration : RegistrationSummary or None
        Registration of the emission study's CT to the planning CT (None: none needed).
    notes : tuple of str
        Assumptions stated for the reader (e.g. the decay reference time).
    planar : PlanarLsf or None
        The planar views' LSF (None: no planar views).
    """

    source: str
    dose_method: str
    lsf: float | None
    lsf_method: str | None
    tn_ratio: float | None
    administered_gbq: float | None
    regions: tuple[RegionDose, ...]
    constants: DosimetryConstants
    registration: RegistrationSummary | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    planar: PlanarLsf | None = None

    def region(self, name: str) -> RegionDose:
        """The figures of the region called ``name`` (KeyError if absent)."""
        for item in self.regions:
            if item.name == name:
                return item
        raise KeyError(name)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DosimetryResult:
        """A result as :meth:`to_json` wrote it (a re-plan's SR repeats its dose groups).

        The registration figures are read back for the re-plan PDF's dosimetry page.
        """
        constants = dict(data.get("constants") or {})
        constants["overridden"] = tuple(constants.get("overridden") or ())
        fields = {f.name for f in dataclasses.fields(RegionDose)}
        return cls(source=str(data.get("source") or ""),
                   dose_method=str(data.get("dose_method") or ""), lsf=data.get("lsf"),
                   lsf_method=data.get("lsf_method"), tn_ratio=data.get("tn_ratio"),
                   administered_gbq=data.get("administered_gbq"),
                   regions=tuple(RegionDose(**{k: v for k, v in r.items() if k in fields})
                                 for r in data.get("regions") or []),
                   constants=DosimetryConstants(**constants),
                   registration=RegistrationSummary.from_dict(data["registration"])
                   if data.get("registration") else None,
                   notes=tuple(str(n) for n in data.get("notes") or ()),
                   planar=PlanarLsf.from_dict(data["planar"]) if data.get("planar") else None)

    def to_json(self) -> dict[str, Any]:
        """The ``dosimetry`` section of ``result.json``."""
        return {"lsf": self.lsf, "lsf_method": self.lsf_method, "tn_ratio": self.tn_ratio,
                "source": self.source, "dose_method": self.dose_method,
                "administered_gbq": self.administered_gbq,
                "regions": [r.to_dict() for r in self.regions],
                "constants": self.constants.to_dict(),
                "registration": None if self.registration is None
                else self.registration.to_dict(),
                "notes": list(self.notes),
                "planar": None if self.planar is None else self.planar.to_dict()}
