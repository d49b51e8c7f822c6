"""Tumour burden: lesion counts, total tumour volume and tumour fraction per liver region."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.lesions import Lesion, TumourAnalysis
from pipeline.quantify.volumetry import (
    LEFT_HEMILIVER,
    RIGHT_HEMILIVER,
    LiverVolumes,
    segment_name,
)


def percent(num: float | None, den: float | None) -> float | None:
    """``num / den x 100``; None when either is unknown or ``den`` is not positive."""
    return None if num is None or den is None or den <= 0 else 100.0 * num / den


@dataclass(frozen=True)
class RegionBurden:
    """Volume and tumour of a set of Couinaud segments.

    Parameters
    ----------
    segments : tuple of int
        Couinaud segments of the region.
    volume_ml, tumour_ml : float or None
        Region volume (with its tumour) and the lesion volume in it, mL (None: withheld).
    tumour_fraction_percent : float or None
        tumour / volume x 100, %.
    """

    segments: tuple[int, ...]
    volume_ml: float | None
    tumour_ml: float | None
    tumour_fraction_percent: float | None

    @classmethod
    def of(cls, volumes: LiverVolumes, segments: Iterable[int]) -> RegionBurden:
        """The burden of ``segments`` in the reported volumes."""
        segs = tuple(segments)
        total, tumour = volumes.region(segs)
        return cls(segs, total, tumour, percent(tumour, total))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "segments": list(self.segments),
            "volume_ml": self.volume_ml,
            "tumour_ml": self.tumour_ml,
            "tumour_fraction_percent": self.tumour_fraction_percent,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegionBurden:
        """Read back :meth:`to_dict`."""
        return cls(
            tuple(int(s) for s in data.get("segments") or ()),
            data.get("volume_ml"),
            data.get("tumour_ml"),
            data.get("tumour_fraction_percent"),
        )


@dataclass(frozen=True)
class TumourBurden:
    """The ``tumour_burden`` section (schema in ``docs/quantification.md``).

    Parameters
    ----------
    lesion_count, measurable_lesion_count : int
        Hepatic lesions, and those RECIST 1.1 measurable.
    total_tumour_volume_ml : float or None
        Total tumour volume (TTV), hepatic lesions only, mL.
    tumour_fraction_percent : float or None
        TTV / liver volume x 100, %.
    lesion_connectivity : int
        Voxel connectivity of a lesion (6, 18 or 26).
    min_lesion_volume_mm3 : float
        Smallest lesion, mm³.
    extrahepatic_lesion_count : int
        Lesions outside the liver.
    extrahepatic_lesion_volume_ml : float or None
        Their volume, mL.
    segments, hemilivers, lobes : dict of str to RegionBurden
        Burden per Couinaud segment (``couinaud_N``), hemiliver (``right``, ``left``) and
        configured lobe.
    measurable_threshold_mm : float or None
        Longest-diameter threshold of measurability, mm.
    subthreshold_tumour_ml, extrahepatic_fragment_ml : float or None
        Hepatic and extrahepatic tumour components below the minimum lesion size, mL.
    """

    lesion_count: int
    measurable_lesion_count: int
    total_tumour_volume_ml: float | None
    tumour_fraction_percent: float | None
    lesion_connectivity: int
    min_lesion_volume_mm3: float
    extrahepatic_lesion_count: int
    extrahepatic_lesion_volume_ml: float | None
    segments: dict[str, RegionBurden]
    hemilivers: dict[str, RegionBurden]
    lobes: dict[str, RegionBurden]
    measurable_threshold_mm: float | None = None
    subthreshold_tumour_ml: float | None = None
    extrahepatic_fragment_ml: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the last three keys only when the tumour was analysed)."""
        out: dict[str, Any] = {
            "lesion_count": self.lesion_count,
            "measurable_lesion_count": self.measurable_lesion_count,
            "total_tumour_volume_ml": self.total_tumour_volume_ml,
            "tumour_fraction_percent": self.tumour_fraction_percent,
            "lesion_connectivity": self.lesion_connectivity,
            "min_lesion_volume_mm3": self.min_lesion_volume_mm3,
            "extrahepatic_lesion_count": self.extrahepatic_lesion_count,
            "extrahepatic_lesion_volume_ml": self.extrahepatic_lesion_volume_ml,
            "segments": {k: r.to_dict() for k, r in self.segments.items()},
            "hemilivers": {k: r.to_dict() for k, r in self.hemilivers.items()},
            "lobes": {k: r.to_dict() for k, r in self.lobes.items()},
        }
        if self.measurable_threshold_mm is not None:
            out["measurable_threshold_mm"] = self.measurable_threshold_mm
            out["subthreshold_tumour_ml"] = self.subthreshold_tumour_ml
            out["extrahepatic_fragment_ml"] = self.extrahepatic_fragment_ml
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TumourBurden:
        """Read back :meth:`to_dict` (an earlier ``result.json``)."""

        def regions(key: str) -> dict[str, RegionBurden]:
            return {k: RegionBurden.from_dict(v) for k, v in (data.get(key) or {}).items()}

        return cls(
            lesion_count=int(data.get("lesion_count") or 0),
            measurable_lesion_count=int(data.get("measurable_lesion_count") or 0),
            total_tumour_volume_ml=data.get("total_tumour_volume_ml"),
            tumour_fraction_percent=data.get("tumour_fraction_percent"),
            lesion_connectivity=int(data.get("lesion_connectivity") or 26),
            min_lesion_volume_mm3=float(data.get("min_lesion_volume_mm3") or 0.0),
            extrahepatic_lesion_count=int(data.get("extrahepatic_lesion_count") or 0),
            extrahepatic_lesion_volume_ml=data.get("extrahepatic_lesion_volume_ml"),
            segments=regions("segments"),
            hemilivers=regions("hemilivers"),
            lobes=regions("lobes"),
            measurable_threshold_mm=data.get("measurable_threshold_mm"),
            subthreshold_tumour_ml=data.get("subthreshold_tumour_ml"),
            extrahepatic_fragment_ml=data.get("extrahepatic_fragment_ml"),
        )


