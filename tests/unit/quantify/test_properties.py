"""Hypothesis properties: additivity, linearity and invariance to the voxel grid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.quantify import dosimetry as dm
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.quantify import quantify
from pipeline.quantify.sirt import plan_sirt
from pipeline.quantify.volumetry import LiverVolumes
from pipeline.structures import DEMO_LABELS

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def label_maps(draw: st.DrawFn) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A liver box of random segment labels with tumour boxes and vessel voxels inside."""
    shape = (draw(st.integers(6, 9)), draw(st.integers(10, 16)), draw(st.integers(10, 16)))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    lm = np.zeros(shape, np.uint8)
    inner = tuple(slice(1, n - 1) for n in shape)
    blocks = rng.integers(1, 9, size=(2, 2, 2))
    core = lm[inner]
    idx = np.indices(core.shape)
    core[...] = blocks[tuple((idx[a] * 2) // core.shape[a] for a in range(3))]
    for _ in range(draw(st.integers(0, 3))):
        z0, y0, x0 = (int(rng.integers(1, n - 3)) for n in shape)
        dz, dy, dx = (int(v) for v in rng.integers(1, 4, size=3))
        lm[z0:z0 + dz, y0:y0 + dy, x0:x0 + dx] = 9
    vessel = rng.random(shape) < 0.02
    lm[vessel & (lm > 0)] = 10
    spacing = (draw(st.sampled_from([1.0, 2.5, 5.0])), draw(st.floats(0.5, 1.0)),
               draw(st.floats(0.5, 1.0)))
    return lm, spacing


def _doc(lm: np.ndarray, spacing: tuple[float, float, float]) -> dict:
    cfg = QuantificationConfig(min_lesion_volume_mm3=0.0)
    return quantify(lm, DEMO_LABELS, spacing, PatientInfo(), PlannerInputs(),
                    QualityContext(slice_thickness_mm=spacing[0]), cfg).to_dict()


@SETTINGS
@given(case=label_maps())
def test_segments_sum_to_liver_and_lesions_to_ttv(case: tuple) -> None:
    lm, spacing = case
    doc = _doc(lm, spacing)
    vols, tb = doc["volumes_ml"], doc["tumour_burden"]
    assert vols["liver"] is not None  # the generator keeps every structure off the edges
    seg_total = sum(s["volume_ml"] for s in tb["segments"].values())
    assert seg_total == pytest.approx(vols["liver"], rel=1e-9)
    hepatic = [les["volume_ml"] for les in doc["lesions"] if les["hepatic"]]
    assert sum(hepatic) == pytest.approx(tb["total_tumour_volume_ml"], rel=1e-9, abs=1e-12)
    seg_tumour = sum(s["tumour_ml"] for s in tb["segments"].values())
    assert seg_tumour == pytest.approx(tb["total_tumour_volume_ml"], rel=1e-9, abs=1e-12)
    parenchyma = sum(vols[f"couinaud_{k}"] for k in range(1, 9))
    assert parenchyma + tb["total_tumour_volume_ml"] == pytest.approx(vols["liver"], rel=1e-9)


@SETTINGS
@given(case=label_maps(), factors=st.tuples(st.integers(1, 2), st.integers(1, 3),
                                            st.integers(1, 3)))
def test_volumes_invariant_to_integer_upsampling(case: tuple, factors: tuple) -> None:
    lm, spacing = case
    fine = lm
    for axis, f in enumerate(factors):
        fine = np.repeat(fine, f, axis=axis)
    fine_spacing = (spacing[0] / factors[0], spacing[1] / factors[1], spacing[2] / factors[2])
    coarse_doc, fine_doc = _doc(lm, spacing), _doc(fine, fine_spacing)
    for name in ("liver", "liver_without_tumour", "metastasis", "portal_vein",
                 *(f"couinaud_{k}" for k in range(1, 9))):
        assert fine_doc["volumes_ml"][name] == pytest.approx(coarse_doc["volumes_ml"][name],
                                                             rel=1e-9, abs=1e-12)
    assert sorted(les["volume_ml"] for les in fine_doc["lesions"]) == pytest.approx(
        sorted(les["volume_ml"] for les in coarse_doc["lesions"]), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(dose=st.floats(10, 500), k=st.floats(0.1, 10), volume=st.floats(100, 3000),
       lsf=st.floats(0, 0.3), tn=st.floats(0.5, 10), tumour_share=st.floats(0.01, 0.9))
def test_activities_scale_linearly_with_dose(dose: float, k: float, volume: float, lsf: float,
                                             tn: float, tumour_share: float) -> None:
    m = dm.mass_kg(volume, 1.03)
    assert dm.mird_activity_gbq(k * dose, m, 49.67, lsf) == pytest.approx(
        k * dm.mird_activity_gbq(dose, m, 49.67, lsf), rel=1e-9)
    mt, mn = m * tumour_share, m * (1 - tumour_share)
    assert dm.partition_activity_for_tumour_dose_gbq(k * dose, tn, mt, mn, 49.67, lsf) == (
        pytest.approx(k * dm.partition_activity_for_tumour_dose_gbq(dose, tn, mt, mn, 49.67,
                                                                    lsf), rel=1e-9))
    seg = volume / 8
    vols = LiverVolumes(volume, 0.0, {s: seg for s in range(1, 9)}, {s: 0.0 for s in range(1, 9)})
    plans = [plan_sirt(vols, None, PlannerInputs(lung_shunt_fraction=lsf, territory="whole",
                                                 target_dose_gy=d), QuantificationConfig(),
                       1.0, "config").to_dict()["methods"]["mird"] for d in (dose, k * dose)]
    assert plans[1]["injected_activity_gbq"] == pytest.approx(
        k * plans[0]["injected_activity_gbq"], rel=1e-9)
    assert plans[1]["implied_doses"]["target_mean_gy"] == pytest.approx(k * dose, rel=1e-9)
