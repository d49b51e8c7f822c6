"""End to end against `dicomnode synth OUT --nm maa,y90pet`: series recognised, images read,
CT registered, doses compared with ``truth/dosimetry.json`` (exact activity model).

Figures when written (seed 0, small profile; truth in brackets): MAA LSF 0.085 (0.08), T/N
2.62 (3.0; SPECT blur and partial volume of 4.4 mm voxels); PET T/N 3.08; liver mean
43.8 / 41.0 Gy (43.9); normal liver 36.0 / 33.4 Gy (34.7); lesion 1 201 / 193 Gy (223);
registration within 0.4 mm of the recorded misregistration.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813
from typer.testing import CliRunner

from dicomnode.cli import app
from pipeline.dosimetry.study import StudyDose, maa_study, y90_pet_study
from pipeline.quantify.config import QuantificationConfig
from pipeline.select.nm_series import NmSeriesSet, recognise_nm_series
from pipeline.select.volume import build_volume
from pipeline.structures import DEMO_LABELS
from pipeline.volume import CTVolume


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("nm")
    result = CliRunner().invoke(app, ["synth", str(out), "--nm", "maa,y90pet"])
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "truth" / "dosimetry.json").read_text())
    files: dict[str, list[Path]] = defaultdict(list)
    headers = []
    for path in sorted((out / "dicom").rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        files[ds.SeriesInstanceUID].append(path)
        headers.append(ds)
    planning_uid = truth["planning"]["series_instance_uid"]
    roles = recognise_nm_series(headers, planning_uid)
    planning = build_volume(files[planning_uid])
    labels = sitk.GetArrayFromImage(sitk.ReadImage(
        str(out / "truth" / "labels" / f"{planning_uid}.nii.gz")))
    return {"truth": truth, "files": files, "roles": roles, "planning": planning,
            "labels": labels}


def _ct(synth: dict[str, Any], uid: str) -> CTVolume:
    return build_volume(synth["files"][uid])


def _registration_error_mm(synth: dict[str, Any], dose: StudyDose, kind: str) -> float:
    m = np.asarray(synth["truth"]["misregistration"][kind]["planning_to_nm_matrix"])
    planning: CTVolume = synth["planning"]
    points = planning.index_to_patient(np.argwhere(synth["labels"] > 0)[::500].astype(float))
    assert dose.output.registration is not None
    found = np.array([dose.output.registration.transform.TransformPoint(tuple(p))
                      for p in points])
    return float(np.max(np.linalg.norm(found - (points @ m[:3, :3].T + m[:3, 3]), axis=1)))


def _mean(dose: StudyDose, name: str) -> float:
    return dose.output.result.region(name).mean_gy


def test_maa_spect_against_the_truth(synth: dict[str, Any]) -> None:
    roles: NmSeriesSet = synth["roles"]
    truth = synth["truth"]
    assert roles.maa_spect is not None and roles.maa_spect.ct is not None
    spect = pydicom.dcmread(synth["files"][roles.maa_spect.emission.series_instance_uid][0])
    dose = maa_study(synth["planning"], synth["labels"], DEMO_LABELS, spect,
                     _ct(synth, roles.maa_spect.ct.series_instance_uid),
                     truth["administered_gbq"], QuantificationConfig().constants(), demo=True)
    r = dose.output.result
    assert r.lsf == pytest.approx(truth["lsf"], abs=0.01)
    assert r.tn_ratio == pytest.approx(truth["tn_ratio"], rel=0.15)
    regions = truth["regions"]
    assert _mean(dose, "liver") == pytest.approx(regions["liver"]["mean_gy"], rel=0.03)
    assert _mean(dose, "normal_liver") == pytest.approx(regions["normal_liver"]["mean_gy"],
                                                        rel=0.05)
    assert _mean(dose, "couinaud_5") == pytest.approx(regions["couinaud_5"]["mean_gy"],
                                                      rel=0.05)
    assert _mean(dose, "lesion_1") == pytest.approx(regions["lesion_1"]["mean_gy"], rel=0.15)
    assert regions["couinaud_2"]["mean_gy"] == 0.0               # outside the territory
    assert _mean(dose, "couinaud_2") < 1.0
    assert _registration_error_mm(synth, dose, "maa") < 1.0
    assert dose.rtdose.FrameOfReferenceUID == spect.FrameOfReferenceUID
    assert dose.rtdose.DoseSummationType == "SIRT_PREDICTED"


def test_y90_pet_against_the_truth(synth: dict[str, Any]) -> None:
    roles: NmSeriesSet = synth["roles"]
    truth = synth["truth"]
    assert roles.y90_pet is not None and roles.y90_pet.ct is not None
    pet = [pydicom.dcmread(p) for p in synth["files"][roles.y90_pet.emission.series_instance_uid]]
    dose = y90_pet_study(synth["planning"], synth["labels"], DEMO_LABELS, pet,
                         _ct(synth, roles.y90_pet.ct.series_instance_uid),
                         QuantificationConfig().constants(), demo=True,
                         administered_gbq=truth["administered_gbq"])
    r = dose.output.result
    regions = truth["regions"]
    assert r.lsf is None
    assert r.tn_ratio == pytest.approx(truth["tn_ratio"], rel=0.1)
    assert _mean(dose, "liver") == pytest.approx(regions["liver"]["mean_gy"], rel=0.08)
    assert _mean(dose, "normal_liver") == pytest.approx(regions["normal_liver"]["mean_gy"],
                                                        rel=0.05)
    assert _mean(dose, "lesion_1") == pytest.approx(regions["lesion_1"]["mean_gy"], rel=0.15)
    assert _registration_error_mm(synth, dose, "y90pet") < 1.0
    # The RT Dose holds the dose grid: pixel x scaling gives the dose back.
    rt = dose.rtdose
    values = rt.pixel_array * float(rt.DoseGridScaling)
    np.testing.assert_allclose(values, sitk.GetArrayFromImage(dose.output.dose),
                               atol=float(rt.DoseGridScaling))
