"""A re-plan's SR repeats the dose groups of the first run, read back from result.json."""

from __future__ import annotations

import json

from pipeline.dosimetry.result import DosimetryResult, RegionDose
from pipeline.dosimetry.sr_content import DoseSource, dosimetry_groups
from pipeline.quantify.config import QuantificationConfig
from pipeline.run.report_content import recorded_dose_groups


def _result(lsf: float | None, scale: float) -> DosimetryResult:
    regions = tuple(
        RegionDose(
            name=n,
            volume_ml=10.0,
            mean_gy=scale * m,
            d50_gy=m,
            d70_gy=0.9 * m,
            d90_gy=0.7 * m,
            d95_gy=0.6 * m,
            v70_percent=55.0,
            v100_percent=40.0,
            v120_percent=20.0,
            v205_percent=1.5,
            max_gy=2 * m,
        )
        for n, m in (("liver", 60.0), ("normal_liver", 45.0), ("lesion_1", 160.0))
    )
    return DosimetryResult(
        source="test images",
        dose_method="local deposition",
        lsf=lsf,
        lsf_method=None if lsf is None else "SPECT counts",
        tn_ratio=3.2,
        administered_gbq=2.0,
        regions=regions,
        constants=QuantificationConfig().constants(),
        notes=("a note",),
    )


def test_groups_round_trip_through_result_json() -> None:
    maa, pet = _result(0.08, 1.0), _result(None, 1.1)
    section = {**maa.to_json(), "error": None, "post_treatment": {**pet.to_json(), "error": None}}
    result = json.loads(json.dumps({"dosimetry": section}))
    assert DosimetryResult.from_json(result["dosimetry"]) == maa
    assert recorded_dose_groups(result) == (
        *dosimetry_groups(maa, DoseSource.MAA_SPECT),
        *dosimetry_groups(pet, DoseSource.Y90_PET),
    )


def test_no_or_failed_dosimetry_gives_no_groups() -> None:
    assert recorded_dose_groups({"dosimetry": None}) == ()
    failed = {
        "lsf": None,
        "regions": [],
        "error": "NoEmissionCTError: ...",
        "post_treatment": {"error": "RegistrationError: ..."},
    }
    assert recorded_dose_groups({"dosimetry": failed}) == ()
