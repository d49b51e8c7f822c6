"""Which images may become a volume."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage, SecondaryCaptureImageStorage

from pipeline.select.config import CandidateConfig
from pipeline.select.headers import axial_angle_deg, instance_exclusion, tm_seconds, words
from pipeline.select.reasons import CandidateReason


def _ds(**kw: object) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SeriesDescription = "Abdomen"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


@pytest.mark.parametrize(
    ("attrs", "reason"),
    [
        ({"SOPClassUID": EnhancedCTImageStorage, "NumberOfFrames": 3},
         CandidateReason.ENHANCED_CT_NO_FRAME_POSITIONS),
        ({"SOPClassUID": SecondaryCaptureImageStorage}, CandidateReason.NOT_CT_IMAGE_STORAGE),
        ({"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]}, CandidateReason.LOCALIZER),
        ({"SeriesDescription": "Topogram 0.6 T20f"}, CandidateReason.LOCALIZER),
        ({"SeriesDescription": "Dose Report"}, CandidateReason.DOSE_SCREEN),
        ({"SeriesDescription": "Patient Protocol"}, CandidateReason.DOSE_SCREEN),
        ({"ImageType": ["DERIVED", "PRIMARY", "AXIAL"]}, CandidateReason.DERIVED),
        ({"ImageType": ["ORIGINAL", "SECONDARY", "AXIAL"]}, CandidateReason.SECONDARY),
        ({"ImageOrientationPatient": [1, 0, 0, 0, 0, -1]}, CandidateReason.NON_AXIAL),
        ({"ImageOrientationPatient": [0, 1, 0, 0, 0, -1]}, CandidateReason.NON_AXIAL),
    ],
)
def test_exclusions_are_named(attrs, reason):
    why = instance_exclusion(_ds(**attrs), CandidateConfig())
    assert why is not None and why[0] is reason


def test_axial_image_is_a_candidate():
    assert instance_exclusion(_ds(), CandidateConfig()) is None


def test_configuration_admits_derived_and_reformats():
    config = CandidateConfig(allow_derived=True, allow_secondary=True, allow_non_axial=True)
    ds = _ds(ImageType=["DERIVED", "SECONDARY", "REFORMATTED"],
             ImageOrientationPatient=[1, 0, 0, 0, 0, -1])
    assert instance_exclusion(ds, config) is None


def test_substrings_do_not_count_as_words():
    # "dosed" or "scouting" are not whole words "dose" / "scout"
    assert instance_exclusion(_ds(SeriesDescription="Abdomen scouting dosed"),
                              CandidateConfig()) is None


def test_tilted_axial_is_still_axial():
    c, s = 0.9659, 0.2588  # 15 degree tilt
    assert axial_angle_deg([1, 0, 0, 0, c, s]) == pytest.approx(15.0, abs=0.1)


def test_words_and_times():
    assert words("Abd. PortalVenös_3mm/B30f") == ["abd", "portalvenos", "3mm", "b30f"]
    assert tm_seconds("101530.5") == pytest.approx(10 * 3600 + 15 * 60 + 30.5)
    assert tm_seconds("10:15") == pytest.approx(10 * 3600 + 15 * 60)
    assert tm_seconds("") is None
