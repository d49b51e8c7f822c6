"""The SIRT plan as typed results: territory, each method's activity, implied doses, flags.

:mod:`pipeline.quantify.sirt` computes these; ``to_dict()`` gives the ``sirt`` section of the
result document (``docs/quantification.md``) and ``from_dict()`` reads an earlier one back.
A method that lacks an input lists it under ``missing`` and has no activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.quantify import dosimetry as dm
from pipeline.quantify.advisory import Flag
from pipeline.quantify.decay import ActivityTiming
from pipeline.quantify.inputs import Territory

IFU = "SIR-Spheres IFU lung-shunt rule"
LUNG_MASS_SOURCES = {"ct": "measured on CT", "config": "site default (configured)"}
"""Where the lung mass used came from, in words."""


@dataclass(frozen=True)
class Target:
    """Volumes of the treated territory.

    Parameters
    ----------
    territory : Territory
        The planned territory.
    segments : tuple of int
        Couinaud segments treated (all eight for the whole liver).
    volume_ml, tumour_ml : float or None
        Territory volume including its tumour, and the tumour in it, mL.
    bilobar : bool
        The territory has segments of both lobes (the whole liver always).
    whole_normal_ml : float or None
        Non-tumoral volume of the whole liver, mL (for the glass whole-normal-liver dose).
    """

    territory: Territory
    segments: tuple[int, ...]
    volume_ml: float | None
    tumour_ml: float | None
    bilobar: bool = True
    whole_normal_ml: float | None = None

    @property
    def normal_ml(self) -> float | None:
        """Non-tumour volume of the territory, mL."""
        if self.volume_ml is None or self.tumour_ml is None:
            return None
        return self.volume_ml - self.tumour_ml

    def to_dict(self, density: float) -> dict[str, Any]:
        """JSON-ready mapping with masses (kg) at ``density`` (g/mL)."""

        def kg(v: float | None) -> float | None:
            return None if v is None else dm.mass_kg(v, density)

        return {
            "territory": str(self.territory),
            "segments": list(self.segments),
            "volume_ml": self.volume_ml,
            "tumour_ml": self.tumour_ml,
            "normal_ml": self.normal_ml,
            "mass_kg": kg(self.volume_ml),
            "tumour_mass_kg": kg(self.tumour_ml),
            "normal_mass_kg": kg(self.normal_ml),
            "bilobar": self.bilobar,
            "whole_normal_liver_ml": self.whole_normal_ml,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        """Read back :meth:`to_dict`."""
        return cls(
            Territory.parse(str(data["territory"])),
            tuple(int(s) for s in data.get("segments") or ()),
            data.get("volume_ml"),
            data.get("tumour_ml"),
            bool(data.get("bilobar", True)),
            data.get("whole_normal_liver_ml"),
        )


@dataclass(frozen=True)
class ImpliedDoses:
    """Mean absorbed doses implied by an injected activity, Gy (None: not computable)."""

    target_mean_gy: float
    normal_liver_gy: float | None
    whole_normal_liver_gy: float | None
    tumour_gy: float | None
    lung_gy: float
    lung_cumulative_gy: float | None

    def dose(self, key: str) -> float | None:
        """The dose named by a field name (``pipeline.quantify.limits`` dose keys)."""
        value: float | None = self.to_dict()[key]
        return value

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready mapping."""
        return {
            "target_mean_gy": self.target_mean_gy,
            "normal_liver_gy": self.normal_liver_gy,
            "whole_normal_liver_gy": self.whole_normal_liver_gy,
            "tumour_gy": self.tumour_gy,
            "lung_gy": self.lung_gy,
            "lung_cumulative_gy": self.lung_cumulative_gy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImpliedDoses:
        """Read back :meth:`to_dict`."""
        return cls(
            float(data["target_mean_gy"]),
            data.get("normal_liver_gy"),
            data.get("whole_normal_liver_gy"),
            data.get("tumour_gy"),
            float(data["lung_gy"]),
            data.get("lung_cumulative_gy"),
        )


@dataclass(frozen=True)
class Prescription:
    """The activity a method prescribes, when and what doses it implies, and their flags.

    Parameters
    ----------
    activities : ActivityTiming or None
        The activities with their reference times (None: no activity computed).
    implied_doses : ImpliedDoses or None
        Mean doses implied by the injected activity.
    flags : tuple of Flag
        EANM 2022 advisory dose flags.
    """

    activities: ActivityTiming | None = None
    implied_doses: ImpliedDoses | None = None
    flags: tuple[Flag, ...] = ()

    @property
    def injected_activity_gbq(self) -> float | None:
        """Activity to inject, at administration, GBq."""
        return None if self.activities is None else self.activities.injected_at_administration_gbq

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (every key null without an activity)."""
        act = self.activities
        return {
            "injected_activity_gbq": self.injected_activity_gbq,
            "vial_activity_gbq": None if act is None else act.vial_at_administration_gbq,
            "activities": None if act is None else act.to_dict(),
            "implied_doses": None if self.implied_doses is None else self.implied_doses.to_dict(),
            "flags": [f.to_dict() for f in self.flags],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prescription:
        """Read back :meth:`to_dict`."""
        act, doses = data.get("activities"), data.get("implied_doses")
        return cls(
            None if act is None else ActivityTiming.from_dict(act),
            None if doses is None else ImpliedDoses.from_dict(doses),
            tuple(Flag.from_dict(f) for f in data.get("flags") or ()),
        )


@dataclass(frozen=True, kw_only=True)
class MethodPlan:
    """One activity-planning method: applicability, missing inputs and its prescription.

    Parameters
    ----------
    applicable : bool
        The method applies to the microspheres and territory.
    missing : tuple of str
        Inputs it lacks (no activity then).
    note : str or None
        Why the method does not apply.
    prescription : Prescription or None
        The activity and its doses (None when not applicable; empty when inputs lack).
    """

    METHOD: ClassVar[str]
    FORMULA: ClassVar[str]

    applicable: bool = True
    missing: tuple[str, ...] = ()
    note: str | None = None
    prescription: Prescription | None = None

    @property
    def injected_activity_gbq(self) -> float | None:
        """Activity to inject, at administration, GBq (None: not computed)."""
        return None if self.prescription is None else self.prescription.injected_activity_gbq

    @property
    def activities(self) -> ActivityTiming | None:
        """The activities with their reference times (None: not computed)."""
        return None if self.prescription is None else self.prescription.activities

    @property
    def implied_doses(self) -> ImpliedDoses | None:
        """Mean doses implied by the activity (None: not computed)."""
        return None if self.prescription is None else self.prescription.implied_doses

    @property
    def flags(self) -> tuple[Flag, ...]:
        """Advisory dose flags."""
        return () if self.prescription is None else self.prescription.flags

    def details(self) -> dict[str, Any]:
        """The method's own figures (JSON-ready)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (schema in ``docs/quantification.md``)."""
        out: dict[str, Any] = {
            "method": self.METHOD,
            "formula": self.FORMULA,
            "applicable": self.applicable,
            "missing": list(self.missing),
            **self.details(),
        }
        if self.note is not None:
            out["note"] = self.note
        if self.prescription is not None:
            out.update(self.prescription.to_dict())
        return out

    @staticmethod
    def common(data: Mapping[str, Any]) -> dict[str, Any]:
        """The fields every method shares, read back from a ``to_dict()`` mapping."""
        return {
            "applicable": bool(data.get("applicable", True)),
            "missing": tuple(data.get("missing") or ()),
            "note": data.get("note"),
            "prescription": Prescription.from_dict(data)
            if "injected_activity_gbq" in data
            else None,
        }


@dataclass(frozen=True)
class LungShuntRule:
    """The resin BSA method's activity before and after the lung-shunt rule.

    Parameters
    ----------
    bsa_m2 : float
        Body surface area used, m².
    activity_before_gbq : float
        BSA-method activity before the lung-shunt reduction, GBq.
    reduction : float or None
        Fraction removed by the rule (None: do not treat).
    """

    bsa_m2: float
    activity_before_gbq: float
    reduction: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "bsa_m2": self.bsa_m2,
            "activity_before_lung_shunt_rule_gbq": self.activity_before_gbq,
            "lung_shunt_reduction": self.reduction,
            "do_not_treat": self.reduction is None,
            "lung_shunt_rule_source": IFU,
        }


