"""Y-90 decay between calibration and administration (docs/clinical-sources.md §3), by hand."""

from __future__ import annotations

import datetime as dt
import json
import math

import pydantic
import pytest

from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.decay import activity_timing
from pipeline.quantify.inputs import Microspheres, PlannerInputs
from pipeline.quantify.sirt import plan_sirt
from pipeline.quantify.volumetry import LiverVolumes

CAL = dt.datetime(2026, 3, 2, 12, 0)
ADMIN = CAL + dt.timedelta(hours=72)


def test_72_hours_is_a_factor_of_2_18() -> None:
    """exp(ln 2 x 72 / 64.1) = exp(0.77857) = 2.1784: a vial calibrated 72 h before treatment
    holds 2.18 times the activity to have left at administration."""
    out = activity_timing(2.0, 0.02, CAL, ADMIN, 64.1).to_dict()
    assert out["hours_calibration_to_administration"] == pytest.approx(72.0)
    assert out["decay_factor"] == pytest.approx(2.1784, abs=1e-4)
    assert out["vial_at_administration_gbq"] == pytest.approx(2.0 / 0.98)
    assert out["vial_at_calibration_gbq"] == pytest.approx(2.0 / 0.98 * 2.1784, rel=1e-4)
    assert out["missing"] == []
    # Calibrated after the administration time: the factor is below one.
    later = activity_timing(2.0, 0.0, ADMIN, CAL, 64.1).to_dict()
    assert later["decay_factor"] == pytest.approx(1 / 2.1784, rel=1e-4)


def test_without_calibration_time_activities_hold_at_administration() -> None:
    out = activity_timing(2.0, 0.02, None, ADMIN, 64.1).to_dict()
    assert out["reference"] == "at administration"
    assert out["vial_at_calibration_gbq"] is None and out["decay_factor"] is None
    assert out["missing"] == []
    no_admin = activity_timing(2.0, 0.02, CAL, None, 64.1).to_dict()
    assert no_admin["missing"] == ["administration_time"]
    no_residual = activity_timing(2.0, None, CAL, ADMIN, 64.1).to_dict()
    assert no_residual["missing"] == ["residual_fraction"]
    assert no_residual["decay_factor"] == pytest.approx(2.1784, abs=1e-4)


def test_glass_vector_4_with_calibration_time_through_the_plan() -> None:
    """Vector 4 (1000 mL, 120 Gy, LSF 5 %, R 1 %, C 50): A_inj 2.602, A_vial 2.628 GBq at
    administration; 72 h after calibration the vial held 2.628 x 2.1784 = 5.725 GBq."""
    vols = LiverVolumes(1000.0, 0.0, {s: 125.0 for s in range(1, 9)},
                        {s: 0.0 for s in range(1, 9)})
    planner = PlannerInputs(lung_shunt_fraction=0.05, territory="whole", target_dose_gy=120,
                            residual_fraction=0.01, microspheres=Microspheres.GLASS,
                            calibration_time=CAL, administration_time=ADMIN)
    cfg = QuantificationConfig(constants_preset="TheraSphere IFU")
    sirt = plan_sirt(vols, None, planner, cfg, 1.0, "config").to_dict()
    act = sirt["methods"]["mird"]["activities"]
    assert act["injected_at_administration_gbq"] == pytest.approx(2.602, rel=0.005)
    assert act["vial_at_administration_gbq"] == pytest.approx(2.628, rel=0.005)
    expected = 120 * 1.03 / (50 * 0.95) / 0.99 * math.exp(math.log(2) * 72 / 64.1)
    assert act["vial_at_calibration_gbq"] == pytest.approx(expected)
    assert act["vial_at_calibration_gbq"] == pytest.approx(5.725, rel=0.005)
    assert act["calibration_time"] == "2026-03-02T12:00:00"
    assert "order" not in json.dumps(sirt).lower()


def test_calibration_and_administration_times_must_be_comparable() -> None:
    with pytest.raises(pydantic.ValidationError):
        PlannerInputs(calibration_time=CAL, administration_time=ADMIN.replace(tzinfo=dt.UTC))
