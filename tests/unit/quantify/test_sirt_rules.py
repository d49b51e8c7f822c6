"""EANM 2022 limit selection, flags and territories of the SIRT plan."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import (
    Microspheres,
    PatientInfo,
    PlannerInputs,
    QualityContext,
    Territory,
)
from pipeline.quantify.quantify import quantify
from pipeline.quantify.sirt import plan_sirt, resolve_target
from pipeline.quantify.volumetry import LiverVolumes
from pipeline.structures import Structure

CONFIG = QuantificationConfig()
VOLS = LiverVolumes(1600.0, 100.0, {s: 200.0 for s in range(1, 9)},
                    {s: (100.0 if s == 2 else 0.0) for s in range(1, 9)})


def test_bilobar_territories() -> None:
    def bilobar(text: str) -> bool:
        return resolve_target(Territory.parse(text), VOLS, CONFIG).bilobar
    assert bilobar("whole") and bilobar("segments:4,5")
    assert not bilobar("right") and not bilobar("left") and not bilobar("segments:2,3")
    assert not bilobar("segments:1,6")  # S1 belongs to neither configured lobe


def test_territory_parsing() -> None:
    assert Territory.parse(" Segments:3,2,3 ") == Territory("segments", (2, 3))
    assert str(Territory.parse("segments:2,3")) == "segments:2,3"
    for bad in ("segments:", "segments:0", "segments:a", "lobe"):
        with pytest.raises(ValueError):
            Territory.parse(bad)


def test_glass_segmentectomy_flag_and_partition_lung_cap() -> None:
    vols = LiverVolumes(1600.0, 100.0, {s: 200.0 for s in range(1, 9)},
                        {s: (100.0 if s == 2 else 0.0) for s in range(1, 9)})
    planner = PlannerInputs(lung_shunt_fraction=0.15, territory="segments:2",
                            microspheres=Microspheres.GLASS, target_dose_gy=450,
                            tumour_to_normal_ratio=4, normal_liver_dose_limit_gy=400,
                            prior_lung_dose_gy=40)
    sirt = plan_sirt(vols, None, planner, QuantificationConfig(), 1.0, "config").to_dict()
    mird = sirt["methods"]["mird"]
    flags = {f["code"]: f for f in mird["flags"]}
    assert flags["SEGMENTECTOMY_DOSE"]["status"] == "met"
    assert flags["SEGMENTECTOMY_DOSE"]["value"] == pytest.approx(450.0)
    assert flags["LUNG_DOSE_CUMULATIVE"]["value"] == pytest.approx(
        40 + mird["implied_doses"]["lung_gy"])
    part = sirt["methods"]["partition"]
    # 10 Gy of lung dose remain of 50 Gy cumulative: the lung caps the activity.
    assert part["limited_by"] == "lung"
    assert part["implied_doses"]["lung_gy"] == pytest.approx(10.0)


def test_partition_not_applicable_without_tumour_in_territory() -> None:
    vols = LiverVolumes(800.0, 0.0, {s: 100.0 for s in range(1, 9)},
                        {s: 0.0 for s in range(1, 9)})
    planner = PlannerInputs(lung_shunt_fraction=0.05, territory="left",
                            tumour_to_normal_ratio=3)
    part = plan_sirt(vols, None, planner, QuantificationConfig(), 1.0, "config").to_dict()
    assert part["methods"]["partition"]["applicable"] is False


def test_explicit_liver_label_without_segments() -> None:
    lm = np.zeros((8, 20, 20), np.uint8)
    lm[1:7, 2:18, 2:18] = 1
    lm[3:5, 8:12, 8:12] = 2
    labels = {1: Structure.LIVER, 2: Structure.METASTASIS}
    planner = PlannerInputs(lung_shunt_fraction=0.05, target_dose_gy=100, territory="whole")
    doc = quantify(lm, labels, (2.0, 1.0, 1.0), PatientInfo(), planner,
                   QualityContext(slice_thickness_mm=2.0), QuantificationConfig()).to_dict()
    assert doc["volumes_ml"]["liver"] == pytest.approx(6 * 16 * 16 * 2 / 1000)
    assert doc["lesions"][0]["segment"] == 0
    assert doc["volumes_ml"]["right_hemiliver"] is None
    assert doc["tumour_burden"]["segments"] == {}
    row = doc["flr"]["resections"][0]
    assert row["flr_ml"] is None and "Couinaud segments (not segmented)" in row["missing"]
    assert doc["sirt"]["methods"]["mird"]["injected_activity_gbq"] is not None
    right = quantify(lm, labels, (2.0, 1.0, 1.0), PatientInfo(),
                     planner.model_copy(update={"territory": "right"}),
                     QualityContext(slice_thickness_mm=2.0), QuantificationConfig()).to_dict()
    assert right["sirt"]["methods"]["mird"]["injected_activity_gbq"] is None
    assert "territory volume (withheld or not segmented)" in right["sirt"]["missing"]