@dataclass(frozen=True, kw_only=True)
class BSAMethod(MethodPlan):
    """Resin BSA method with the SIR-Spheres lung-shunt rule."""

    METHOD: ClassVar[str] = "bsa"
    FORMULA: ClassVar[str] = (
        "A = ((BSA - 0.2) + V_tumour/V_liver) x V_target/V_liver, "
        "then the resin lung-shunt reduction"
    )

    lung_shunt_rule: LungShuntRule | None = None

    @property
    def do_not_treat(self) -> bool:
        """The lung-shunt fraction is above the resin rule's limit."""
        return self.lung_shunt_rule is not None and self.lung_shunt_rule.reduction is None

    def details(self) -> dict[str, Any]:
        """The lung-shunt rule's figures, when computed."""
        return {} if self.lung_shunt_rule is None else self.lung_shunt_rule.to_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BSAMethod:
        """Read back :meth:`to_dict`."""
        rule = (
            LungShuntRule(
                float(data["bsa_m2"]),
                float(data["activity_before_lung_shunt_rule_gbq"]),
                data.get("lung_shunt_reduction"),
            )
            if "activity_before_lung_shunt_rule_gbq" in data
            else None
        )
        return cls(lung_shunt_rule=rule, **cls.common(data))


@dataclass(frozen=True, kw_only=True)
class MIRDMethod(MethodPlan):
    """Single-compartment MIRD: activity for a target mean dose to the territory.

    Parameters
    ----------
    target_dose_gy : float or None
        Prescribed mean dose to the territory, Gy.
    """

    METHOD: ClassVar[str] = "mird"
    FORMULA: ClassVar[str] = "A_inj = D x M / (C x (1 - LSF)); A_vial = A_inj / (1 - R)"

    target_dose_gy: float | None = None

    def details(self) -> dict[str, Any]:
        """The prescribed dose."""
        return {"target_dose_gy": self.target_dose_gy}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MIRDMethod:
        """Read back :meth:`to_dict`."""
        return cls(target_dose_gy=data.get("target_dose_gy"), **cls.common(data))