def tumour_burden(
    volumes: LiverVolumes, tumour: TumourAnalysis, config: QuantificationConfig
) -> TumourBurden:
    """Counts, TTV and per-region burden of the reported (gated) volumes and lesions.

    Parameters
    ----------
    volumes : LiverVolumes
        Reported volumes (None where withheld).
    tumour : TumourAnalysis
        The located lesions (figures withheld where a gate withholds the tumour).
    config : QuantificationConfig
        Lesion definition and lobes.

    Returns
    -------
    TumourBurden
        The ``tumour_burden`` section.
    """
    hepatic = [les for les in tumour.lesions if les.hepatic]
    extra: Sequence[Lesion] = [les for les in tumour.lesions if not les.hepatic]
    return TumourBurden(
        lesion_count=len(hepatic),
        measurable_lesion_count=sum(1 for les in hepatic if les.measurable and not les.withheld),
        total_tumour_volume_ml=volumes.tumour_ml,
        tumour_fraction_percent=percent(volumes.tumour_ml, volumes.liver_ml),
        lesion_connectivity=config.lesion_connectivity,
        min_lesion_volume_mm3=config.min_lesion_volume_mm3,
        extrahepatic_lesion_count=len(extra),
        extrahepatic_lesion_volume_ml=(
            None
            if any(les.withheld for les in extra)
            else float(sum(les.volume_ml for les in extra))
        ),
        segments={segment_name(s): RegionBurden.of(volumes, [s]) for s in volumes.segment_total_ml},
        hemilivers={
            "right": RegionBurden.of(volumes, RIGHT_HEMILIVER),
            "left": RegionBurden.of(volumes, LEFT_HEMILIVER),
        },
        lobes={name: RegionBurden.of(volumes, segs) for name, segs in config.lobes.items()},
        measurable_threshold_mm=tumour.measurable_threshold_mm,
        subthreshold_tumour_ml=tumour.fragment_ml,
        extrahepatic_fragment_ml=tumour.extrahepatic_fragment_ml,
    )
