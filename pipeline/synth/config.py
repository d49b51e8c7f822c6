"""Settings of the synthetic study generator (``dicomnode synth`` defaults)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SynthConfig(BaseModel):
    """Defaults of ``dicomnode synth`` and of demo/test data generation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: Literal["small", "realistic"] = Field(
        default="small",
        description="Study size: 'small' (112x112 pixels of ~3.5 mm, 2.5/5 mm slices over the "
                    "liver, a few seconds) or 'realistic' (512x512, 0.625-1.25/5 mm slices over "
                    "the abdomen, 300-600 slices, a minute or more).")
    seed: int = Field(default=0, ge=0,
                      description="Seed of the phantom and of every random choice of the study "
                                  "(same seed -> identical files and UIDs).")
    exact_volumes: bool = Field(
        default=True,
        description="Compute the exact ground-truth volumes (truth/volumes.json) by adaptive "
                    "0.5 mm sampling (a few CPU seconds).")


class NmSynthConfig(BaseModel):
    """Defaults of ``dicomnode synth --nm ...`` (nuclear-medicine studies of the patient)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kinds: tuple[Literal["maa", "y90pet"], ...] = Field(
        default=(),
        description="NM/PET studies to add: 'maa' (Tc-99m MAA SPECT/CT + planar views) and/or "
                    "'y90pet' (Y-90 PET/CT); empty: none.")
    lsf: float = Field(default=0.08, ge=0.0, lt=1.0,
                       description="Lung shunt fraction of the simulated administration.")
    tn_ratio: float = Field(default=3.0, gt=0.0,
                            description="Tumour-to-normal liver activity concentration ratio.")
    administered_gbq: float = Field(
        default=2.0, gt=0.0,
        description="Y-90 activity reaching the patient (liver + lungs), GBq.")
    territory: Literal["whole", "right", "left"] = Field(
        default="right",
        description="Perfused territory: whole liver (S1-8), right (S5-8) or left (S2-4).")