@dataclass(frozen=True)
class NormalLiverLimit:
    """The normal-liver dose limit of a partition prescription and where it comes from.

    Parameters
    ----------
    limit_gy : float or None
        The limit, Gy (None: it depends on an unknown input).
    basis : str
        The rule or the planner, in words.
    """

    limit_gy: float | None
    basis: str


@dataclass(frozen=True)
class PartitionCaps:
    """The activities the partition model's limits allow and the tumour dose goal.

    Parameters
    ----------
    normal_cap_activity_gbq : float
        Activity at the normal-liver limit, GBq.
    lung_cap_activity_gbq : float or None
        Activity at the lung limit, GBq (None: no lung limit applies).
    limited_by : str
        ``normal_liver`` or ``lung``.
    tumour_target_dose_gy : float or None
        Tumour dose goal, Gy.
    activity_for_tumour_target_gbq : float or None
        Activity reaching the goal, GBq.
    tumour_target_reached : bool or None
        The prescribed activity reaches the goal.
    """

    normal_cap_activity_gbq: float
    lung_cap_activity_gbq: float | None
    limited_by: str
    tumour_target_dose_gy: float | None
    activity_for_tumour_target_gbq: float | None
    tumour_target_reached: bool | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "normal_cap_activity_gbq": self.normal_cap_activity_gbq,
            "lung_cap_activity_gbq": self.lung_cap_activity_gbq,
            "limited_by": self.limited_by,
            "tumour_target_dose_gy": self.tumour_target_dose_gy,
            "activity_for_tumour_target_gbq": self.activity_for_tumour_target_gbq,
            "tumour_target_reached": self.tumour_target_reached,
        }


@dataclass(frozen=True, kw_only=True)
class PartitionMethod(MethodPlan):
    """Partition model: the smaller of the normal-liver cap and the lung cap.

    Parameters
    ----------
    tumour_to_normal_ratio : float or None
        T/N used.
    normal_limit : NormalLiverLimit or None
        The normal-liver limit (None: the method does not apply).
    caps : PartitionCaps or None
        The capped activities (None: not computed).
    """

    METHOD: ClassVar[str] = "partition"
    FORMULA: ClassVar[str] = "D_N = C x A_inj (1 - LSF) / (T/N x M_T + M_N); D_T = T/N x D_N"

    tumour_to_normal_ratio: float | None = None
    normal_limit: NormalLiverLimit | None = None
    caps: PartitionCaps | None = None

    def details(self) -> dict[str, Any]:
        """T/N, the normal-liver limit and the caps, as far as computed."""
        out: dict[str, Any] = {"tumour_to_normal_ratio": self.tumour_to_normal_ratio}
        if self.normal_limit is not None:
            out.update(
                normal_liver_dose_limit_gy=self.normal_limit.limit_gy,
                normal_liver_limit_basis=self.normal_limit.basis,
            )
        if self.caps is not None:
            out.update(self.caps.to_dict())
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartitionMethod:
        """Read back :meth:`to_dict`."""
        limit = (
            NormalLiverLimit(
                data.get("normal_liver_dose_limit_gy"),
                str(data.get("normal_liver_limit_basis") or ""),
            )
            if "normal_liver_limit_basis" in data
            else None
        )
        caps = (
            PartitionCaps(
                float(data["normal_cap_activity_gbq"]),
                data.get("lung_cap_activity_gbq"),
                str(data["limited_by"]),
                data.get("tumour_target_dose_gy"),
                data.get("activity_for_tumour_target_gbq"),
                data.get("tumour_target_reached"),
            )
            if "normal_cap_activity_gbq" in data
            else None
        )
        return cls(
            tumour_to_normal_ratio=data.get("tumour_to_normal_ratio"),
            normal_limit=limit,
            caps=caps,
            **cls.common(data),
        )


