"""Settings of the quantification stage (volumetry, tumour burden, FLR, SIRT dosimetry)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.quantify.constants import (
    PRESET_SOURCES,
    PRESET_VALUES,
    ConstantsPreset,
    DosimetryConstants,
)
from pipeline.quantify.inputs import PlannerInputs

BsaFormula = Literal["dubois", "mosteller"]
TelvFormula = Literal["vauthey", "urata", "heinemann"]
GateAction = Literal["withhold", "warn"]


class Thresholds(BaseModel):
    """Advisory thresholds (flags only, never a decision); sources in docs/clinical-sources.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sflr_normal_percent: float = Field(default=20.0, description="Minimum sFLR, normal liver, %.")
    sflr_chemotherapy_percent: float = Field(
        default=30.0, description="Minimum sFLR after extensive chemotherapy, %.")
    sflr_cirrhosis_percent: float = Field(default=40.0, description="Minimum sFLR, cirrhosis, %.")
    flr_body_weight_percent: float = Field(
        default=0.5,
        description="FLR / body weight at or below this is at risk (Truant 2007), % "
                    "(FLR mL / (W kg x 1000) x 100).")
    degree_of_hypertrophy_points: float = Field(
        default=5.0, description="Adequate degree of hypertrophy, percentage points of sFLR.")
    kinetic_growth_rate_percent_per_week: float = Field(
        default=2.0, description="KGR below this predicts post-hepatectomy liver failure, %/week.")
    resin_normal_liver_unilobar_gy: float = Field(
        default=40.0,
        description="EANM 2022 resin: normal-liver mean dose limit, unilobar (pretreated or "
                    "not), Gy (stay below).")
    resin_normal_liver_bilobar_gy: float = Field(
        default=40.0,
        description="EANM 2022 resin: normal-liver limit, bilobar, liver not pretreated, Gy.")
    resin_normal_liver_bilobar_pretreated_gy: float = Field(
        default=30.0,
        description="EANM 2022 resin: normal-liver limit, bilobar, liver pretreated or "
                    "compromised, Gy.")
    resin_tumour_gy: float = Field(
        default=100.0, description="EANM 2022 resin: tumour mean dose goal (mCRC), Gy (exceed).")
    resin_segmentectomy_gy: float = Field(
        default=150.0,
        description="EANM 2022 resin: radiation segmentectomy perfused dose goal, Gy (exceed).")
    glass_segmentectomy_gy: float = Field(
        default=400.0,
        description="EANM 2022 glass: radiation segmentectomy perfused dose goal, Gy (exceed).")
    glass_tumour_hcc_gy: float = Field(
        default=205.0, description="EANM 2022 glass: tumour mean dose goal, HCC, Gy (at least).")
    glass_tumour_mcrc_gy: float = Field(
        default=189.0, description="EANM 2022 glass: tumour mean dose goal, mCRC, Gy (at least).")
    glass_whole_normal_liver_gy: float = Field(
        default=75.0,
        description="EANM 2022 glass: whole normal-liver mean dose limit, Gy (stay below; "
                    "derived from unilobar treatments, applied to every territory).")
    glass_whole_normal_liver_high_bilirubin_gy: float = Field(
        default=50.0,
        description="EANM 2022 glass: whole normal-liver limit if bilirubin is high, Gy.")
    glass_whole_normal_liver_seen_gy: float = Field(
        default=90.0,
        description="Highest glass whole normal-liver dose reported as tolerated, Gy (quoted "
                    "in the flag's note only).")
    bilirubin_high_mg_dl: float = Field(
        default=1.1, description="Bilirubin above which the lower glass limit applies, mg/dL.")
    lung_session_gy: float = Field(
        default=30.0,
        description="Lung mean dose limit per session, Gy.")
    lung_cumulative_gy: float = Field(default=50.0, description="Lung cumulative dose limit, Gy.")
    resin_lsf_reduce_20_from: float = Field(
        default=0.10, description="SIR-Spheres IFU: LSF from which the activity is cut by 20 %.")
    resin_lsf_reduce_40_from: float = Field(
        default=0.15, description="SIR-Spheres IFU: LSF from which the activity is cut by 40 %.")
    resin_lsf_do_not_treat_above: float = Field(
        default=0.20, description="SIR-Spheres IFU: LSF above which resin SIRT is not given.")


