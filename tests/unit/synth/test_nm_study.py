"""Synthetic MAA SPECT/CT and Y-90 PET/CT: truth self-consistency, visible misregistration,
valid DICOM (dciodvfy, pydicom strict read-back), recoverable counts and activity."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom import config as pydicom_config
from typer.testing import CliRunner

from dicomnode.cli import app
from pipeline.synth.nm_activity import (
    C_GY_KG_PER_GBQ,
    RHO_G_PER_ML,
    ActivityModel,
    Territory,
    region_doses,
)
from pipeline.synth.nm_geometry import Misregistration
from pipeline.synth.nm_study import NmKind, NmOptions, write_nm_studies
from pipeline.synth.phantom import make_phantom
from pipeline.synth.render import Grid, render_tissue
from pipeline.synth.study import StudyTruth, write_study
from pipeline.synth.tissue import Tissue

DCIODVFY = Path(sys.executable).parent / "dciodvfy"
SEED = 0
"""Phantom 0 has ten lesions, in and outside the right-lobe territory."""


@pytest.fixture(scope="module")
def nm(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudyTruth, dict[str, Any]]:
    out = tmp_path_factory.mktemp("nm_study")
    study = write_study(out, SEED, "small")
    truth = write_nm_studies(study, NmOptions(kinds=(NmKind.MAA, NmKind.Y90PET), lsf=0.1,
                                              tn_ratio=4.0, administered_gbq=2.5))
    return study, truth


@pytest.fixture
def strict_reading() -> Iterator[None]:
    previous = pydicom_config.settings.reading_validation_mode
    pydicom_config.settings.reading_validation_mode = pydicom_config.RAISE
    yield
    pydicom_config.settings.reading_validation_mode = previous


def _files(study: StudyTruth, entry: dict[str, Any]) -> list[Path]:
    return sorted((study.out_dir / entry["folder"]).glob("*.dcm"))


def test_uniform_one_mbq_per_ml_gives_test_vector_7() -> None:
    phantom = make_phantom(SEED)
    model = ActivityModel(1.0, 0.5, 1.0, Territory.WHOLE, 1.0, tuple(1.0 for _ in
                          phantom.lesions), 1.0, (0.0, 1.0), (100.0,) * 8,
                          tuple(10.0 for _ in phantom.lesions), 1000.0)
    doses = region_doses(model, phantom)
    for name in ("liver", "couinaud_3", "tumour", "lungs"):
        assert doses[name]["mean_gy"] == pytest.approx(48.22, rel=5e-3)


def test_truth_matches_the_partition_model(nm: tuple[StudyTruth, dict[str, Any]]) -> None:
    _, truth = nm
    r = truth["regions"]
    a = truth["administered_gbq"]
    lsf, tn = truth["lsf"], truth["tn_ratio"]
    m_t, m_n = r["territory_tumour"]["mass_kg"], r["territory_normal"]["mass_kg"]
    assert m_t > 0 and r["non_perfused_liver"]["mass_kg"] > 0  # both cases present
    d_n = C_GY_KG_PER_GBQ * a * (1 - lsf) / (tn * m_t + m_n)
    assert r["territory_normal"]["mean_gy"] == pytest.approx(d_n, rel=1e-9)
    assert r["territory_tumour"]["mean_gy"] == pytest.approx(tn * d_n, rel=1e-9)
    assert r["lungs"]["mean_gy"] == pytest.approx(
        C_GY_KG_PER_GBQ * a * lsf / r["lungs"]["mass_kg"], rel=1e-9)
    assert r["non_perfused_liver"]["mean_gy"] == 0.0
    # energy: sum of mass x mean dose over liver and lungs = C x administered activity
    total = sum(r[k]["mean_gy"] * r[k]["mass_kg"] for k in ("liver", "lungs"))
    assert total == pytest.approx(C_GY_KG_PER_GBQ * a, rel=1e-9)
    assert r["liver"]["activity_mbq"] + r["lungs"]["activity_mbq"] == pytest.approx(a * 1000)
    for lesion in truth["lesions"]:
        expected = tn * d_n if lesion["perfused"] else 0.0
        assert lesion["mean_gy"] == pytest.approx(expected, rel=1e-9)
    segs = [r[f"couinaud_{s}"]["mean_gy"] for s in range(1, 9)]
    assert segs == [pytest.approx(d_n if s in (5, 6, 7, 8) else 0.0) for s in range(1, 9)]
    assert r["liver"]["mass_kg"] == pytest.approx(
        r["normal_liver"]["mass_kg"] + r["tumour"]["mass_kg"])
    assert truth["constants"] == {"c_gy_kg_per_gbq": 49.67, "rho_g_per_ml": RHO_G_PER_ML}
    assert truth["perfused_territory"] == {"name": "right", "segments": [5, 6, 7, 8]}


def _liver_centroid(labels: np.ndarray, first_ipp: list[float], spacing: tuple[float, ...]
                    ) -> np.ndarray:
    k, j, i = np.nonzero((labels >= 1) & (labels <= 9))
    dz, dy, dx = spacing
    return np.asarray(first_ipp) + np.array([i.mean() * dx, j.mean() * dy, k.mean() * dz])


@pytest.mark.parametrize("kind", ["maa", "y90pet"])
def test_misregistration_is_in_the_images_exactly_as_recorded(
        nm: tuple[StudyTruth, dict[str, Any]], kind: str) -> None:
    study, truth = nm
    planning = next(e for e in study.series if e["expected_choice"])
    ct = truth["studies"][kind]["series"]["ct"]
    plan_labels = np.load(study.out_dir / planning["labels"].replace(".nii.gz", ".npy"))
    nm_labels = np.load(study.out_dir / ct["labels"].replace(".nii.gz", ".npy"))
    c_plan = _liver_centroid(plan_labels, planning["first_ipp_mm"],
                             (planning["spacing_mm"], *planning["pixel_spacing_mm"]))
    c_nm = _liver_centroid(nm_labels, ct["first_ipp_mm"],
                           (ct["slice_thickness_mm"], *ct["pixel_spacing_mm"]))
    m = np.asarray(truth["misregistration"][kind]["planning_to_nm_matrix"])
    assert np.linalg.norm(m[:3, :3] @ c_plan + m[:3, 3] - c_nm) < 1.5
    assert np.linalg.norm(c_plan - c_nm) > 3.0  # the misregistration is not negligible
    rec = truth["misregistration"][kind]
    assert 4.0 <= np.linalg.norm(rec["translation_mm"]) <= 12.0
    assert 2.0 <= abs(rec["rotation_deg"][2]) <= 5.0
    headers = [pydicom.dcmread(_files(study, e)[0], stop_before_pixels=True)
               for e in truth["studies"][kind]["series"].values()]
    frames = {str(h.FrameOfReferenceUID) for h in headers if "FrameOfReferenceUID" in h}
    assert frames == {truth["studies"][kind]["frame_of_reference_uid"]}
    assert truth["planning"]["frame_of_reference_uid"] not in frames
    assert {str(h.StudyInstanceUID) for h in headers} == {
        truth["studies"][kind]["study_instance_uid"]}
    assert {str(h.PatientID) for h in headers} == {f"SYNTH{SEED:06d}"}
    assert len({str(h.StudyDescription) for h in headers}) == 1


def test_spect_and_planar_counts_read_back_strictly(
        nm: tuple[StudyTruth, dict[str, Any]], strict_reading: None) -> None:
    study, truth = nm
    series = truth["studies"]["maa"]["series"]
    spect = pydicom.dcmread(_files(study, series["spect"])[0])
    assert spect.SOPClassUID == "1.2.840.10008.5.1.4.1.1.20"
    assert list(spect.ImageType) == ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    counts = spect.pixel_array
    assert counts.shape == (128, 128, 128)
    assert int(counts.sum()) == int(spect.CountsAccumulated) == series["spect"]["total_counts"]
    assert series["spect"]["total_counts"] == pytest.approx(4.0e6, rel=0.01)
    assert float(spect.PixelSpacing[0]) == pytest.approx(4.42)
    planar = pydicom.dcmread(_files(study, series["planar"])[0])
    assert list(planar.ImageType)[2] == "STATIC" and planar.NumberOfFrames == 2
    views = [item.ViewCodeSequence[0].CodeValue for item in planar.DetectorInformationSequence]
    assert views == ["399321004", "399001007"]
    ant, post = planar.pixel_array.astype(float)
    # attenuated, so below the unattenuated 1e6, and the geometric mean exceeds neither view
    assert 1e5 < ant.sum() < 1e6 and 1e5 < post.sum() < 1e6
    # the liver lies on the patient's right: anterior column 0 is the patient's right
    half = ant.shape[1] // 2
    assert ant[:, :half].sum() > ant[:, half:].sum()
    assert post[:, half:].sum() > post[:, :half].sum()


def test_pet_is_bqml_decay_corrected_to_administration_and_holds_the_activity(
        nm: tuple[StudyTruth, dict[str, Any]], strict_reading: None) -> None:
    study, truth = nm
    entry = truth["studies"]["y90pet"]["series"]["pet"]
    total_bq = 0.0
    for path in _files(study, entry):
        ds = pydicom.dcmread(path)
        assert ds.Units == "BQML" and ds.DecayCorrection == "ADMIN"
        item = ds.RadiopharmaceuticalInformationSequence[0]
        assert float(item.RadionuclideHalfLife) == 230760.0
        assert item.RadionuclideCodeSequence[0].CodeValue == "14691008"
        assert float(item.RadionuclideTotalDose) == pytest.approx(2.5e9)
        values = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        total_bq += float(values.sum()) * float(np.prod(ds.PixelSpacing)) * float(
            ds.SliceThickness) / 1000.0
    assert total_bq == pytest.approx(2.5e9, rel=0.02)


def test_nm_and_pet_files_pass_dciodvfy(nm: tuple[StudyTruth, dict[str, Any]]) -> None:
    study, truth = nm
    entries = [*truth["studies"]["maa"]["series"].values(),
               *truth["studies"]["y90pet"]["series"].values()]
    for entry in entries:
        path = _files(study, entry)[0]
        run = subprocess.run([str(DCIODVFY), "-new", str(path)], capture_output=True,
                             text=True, check=False)
        report = run.stdout + run.stderr
        assert report.strip(), "dciodvfy said nothing"
        problems = [line for line in report.splitlines()
                    if line.startswith(("Error", "Warning"))]
        assert problems == [], f"{entry['folder']}: {problems}"


def test_cli_accepts_a_comma_list_and_rejects_an_unknown_kind(tmp_path: Path) -> None:
    bad = CliRunner().invoke(app, ["synth", str(tmp_path / "bad"), "--nm", "maa,fdg"])
    assert bad.exit_code == 2
    assert not (tmp_path / "bad").exists()
    bad_lsf = CliRunner().invoke(app, ["synth", str(tmp_path / "bad2"), "--nm", "maa",
                                       "--lsf", "1.5"])
    assert bad_lsf.exit_code == 2
    help_text = CliRunner().invoke(app, ["synth", "--help"]).output
    for option in ("--nm", "--lsf", "--tn", "--administered-gbq", "--territory"):
        assert option in help_text


def test_spect_counts_give_back_the_lung_shunt_and_the_maa_activity(
        nm: tuple[StudyTruth, dict[str, Any]]) -> None:
    """Counts inside the true lung and liver (carried into the SPECT frame by the recorded
    misregistration) give the LSF of the truth, up to spill-over of the 12 mm blur."""
    study, truth = nm
    entry = truth["studies"]["maa"]["series"]["spect"]
    counts = pydicom.dcmread(_files(study, entry)[0]).pixel_array.astype(float)
    assert counts.sum() / entry["counts_per_mbq_tc99m"] == pytest.approx(150.0, rel=0.01)
    rec = truth["misregistration"]["maa"]
    moved = Misregistration(tuple(rec["translation_mm"]), tuple(rec["rotation_deg"]),
                            tuple(rec["centre_mm"]))
    grid = Grid(counts.shape, tuple(entry["voxel_mm"]), tuple(entry["first_ipp_mm"]))
    tissue, labels = render_tissue(study.phantom, moved.grid_in_planning(grid))
    lung = counts[(tissue == Tissue.LUNG) & (labels == 0)].sum()
    liver = counts[(labels >= 1) & (labels <= 9)].sum()
    assert lung / (lung + liver) == pytest.approx(truth["lsf"], abs=0.01)
    # masks taken without the misregistration catch fewer liver counts
    _, l0 = render_tissue(study.phantom, grid)
    assert counts[(l0 >= 1) & (l0 <= 9)].sum() < liver