_METHODS: dict[str, type[BSAMethod] | type[MIRDMethod] | type[PartitionMethod]] = {
    "bsa": BSAMethod,
    "mird": MIRDMethod,
    "partition": PartitionMethod,
}
CONVENTION = {"resin": "bsa", "glass": "mird"}
"""Microsphere type -> the method its device's instructions use."""


@dataclass(frozen=True)
class LungMass:
    """The lung mass a plan used.

    Parameters
    ----------
    kg : float
        Lung mass, kg.
    source : str
        ``ct`` (measured) or ``config`` (site default).
    """

    kg: float
    source: str

    @property
    def label(self) -> str:
        """The source in words."""
        return LUNG_MASS_SOURCES.get(self.source, self.source)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"kg": self.kg, "source": self.source, "label": self.label}


@dataclass(frozen=True)
class SIRTPlan:
    """The ``sirt`` section: every method with its inputs, results, flags and missing inputs.

    Parameters
    ----------
    microspheres : str or None
        ``resin`` or ``glass``.
    lung_shunt_fraction : float or None
        LSF, fraction.
    target : Target or None
        The treated territory (None: not given).
    lung_mass : LungMass
        The lung mass used.
    methods : dict of str to MethodPlan
        ``bsa``, ``mird`` and ``partition``.
    bsa_formula : str
        The BSA formula of the BSA method, in words.
    liver_density_g_ml : float
        Density for the territory masses, g/mL.
    """

    microspheres: str | None
    lung_shunt_fraction: float | None
    target: Target | None
    lung_mass: LungMass
    methods: dict[str, MethodPlan]
    bsa_formula: str
    liver_density_g_ml: float

    @property
    def computed_methods(self) -> list[str]:
        """Methods that computed an activity."""
        return [name for name, m in self.methods.items() if m.injected_activity_gbq is not None]

    @property
    def device_convention_method(self) -> str | None:
        """The method of the microspheres' instructions for use (None: type unknown)."""
        return None if self.microspheres is None else CONVENTION[self.microspheres]

    @property
    def missing(self) -> list[str]:
        """Every input some method lacks, sorted."""
        return sorted(
            {
                name
                for m in self.methods.values()
                for name in (*m.missing, *(m.activities.missing if m.activities else ()))
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (schema in ``docs/quantification.md``)."""
        return {
            "status": "computed" if self.computed_methods else "not_computed",
            "computed_methods": self.computed_methods,
            "device_convention_method": self.device_convention_method,
            "microspheres": self.microspheres,
            "lung_shunt_fraction": self.lung_shunt_fraction,
            "target": None if self.target is None else self.target.to_dict(self.liver_density_g_ml),
            "lung_mass": self.lung_mass.to_dict(),
            "missing": self.missing,
            "methods": {k: m.to_dict() for k, m in self.methods.items()},
            "bsa_formula": self.bsa_formula,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], liver_density_g_ml: float) -> SIRTPlan:
        """Read back :meth:`to_dict` (``liver_density_g_ml`` from the result's constants)."""
        target, lung = data.get("target"), data.get("lung_mass") or {}
        return cls(
            microspheres=data.get("microspheres"),
            lung_shunt_fraction=data.get("lung_shunt_fraction"),
            target=None if target is None else Target.from_dict(target),
            lung_mass=LungMass(float(lung.get("kg") or 0.0), str(lung.get("source") or "")),
            methods={
                k: _METHODS[k].from_dict(m)
                for k, m in (data.get("methods") or {}).items()
                if k in _METHODS
            },
            bsa_formula=str(data.get("bsa_formula") or ""),
            liver_density_g_ml=liver_density_g_ml,
        )
