"""SIRT plans read back by a real TID 1500 consumer: dcmqi's ``tid1500reader``.

Resin and glass, unilobar, bilobar and segmental plans (those of ``test_sr_sirt.py``) are
written into the SR, converted to dcmqi's JSON by ``tid1500reader`` (dcmqi 1.5.7, pinned in
the dev extra) and every dose must come back with its region (finding type and finding
site), every activity with its time reference, the territory, the microspheres and the
inputs' sources, from the reader's JSON alone.

What the reader drops, and is read with highdicom instead (:mod:`sirt_sr_reader`):

- finding sites after the first: dcmqi keeps one ``FindingSite`` per measurement group, so a
  lobar territory (Couinaud II, III and IV) comes back as its first segment only;
- the SEG segments a measurement was computed on: dcmqi reads a group-level "Referenced
  Segment" (TID 1411) only, while a SIRT region spans several segments, so the SR
  references them per measurement (TID 300 "INFERRED FROM" image references with several
  Referenced Segment Numbers), which the reader leaves out.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import highdicom as hd
import pytest
from encode_report_fixture import report_content
from sirt_sr_reader import ReadGroup, read_groups
from test_sr_sirt import CONFIG, DOSE_KEYS, PLANS, PREFIX, REGIONS, ROMAN

from pipeline.encode import codes
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_sr
from pipeline.quantify.inputs import PatientInfo, QualityContext
from pipeline.quantify.quantify import quantify
from pipeline.run.report_content import flr_measurements
from pipeline.run.sirt_report import sirt_groups
from pipeline.structures import CATALOGUE, COUINAUD_SEGMENTS, Structure

READER = (
    shutil.which("tid1500reader", path=str(Path(sys.executable).parent))
    or shutil.which("tid1500reader")
    or "tid1500reader"
)
"""dcmqi's reader: the console script of the venv running the tests, else on PATH."""

SITES = {
    "treated territory": None,
    "normal liver of territory": None,
    "whole normal liver": codes.LIVER,
    "tumour in territory": codes.NEOPLASM,
    "lungs": codes.LUNG,
}
"""Finding site the reader must keep per region (None: the territory's first segment)."""

COUINAUD_SITES = tuple(CATALOGUE[s].type.value for s in COUINAUD_SEGMENTS)
"""SNOMED CT codes of hepatic segments I-VIII (``docs/clinical-sources.md`` §7)."""

TERRITORIES = {
    "left": codes.LEFT_LOBE,
    "right": codes.RIGHT_LOBE,
    "whole": codes.WHOLE_LIVER_TERRITORY,
}
"""Territory of the planner inputs -> coded extent (anything else: segmental)."""


@dataclasses.dataclass
class Plan:
    """One plan: the quantification, the reader's groups and highdicom's groups."""

    doc: dict[str, Any]
    dcmqi: dict[str, dict[str, Any]]
    highdicom: dict[str, ReadGroup]


@pytest.fixture(scope="module")
def seg(ct_series, segmentation):
    volume, headers = ct_series
    return build_seg(volume, headers, segmentation)


