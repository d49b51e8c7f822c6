"""FLR of a learned FLR model (``flr.model`` in ``result.json``), beside the segment rule.

A learned FLR model segments the future liver remnant (and the resected region) as regions
of their own (:data:`pipeline.structures.PLANNING_REGIONS`). Its FLR is taken as the
segment-rule FLR is (:mod:`pipeline.quantify.flr`): the region's volume minus the tumour
inside it; sFLR = FLR / TELV and FLR / body weight with the same functions, TELV and
thresholds. It is compared with the segment-rule FLR of every resection computed; the
planner's planned resection, when given, is the matching one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.quantify.advisory import Flag
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.flr import (
    FLRPlan,
    flr_body_weight_percent,
    percent_of,
    sflr_flags,
    sflr_percent,
)
from pipeline.quantify.inputs import PatientInfo, PlannerInputs
from pipeline.structures import Structure


@dataclass(frozen=True)
class RegionVolumes:
    """What was measured on the model's regions, mL.

    Parameters
    ----------
    remnant_ml : float
        Voxels of the future-liver-remnant region x voxel volume (its SEG segment), mL.
    remnant_tumour_ml : float
        Metastasis voxels of the label map inside that region, mL.
    resected_ml : float or None
        Voxels of the resected region, mL (None: the model has no such region).
    """

    remnant_ml: float
    remnant_tumour_ml: float
    resected_ml: float | None

    @classmethod
    def of(
        cls,
        regions: Mapping[Structure, NDArray[np.bool_]],
        tumour: NDArray[np.bool_],
        voxel_ml: float,
    ) -> RegionVolumes | None:
        """Measure the regions on the CT grid (None without a future-liver-remnant region).

        Parameters
        ----------
        regions : mapping of Structure to ndarray of bool
            The model's region masks (z, y, x).
        tumour : ndarray of bool
            Metastasis mask of the label map, same grid.
        voxel_ml : float
            Volume of one voxel, mL.
        """
        remnant = regions.get(Structure.FUTURE_LIVER_REMNANT)
        if remnant is None:
            return None
        resected = regions.get(Structure.RESECTED_LIVER)
        return cls(
            remnant_ml=float(np.count_nonzero(remnant)) * voxel_ml,
            remnant_tumour_ml=float(np.count_nonzero(remnant & tumour)) * voxel_ml,
            resected_ml=(
                None if resected is None else float(np.count_nonzero(resected)) * voxel_ml
            ),
        )


@dataclass(frozen=True)
class FLRComparison:
    """The model's FLR against one resection's segment-rule FLR.

    Parameters
    ----------
    resection, label : str
        Machine and human-readable name of the resection.
    segment_rule_flr_ml : float
        Its segment-rule FLR, mL.
    difference_ml : float
        Model FLR - segment-rule FLR, mL.
    difference_percent : float or None
        The difference / segment-rule FLR x 100, % (None when that FLR is 0).
    planned : bool
        The planner's planned resection (the matching one).
    """

    resection: str
    label: str
    segment_rule_flr_ml: float
    difference_ml: float
    difference_percent: float | None
    planned: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "resection": self.resection,
            "label": self.label,
            "segment_rule_flr_ml": self.segment_rule_flr_ml,
            "difference_ml": self.difference_ml,
            "difference_percent": self.difference_percent,
            "planned": self.planned,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FLRComparison:
        """Read back :meth:`to_dict`."""
        return cls(
            resection=str(data["resection"]),
            label=str(data.get("label") or ""),
            segment_rule_flr_ml=float(data["segment_rule_flr_ml"]),
            difference_ml=float(data["difference_ml"]),
            difference_percent=data.get("difference_percent"),
            planned=bool(data.get("planned")),
        )


@dataclass(frozen=True)
class ModelFLR:
    """``flr.model``: the learned model's FLR (schema in ``docs/result-json.md``).

    Parameters
    ----------
    model : str
        Name of the model that segmented the regions.
    measured : RegionVolumes
        Region volumes, mL.
    flr_ml : float or None
        Remnant region minus the tumour inside it, mL (None: liver or tumour withheld).
    flr_percent_of_functional_liver : float or None
        FLR / (liver - total tumour volume) x 100, %.
    sflr_percent : float or None
        FLR / TELV x 100, % (the TELV of ``flr.telv_ml``).
    flr_body_weight_percent : float or None
        FLR[mL] / (W[kg] x 1000) x 100, %.
    comparisons : tuple of FLRComparison
        Against each resection with a segment-rule FLR.
    missing : tuple of str
        Inputs that prevented a figure.
    flags : tuple of Flag
        sFLR and FLR/BW advisory flags (same thresholds as the segment rule).
    """

    model: str
    measured: RegionVolumes
    flr_ml: float | None
    flr_percent_of_functional_liver: float | None
    sflr_percent: float | None
    flr_body_weight_percent: float | None
    comparisons: tuple[FLRComparison, ...]
    missing: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()

    @property
    def planned(self) -> FLRComparison | None:
        """The comparison with the planned resection (None: no resection planned)."""
        return next((c for c in self.comparisons if c.planned), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "model": self.model,
            "remnant_region_ml": self.measured.remnant_ml,
            "remnant_tumour_ml": self.measured.remnant_tumour_ml,
            "resected_region_ml": self.measured.resected_ml,
            "flr_ml": self.flr_ml,
            "flr_percent_of_functional_liver": self.flr_percent_of_functional_liver,
            "sflr_percent": self.sflr_percent,
            "flr_body_weight_percent": self.flr_body_weight_percent,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "missing": list(self.missing),
            "flags": [f.to_dict() for f in self.flags],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelFLR:
        """Read back :meth:`to_dict` (an earlier ``result.json``)."""
        return cls(
            model=str(data.get("model") or ""),
            measured=RegionVolumes(
                float(data["remnant_region_ml"]),
                float(data["remnant_tumour_ml"]),
                data.get("resected_region_ml"),
            ),
            flr_ml=data.get("flr_ml"),
            flr_percent_of_functional_liver=data.get("flr_percent_of_functional_liver"),
            sflr_percent=data.get("sflr_percent"),
            flr_body_weight_percent=data.get("flr_body_weight_percent"),
            comparisons=tuple(FLRComparison.from_dict(c) for c in data.get("comparisons") or ()),
            missing=tuple(data.get("missing") or ()),
            flags=tuple(Flag.from_dict(f) for f in data.get("flags") or ()),
        )


def model_flr(
    model: str,
    measured: RegionVolumes,
    plan: FLRPlan,
    patient: PatientInfo,
    planner: PlannerInputs,
    config: QuantificationConfig,
    withheld: bool = False,
) -> ModelFLR:
    """The model's FLR figures and their difference to the segment-rule FLRs.

    Parameters
    ----------
    model : str
        Name of the model that segmented the regions.
    measured : RegionVolumes
        Region volumes, mL.
    plan : FLRPlan
        The segment-rule FLR section (TELV, functional liver, resections).
    patient : PatientInfo
        Usable body size (implausible values removed).
    planner : PlannerInputs
        Merged planner inputs (planned resection, liver condition).
    config : QuantificationConfig
        Thresholds of the advisory flags.
    withheld : bool
        The liver or tumour volume is withheld (coverage, image gates): no FLR.

    Returns
    -------
    ModelFLR
    """
    flr = None if withheld else measured.remnant_ml - measured.remnant_tumour_ml
    sflr = sflr_percent(flr, plan.telv_ml)
    flr_bw = flr_body_weight_percent(flr, patient.weight_kg)
    missing = ["liver or tumour volume (withheld)"] if withheld else []
    if plan.telv_ml is None:
        missing.append("TELV (height and weight)")
    if patient.weight_kg is None:
        missing.append("weight_kg")
    comparisons = tuple(
        FLRComparison(
            resection=r.name,
            label=r.label,
            segment_rule_flr_ml=r.flr_ml,
            difference_ml=flr - r.flr_ml,
            difference_percent=percent_of(flr - r.flr_ml, r.flr_ml),
            planned=r.name == planner.planned_resection,
        )
        for r in plan.resections
        if flr is not None and r.flr_ml is not None
    )
    return ModelFLR(
        model=model,
        measured=measured,
        flr_ml=flr,
        flr_percent_of_functional_liver=percent_of(flr, plan.functional_liver_ml),
        sflr_percent=sflr,
        flr_body_weight_percent=flr_bw,
        comparisons=comparisons,
        missing=tuple(missing),
        flags=tuple(sflr_flags(sflr, flr_bw, config, planner.liver_condition)),
    )
