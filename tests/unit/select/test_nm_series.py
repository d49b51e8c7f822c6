"""NM/PET series recognition, the NM attenuation-CT exclusion and NM-to-planning linking,
on the synthetic NM studies and on pydicom's own NM files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file

from pipeline.select.config import SelectionConfig
from pipeline.select.nm_series import (
    NmLinkConfig,
    StudySummary,
    find_planning_study,
    recognise_nm_series,
)
from pipeline.select.selector import select_series
from pipeline.synth.nm_study import NmKind, NmOptions, write_nm_studies
from pipeline.synth.study import StudyTruth, write_study


@pytest.fixture(scope="module")
def nm(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudyTruth, dict[str, Any]]:
    out = tmp_path_factory.mktemp("nm_select")
    study = write_study(out, 1, "small", volumes=False)
    truth = write_nm_studies(study, NmOptions(kinds=(NmKind.MAA, NmKind.Y90PET)))
    return study, truth


def _headers(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.rglob("*.dcm"))]


def test_roles_of_the_synthetic_nm_studies(nm: tuple[StudyTruth, dict[str, Any]]) -> None:
    study, truth = nm
    found = recognise_nm_series(_headers(study.out_dir / "dicom"), study.expected_series_uid)
    maa = truth["studies"]["maa"]["series"]
    pet = truth["studies"]["y90pet"]["series"]
    assert found.planning_ct_series_uid == study.expected_series_uid
    assert found.maa_spect is not None and found.y90_pet is not None
    assert found.maa_spect.emission.series_instance_uid == maa["spect"]["series_instance_uid"]
    assert found.maa_spect.ct is not None
    assert found.maa_spect.ct.series_instance_uid == maa["ct"]["series_instance_uid"]
    assert found.maa_spect.paired_by == "frame_of_reference"
    assert found.y90_pet.emission.series_instance_uid == pet["pet"]["series_instance_uid"]
    assert found.y90_pet.ct is not None
    assert found.y90_pet.ct.series_instance_uid == pet["ct"]["series_instance_uid"]
    pair = found.planar_pair()
    assert pair is not None
    assert [(v.view, v.frame) for v in pair] == [("anterior", 1), ("posterior", 2)]
    assert pair[0].series.series_instance_uid == maa["planar"]["series_instance_uid"]
    assert found.other_emission == ()


def test_without_a_shared_frame_the_ct_pairs_by_time(
        nm: tuple[StudyTruth, dict[str, Any]]) -> None:
    study, truth = nm
    headers = [copy.deepcopy(ds) for ds in _headers(study.out_dir / "dicom" / "y90pet")]
    for ds in headers:
        del ds.FrameOfReferenceUID
    found = recognise_nm_series(headers)
    assert found.y90_pet is not None and found.y90_pet.paired_by == "time_window"
    assert found.y90_pet.ct is not None
    assert found.y90_pet.ct.series_instance_uid == (
        truth["studies"]["y90pet"]["series"]["ct"]["series_instance_uid"])
    narrow = recognise_nm_series(headers, config=NmLinkConfig(pair_window_min=1.0))
    assert narrow.y90_pet is not None and narrow.y90_pet.ct is None
    assert narrow.y90_pet.paired_by == "none"


def test_selection_still_chooses_the_portal_venous_ct(
        nm: tuple[StudyTruth, dict[str, Any]]) -> None:
    study, truth = nm
    result = select_series([study.out_dir / "dicom"], SelectionConfig())
    assert result.chosen_series_uid == study.expected_series_uid
    nm_cts = {truth["studies"][k]["series"]["ct"]["series_instance_uid"]
              for k in ("maa", "y90pet")}
    reports = [r for r in result.ranking if r.series_instance_uid in nm_cts]
    assert len(reports) == 2
    assert all(not r.accepted and r.reasons[0].startswith("nm_attenuation_ct") for r in reports)


def test_the_nm_ct_alone_with_its_spect_is_never_a_planning_ct(
        nm: tuple[StudyTruth, dict[str, Any]]) -> None:
    study, truth = nm
    maa = study.out_dir / "dicom" / "maa"
    result = select_series([maa], SelectionConfig())
    assert result.chosen is None and result.rejection_reason
    ct_uid = truth["studies"]["maa"]["series"]["ct"]["series_instance_uid"]
    report = next(r for r in result.ranking if r.series_instance_uid == ct_uid)
    assert "nm_attenuation_ct" in report.reasons[0]
    # the rule, not the CT itself, rejects it: switched off, the CT is a candidate again
    off = SelectionConfig.model_validate({"candidates": {"exclude_emission_ct": False}})
    again = select_series([maa / "series_002"], off)
    report = next(r for r in again.ranking if r.series_instance_uid == ct_uid)
    assert not any("nm_attenuation_ct" in reason for reason in report.reasons)


def test_pydicoms_nm_secondary_captures_get_no_role() -> None:
    """pydicom's NM whole-body screen (Secondary Capture, Modality NM) is not an NM Image:
    no role, and no CT is excluded because of its frame of reference."""
    path = get_testdata_file("JPEG2000.dcm")
    assert path is not None
    nm_sc = pydicom.dcmread(path, stop_before_pixels=True)
    assert nm_sc.Modality == "NM" and "WHOLE BODY" in nm_sc.ImageType
    ct_path = get_testdata_file("CT_small.dcm")
    assert ct_path is not None
    ct = pydicom.dcmread(ct_path, stop_before_pixels=True)
    ct.FrameOfReferenceUID = nm_sc.FrameOfReferenceUID
    found = recognise_nm_series([nm_sc, ct])
    assert found.maa_spect is None and found.y90_pet is None and found.planar == ()
    assert found.other_emission == ()
    # a real NM Image in that frame of reference makes the same CT an attenuation CT
    nm_image = copy.deepcopy(nm_sc)
    nm_image.SOPClassUID = "1.2.840.10008.5.1.4.1.1.20"
    nm_image.SeriesInstanceUID = "1.2.3.4"
    found = recognise_nm_series([nm_image, ct])
    assert [s.series_instance_uid for s in found.other_emission] == ["1.2.3.4"]


def _study(uid: str, date: str | None, *modalities: str, patient: str | None = "P1"
           ) -> StudySummary:
    return StudySummary(uid, patient, date, frozenset(modalities))


def test_planning_study_link_is_the_latest_preceding_ct_within_the_window() -> None:
    maa = _study("maa", "20250310", "NM", "CT")
    studies = [
        _study("ct-old", "20250101", "CT"),           # 68 days: outside 30
        _study("ct-plan", "20250228", "CT", "SR"),    # 10 days before: wins
        _study("ct-early", "20250215", "CT"),         # earlier than ct-plan
        _study("ct-after", "20250312", "CT"),         # later: only when nothing precedes
        _study("spect-ct", "20250305", "NM", "CT"),   # an NM study is never the planning CT
        _study("other", "20250309", "CT", patient="P2"),
        maa,
    ]
    assert find_planning_study(maa, studies) == studies[1]
    assert find_planning_study(maa, [studies[3], studies[4]]) == studies[3]
    assert find_planning_study(maa, [studies[0]]) is None
    assert find_planning_study(maa, [studies[0]], NmLinkConfig(link_window_days=90)) == \
        studies[0]
    assert find_planning_study(_study("x", None, "PT"), studies) is None
    assert find_planning_study(_study("x", "20250310", "PT", patient=""), studies) is None


def test_link_of_the_synthetic_studies(nm: tuple[StudyTruth, dict[str, Any]]) -> None:
    study, truth = nm
    headers = _headers(study.out_dir / "dicom")
    summaries: dict[str, tuple[str, str, set[str]]] = {}
    for ds in headers:
        uid = str(ds.StudyInstanceUID)
        entry = summaries.setdefault(uid, (str(ds.PatientID), str(ds.StudyDate), set()))
        entry[2].add(str(ds.Modality))
    rows = [StudySummary(uid, p, d, frozenset(m)) for uid, (p, d, m) in summaries.items()]
    by_uid = {r.study_instance_uid: r for r in rows}
    for kind in ("maa", "y90pet"):
        nm_row = by_uid[truth["studies"][kind]["study_instance_uid"]]
        linked = find_planning_study(nm_row, rows)
        assert linked is not None
        assert linked.study_instance_uid == truth["planning"]["study_instance_uid"]