def _tid1500reader(sr: Path, out: Path) -> dict[str, dict[str, Any]]:
    """The reader's measurement groups by Tracking Identifier."""
    done = subprocess.run(
        [READER, "--inputDICOM", str(sr), "--outputMetadata", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    return {g["TrackingIdentifier"]: g for g in data["Measurements"]}


@pytest.fixture(scope="module")
def plans(ct_series, segmentation, seg, tmp_path_factory) -> dict[str, Plan]:
    volume, headers = ct_series
    folder = tmp_path_factory.mktemp("tid1500")
    out: dict[str, Plan] = {}
    for name, planner in PLANS.items():
        quant = quantify(
            segmentation.labelmap,
            segmentation.labels,
            volume.spacing_mm,
            PatientInfo(height_m=1.75, weight_kg=80.0),
            planner,
            QualityContext(slice_thickness_mm=2.5),
            CONFIG,
        )
        doc = quant.to_dict()
        content = dataclasses.replace(
            report_content(volume.series_instance_uid, segmentation.algorithm),
            sirt=sirt_groups(quant.sirt, quant.inputs, CONFIG.bsa_formula_sirt),
            flr=flr_measurements(quant.flr, quant.constants),
        )
        buf = io.BytesIO()
        build_sr(seg, headers, content).save_as(buf)
        path = folder / f"{name.replace(' ', '_')}.dcm"
        path.write_bytes(buf.getvalue())
        out[name] = Plan(
            doc, _tid1500reader(path, path.with_suffix(".json")), read_groups(hd.sr.srread(path))
        )
    return out


def _code(item: dict[str, Any]) -> str:
    return str(item["CodeValue"])


def _measurements(group: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Concept code -> (value, UCUM unit) of a reader group (each concept once)."""
    items = group["measurementItems"]
    out = {_code(m["quantity"]): (float(m["value"]), _code(m["units"])) for m in items}
    assert len(out) == len(items), group["TrackingIdentifier"]
    return out


def _evaluations(group: dict[str, Any]) -> dict[str, str]:
    """Concept code -> value code of a reader group's qualitative evaluations."""
    return {
        _code(e["conceptCode"]): _code(e["conceptValue"])
        for e in group.get("qualitativeEvaluations", [])
    }


def _territory_sites(doc: dict[str, Any]) -> list[str]:
    """Finding sites of a territory: the liver (bilobar), else its Couinaud segments."""
    if doc["sirt"]["target"]["territory"] == "whole":
        return [codes.LIVER.value]
    return [COUINAUD_SITES[s - 1] for s in doc["sirt"]["target"]["segments"]]


@pytest.mark.parametrize("name", list(PLANS))
def test_every_dose_comes_back_with_its_region(plans, seg, name: str) -> None:
    plan = plans[name]
    numbers = {str(s.TrackingID): int(s.SegmentNumber) for s in seg.SegmentSequence}
    read = 0
    for method in plan.doc["sirt"]["computed_methods"]:
        doses = plan.doc["sirt"]["methods"][method]["implied_doses"]
        for region, concept in REGIONS.items():
            value = doses[DOSE_KEYS[region]]
            title = f"{PREFIX[method]}: {region}"
            if value is None:
                assert codes.MEAN_ABSORBED_DOSE.value not in _measurements(
                    plan.dcmqi.get(title, {"measurementItems": [], "TrackingIdentifier": title})
                )
                continue
            group = plan.dcmqi[title]
            assert _code(group["Finding"]) == concept.value
            assert _measurements(group)[codes.MEAN_ABSORBED_DOSE.value] == (
                pytest.approx(value),
                "Gy",
            )
            site = SITES[region]
            expected = site.value if site else _territory_sites(plan.doc)[0]
            assert _code(group["FindingSite"]) == expected, title
            read += 1
            # Dropped by the reader (module docstring): the other finding sites and the
            # SEG segments the dose was computed on; highdicom reads them.
            full = plan.highdicom[title]
            if region in ("treated territory", "normal liver of territory"):
                assert full.sites == _territory_sites(plan.doc)
                dose_segments = sorted(
                    numbers[f"Couinaud segment {ROMAN[s - 1]}"]
                    for s in plan.doc["sirt"]["target"]["segments"]
                )
            elif region == "tumour in territory":
                assert full.sites[0] == codes.NEOPLASM.value
                dose_segments = [numbers["All liver metastases"]]
            elif region == "whole normal liver":
                assert full.sites == [codes.LIVER.value]
                dose_segments = sorted(numbers[f"Couinaud segment {r}"] for r in ROMAN)
            else:
                assert full.sites == [codes.LUNG.value]
                dose_segments = []
            dose = [m for m in full.measurements if m[0] == codes.MEAN_ABSORBED_DOSE.value]
            assert sorted(dose[0][3]) == dose_segments, title
    in_reader = sum(
        1
        for title, g in plan.dcmqi.items()
        if title.startswith("SIRT") and codes.MEAN_ABSORBED_DOSE.value in _measurements(g)
    )
    assert read > 0 and in_reader == read


@pytest.mark.parametrize("name", list(PLANS))
def test_every_activity_comes_back_with_its_time_reference(plans, name: str) -> None:
    plan = plans[name]
    for method in plan.doc["sirt"]["computed_methods"]:
        act = plan.doc["sirt"]["methods"][method]["activities"]
        admin = plan.dcmqi[f"{PREFIX[method]}: activity at administration"]
        values = _measurements(admin)
        assert values[codes.PLANNED_INJECTED_ACTIVITY.value] == (
            pytest.approx(act["injected_at_administration_gbq"]),
            "GBq",
        )
        assert (
            _evaluations(admin)[codes.SIRT_METHOD.value]
            == {
                "bsa": codes.BSA_METHOD,
                "mird": codes.MIRD_METHOD,
                "partition": codes.PARTITION_METHOD,
            }[method].value
        )
        calibration = plan.dcmqi.get(f"{PREFIX[method]}: vial at calibration")
        if act["calibration_time"] is None:
            assert admin["timePoint"] == "administration (date and time not given)"
            assert calibration is None
            continue
        assert admin["timePoint"] == f"administration {act['administration_time']}"
        assert calibration is not None
        assert calibration["timePoint"] == f"calibration {act['calibration_time']}"
        vial = _measurements(calibration)
        assert vial[codes.PLANNED_VIAL_ACTIVITY.value] == (
            pytest.approx(act["vial_at_calibration_gbq"]),
            "GBq",
        )
        assert vial[codes.DECAY_FACTOR.value][0] == pytest.approx(2.1784, abs=1e-4)
    activity = {codes.PLANNED_INJECTED_ACTIVITY.value, codes.PLANNED_VIAL_ACTIVITY.value}
    for title, group in plan.dcmqi.items():
        if title.startswith("SIRT") and activity & set(_measurements(group)):
            assert group["timePoint"].startswith(("administration", "calibration")), title


@pytest.mark.parametrize("name", list(PLANS))
def test_territory_microspheres_and_sources_come_back(plans, name: str) -> None:
    plan = plans[name]
    inputs = PLANS[name]
    planner = plan.dcmqi["SIRT inputs: planner"]
    evaluations = _evaluations(planner)
    assert evaluations[codes.INPUT_SOURCE.value] == codes.FROM_PLANNER.value
    assert (
        evaluations[codes.MICROSPHERES.value]
        == {"resin": codes.RESIN, "glass": codes.GLASS}[inputs.microspheres.value].value
    )
    assert (
        evaluations[codes.TERRITORY_EXTENT.value]
        == TERRITORIES.get(inputs.territory, codes.SEGMENTAL).value
    )
    values = _measurements(planner)
    assert values[codes.LUNG_SHUNT_FRACTION.value] == (
        pytest.approx(100 * inputs.lung_shunt_fraction),
        "%",
    )
    assert values[codes.TUMOUR_TO_NORMAL_RATIO.value][0] == pytest.approx(
        inputs.tumour_to_normal_ratio
    )
    header = plan.dcmqi["SIRT inputs: header"]
    assert _evaluations(header)[codes.INPUT_SOURCE.value] == codes.FROM_HEADER.value
    assert _measurements(header) == {
        codes.BODY_HEIGHT.value: (pytest.approx(1.75), "m"),
        codes.BODY_WEIGHT.value: (pytest.approx(80.0), "kg"),
    }
    for method in plan.doc["sirt"]["computed_methods"]:
        lungs = plan.dcmqi[f"{PREFIX[method]}: lungs"]
        assert _evaluations(lungs)[codes.LUNG_MASS_SOURCE.value] == codes.FROM_SITE_DEFAULT.value


def test_each_structure_confidence_comes_back_with_its_structure(plans) -> None:
    """One group per structure: the reader keeps its finding site, so a value is never
    separated from the structure it belongs to."""
    plan = next(iter(plans.values()))
    read = {}
    for title, group in plan.dcmqi.items():
        if title.startswith("Segmentation confidence: "):
            values = _measurements(group)
            read[_code(group["FindingSite"])] = values[codes.STRUCTURE_CONFIDENCE.value][0]
    # The fold agreements of encode_report_fixture's confidence.
    expected = {CATALOGUE[Structure.LIVER].type.value: 0.97,
                CATALOGUE[Structure.METASTASIS].type.value: 0.71}
    assert read == pytest.approx(expected)
