"""Dose figures in the TID 1500 SR: on the SEG segments, told apart by their source, valid."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import pytest
from dicom_roundtrip import reread
from encode_report_fixture import report_content
from sirt_sr_reader import read_groups

from pipeline.dosimetry.result import DosimetryResult, RegionDose
from pipeline.dosimetry.sr_content import DoseSource, dosimetry_groups
from pipeline.encode import codes
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_sr
from pipeline.quantify.config import QuantificationConfig

DCIODVFY = Path(sys.executable).parent / "dciodvfy"


def _region(name: str, mean: float) -> RegionDose:
    return RegionDose(name=name, volume_ml=10.0, mean_gy=mean, d50_gy=mean, d70_gy=0.9 * mean,
                      d90_gy=0.7 * mean, d95_gy=0.6 * mean, v70_percent=55.0,
                      v100_percent=40.0, v120_percent=20.0, v205_percent=1.5,
                      max_gy=2 * mean)


def _result(scale: float) -> DosimetryResult:
    regions = tuple(_region(n, scale * m) for n, m in
                    (("liver", 60.0), ("normal_liver", 45.0), ("tumour", 150.0),
                     ("lesion_1", 160.0), ("couinaud_2", 70.0), ("lung", 8.0)))
    return DosimetryResult(source="test", dose_method="local deposition", lsf=0.08,
                           lsf_method="SPECT counts", tn_ratio=3.2, administered_gbq=2.0,
                           regions=regions, constants=QuantificationConfig().constants())


@pytest.fixture(scope="module")
def written(ct_series, segmentation, tmp_path_factory: pytest.TempPathFactory):
    volume, headers = ct_series
    seg = build_seg(volume, headers, segmentation)
    groups = (*dosimetry_groups(_result(1.0), DoseSource.MAA_SPECT),
              *dosimetry_groups(_result(1.1), DoseSource.Y90_PET))
    content = dataclasses.replace(report_content(volume.series_instance_uid,
                                                 segmentation.algorithm), dosimetry=groups)
    sr = build_sr(seg, headers, content)
    path = tmp_path_factory.mktemp("sr") / "sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    return seg, sr, path


def _value(group: hd.sr.MeasurementsAndQualitativeEvaluations, concept
           ) -> tuple[float, str]:
    items = group.get_measurements(name=codes.coded(concept))
    assert len(items) == 1
    return float(items[0].value), items[0].unit.value


def test_segment_groups_hold_each_source_once(written) -> None:
    seg, sr, _ = written
    read = reread(sr, hd.sr.srread)
    uid = next(s.TrackingUID for s in seg.SegmentSequence if s.TrackingID == "Lesion 1")
    groups = read.content.get_volumetric_roi_measurement_groups(tracking_uid=uid)
    dose_groups = [g for g in groups
                   if g.get_measurements(name=codes.coded(codes.MEAN_ABSORBED_DOSE))]
    assert len(dose_groups) == 2
    by_source = {}
    for g in dose_groups:
        evaluation = g.get_qualitative_evaluations(name=codes.coded(codes.DOSE_SOURCE))
        assert len(evaluation) == 1
        by_source[evaluation[0].value.value] = g
    maa = by_source[codes.MAA_SPECT_PREDICTION.value]
    pet = by_source[codes.Y90_PET_MEASUREMENT.value]
    assert _value(maa, codes.MEAN_ABSORBED_DOSE) == (pytest.approx(160.0), "Gy")
    assert _value(pet, codes.MEAN_ABSORBED_DOSE) == (pytest.approx(176.0), "Gy")
    assert _value(maa, codes.DOSE_D70) == (pytest.approx(144.0), "Gy")
    assert _value(maa, codes.DOSE_D95) == (pytest.approx(96.0), "Gy")
    assert _value(maa, codes.VOLUME_V100) == (pytest.approx(40.0), "%")
    assert _value(maa, codes.VOLUME_V205) == (pytest.approx(1.5), "%")
    assert maa.finding_type.value == codes.NEOPLASM.value


def test_normal_liver_references_liver_and_metastases(written) -> None:
    seg, sr, _ = written
    groups = read_groups(reread(sr, hd.sr.srread))
    numbers = {str(s.TrackingID): int(s.SegmentNumber) for s in seg.SegmentSequence}
    normal = groups["MAA SPECT dose: normal liver"]
    assert normal.finding_type == codes.WHOLE_NORMAL_LIVER.value
    assert normal.evaluations[codes.DOSE_SOURCE.value] == codes.MAA_SPECT_PREDICTION.value
    mean = [m for m in normal.measurements if m[0] == codes.MEAN_ABSORBED_DOSE.value]
    assert mean[0][1] == pytest.approx(45.0)
    assert sorted(mean[0][3]) == sorted([numbers["Liver"], numbers["All liver metastases"]])
    # The SEG has the metastases as lesions plus their union: tumour refers to the union.
    assert "Liver metastasis" not in numbers
    tumour = groups["MAA SPECT dose: tumour"]
    mean = [m for m in tumour.measurements if m[0] == codes.MEAN_ABSORBED_DOSE.value]
    assert mean[0][1] == pytest.approx(150.0)
    assert mean[0][3] == [numbers["All liver metastases"]]
    head = groups["Y-90 PET dosimetry"]
    values = {m[0]: m[1] for m in head.measurements}
    assert values[codes.LUNG_SHUNT_FRACTION.value] == pytest.approx(8.0)
    assert values[codes.TUMOUR_TO_NORMAL_RATIO.value] == pytest.approx(3.2)


def test_dciodvfy_finds_no_error_in_the_sr(written) -> None:
    _, _, path = written
    result = subprocess.run([str(DCIODVFY), "-new", str(path)], capture_output=True,
                            text=True, timeout=120)
    report = result.stdout + result.stderr
    assert not re.findall(r"^Error", report, re.MULTILINE), report
    other = [line for line in report.splitlines()
             if line.startswith("Warning") and "99DCMNODE" not in line]
    assert not other, other


def test_a_region_without_a_concept_is_refused() -> None:
    result = dataclasses.replace(_result(1.0), regions=(_region("spleen", 3.0),))
    with pytest.raises(ValueError, match="spleen"):
        dosimetry_groups(result, DoseSource.Y90_PET)