class QualityGates(BaseModel):
    """Rules that turn numbers into 'not reported' or 'reported with warning'."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    incomplete_coverage_action: GateAction = Field(
        default="withhold",
        description="Structure touching the field of view: 'withhold' its volume and every "
                    "figure derived from it, or 'warn' (reported as a lower bound).")
    thick_slice_mm: float = Field(
        default=5.0, gt=0.0,
        description="Slices thicker than this (mm) put a warning on lesion figures and volumes.")
    low_confidence_action: GateAction = Field(
        default="warn",
        description="Review recommended (low segmentation confidence): 'warn' on every "
                    "segmentation-derived figure or 'withhold' them all.")
    height_range_m: tuple[float, float] = Field(
        default=(1.0, 2.5),
        description="Plausible body height, m; outside it the height is unusable.")
    weight_range_kg: tuple[float, float] = Field(
        default=(25.0, 300.0), description="Plausible body weight, kg; outside it it is unusable.")


class QuantificationConfig(BaseModel):
    """Settings of the quantification stage; an empty configuration is the documented default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    constants_preset: ConstantsPreset = Field(
        default=ConstantsPreset.EANM,
        description="Dosimetry constants preset: EANM (C 49.67 Gy·kg/GBq, 1.03 g/mL), "
                    "'TheraSphere IFU' (50, 1.03) or 'MIRD/AAPM' (49.38, 1.03).")
    energy_gy_kg_per_gbq: float | None = Field(
        default=None, gt=0.0, description="Override of C, Gy·kg/GBq (None: the preset's value).")
    liver_density_g_ml: float | None = Field(
        default=None, gt=0.0, description="Override of the liver density, g/mL (None: preset).")
    half_life_h: float = Field(default=64.1, gt=0.0, description="Y-90 half-life, hours.")
    lung_mass_kg: float = Field(
        default=1.0, gt=0.0, description="Lung mass when not measured on CT, kg.")
    lung_mass_from_ct: bool = Field(
        default=False,
        description="Measure the lung mass on CT (sum of voxel volume x (HU+1000)/1000 g/mL, "
                    "clipped) when a complete lung mask and HU are available.")
    lung_density_max_g_ml: float = Field(
        default=1.1, gt=0.0, description="Upper clip of the CT-derived lung voxel density, g/mL.")
    lesion_connectivity: Literal[6, 18, 26] = Field(
        default=26,
        description="3-D neighbourhood joining tumour voxels into one lesion (6, 18, 26).")
    min_lesion_volume_mm3: float = Field(
        default=10.0, ge=0.0,
        description="Connected tumour components smaller than this (mm³) are not lesions; "
                    "their voxels count as liver, not tumour.")
    liver_contact_mm: float = Field(
        default=3.0, ge=0.0,
        description="A tumour component farther than this from liver parenchyma (mm, but at "
                    "least one voxel diagonal) is extrahepatic: excluded from liver and TTV.")
    measurable_diameter_mm: float = Field(
        default=10.0, gt=0.0,
        description="RECIST 1.1: minimum longest axial diameter of a measurable lesion, mm "
                    "(twice the slice thickness when slices are thicker than 5 mm).")
    lobes: dict[str, list[int]] = Field(
        default_factory=lambda: {"right": [5, 6, 7, 8], "left": [2, 3, 4]},
        description="Lobes for lobar SIRT without a perfusion territory: name -> segments "
                    "(S1 and S4 are also reported on their own).")
    include_caudate_in_flr: bool = Field(
        default=True, description="Count segment 1 in the remnant when it is not resected.")
    custom_resections: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Site resections in addition to the standard five: name -> resected "
                    "Couinaud segments.")
    bsa_formula_sirt: BsaFormula = Field(
        default="dubois",
        description="BSA formula of the resin BSA method (SIR-Spheres convention).")
    bsa_formula_telv: BsaFormula = Field(
        default="mosteller", description="BSA formula fed into the TELV formula.")
    telv_formula: TelvFormula = Field(
        default="vauthey",
        description="Total estimated liver volume: vauthey (-794.41 + 1267.28 BSA), "
                    "urata (706.2 BSA + 2.4) or heinemann (1072.8 BSA - 345.7), mL.")
    thresholds: Thresholds = Field(default_factory=Thresholds,
                                   description="Advisory thresholds.")
    quality: QualityGates = Field(default_factory=QualityGates,
                                  description="Quality-gate rules.")
    planner_defaults: PlannerInputs = Field(
        default_factory=PlannerInputs,
        description="Site defaults for planner inputs (all unknown by default).")

    @field_validator("lobes", "custom_resections")
    @classmethod
    def _segments_valid(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        for name, segs in value.items():
            if not segs or any(s < 1 or s > 8 for s in segs):
                raise ValueError(f"{name!r}: segments must be Couinaud numbers 1-8")
        return value

    @field_validator("lobes")
    @classmethod
    def _lobes_named(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        if not {"right", "left"} <= set(value):
            raise ValueError("lobes must define 'right' and 'left'")
        return value

    def constants(self) -> DosimetryConstants:
        """The dosimetry constants in force: the preset with the overrides applied."""
        energy, density = PRESET_VALUES[self.constants_preset]
        overridden = []
        if self.energy_gy_kg_per_gbq is not None:
            energy = self.energy_gy_kg_per_gbq
            overridden.append("energy_gy_kg_per_gbq")
        if self.liver_density_g_ml is not None:
            density = self.liver_density_g_ml
            overridden.append("liver_density_g_ml")
        return DosimetryConstants(
            preset=self.constants_preset.value,
            energy_gy_kg_per_gbq=energy,
            liver_density_g_ml=density,
            half_life_h=self.half_life_h,
            lung_mass_kg=self.lung_mass_kg,
            lung_density_max_g_ml=self.lung_density_max_g_ml,
            source=PRESET_SOURCES[self.constants_preset],
            overridden=tuple(overridden),
        )
