"""Settings of the image-based dosimetry stage (``pipeline.dosimetry`` in the configuration)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pipeline.select.nm_series import NmLinkConfig

RTDOSE_FILES = {"maa": "rtdose.dcm", "y90pet": "rtdose-y90pet.dcm"}
"""RT Dose file names in the output folder: MAA prediction, Y-90 PET measurement."""
DVH_FILE = "dosimetry-dvh.png"
"""The cumulative DVH plot in the output folder (not a DICOM output; the dashboard shows it)."""


class DosimetryConfig(BaseModel):
    """When and how the dosimetry of MAA SPECT/CT and Y-90 PET/CT studies runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=True,
        description="Run the dosimetry stage when the study (or a linked one) holds a Tc-99m "
        "MAA SPECT or a Y-90 PET; false: NM/PET series are ignored.",
    )
    link_window_days: float = Field(
        default=30.0,
        gt=0,
        description="Largest time between a planning CT study and an NM/PET study of the same "
        "PatientID for the node to link the planning CT into the NM/PET study's "
        "job, days.",
    )
    pair_window_min: float = Field(
        default=30.0,
        gt=0,
        description="Largest time between an emission series and a CT of the same study "
        "(without a shared FrameOfReferenceUID) for the two to pair, minutes.",
    )
    maa_activity_gbq: float = Field(
        default=2.0,
        gt=0,
        description="Y-90 activity injected (reaching the patient) that the MAA distribution "
        "is scaled to for the predicted dose, GBq; the RT Dose, the dose figures "
        "and the SR name it.",
    )

    def link(self) -> NmLinkConfig:
        """The recognition and link windows as :mod:`pipeline.select.nm_series` takes them."""
        return NmLinkConfig(
            link_window_days=self.link_window_days, pair_window_min=self.pair_window_min
        )
