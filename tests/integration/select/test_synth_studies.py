"""Selection on whole synthetic studies from :mod:`pipeline.synth` (ground truth in
``truth/series.json``)."""

from __future__ import annotations

import itertools
import json

import pytest

from pipeline.select.config import SelectionConfig
from pipeline.select.selector import select_series
from pipeline.synth.spec import SeriesSpec, StudySpec
from pipeline.synth.study import write_study
from pipeline.synth.tissue import Phase

PHASES = (Phase.NATIVE, Phase.ARTERIAL, Phase.PORTAL_VENOUS, Phase.DELAYED)
MISLEADING = {
    Phase.NATIVE: "Abdomen portal venous",
    Phase.ARTERIAL: "PV",
    Phase.PORTAL_VENOUS: "Leber arteriell",
    Phase.DELAYED: "",
}


def _check_against_truth(out, truth):
    result = select_series([out / "dicom"], SelectionConfig())
    assert result.chosen_series_uid == truth.expected_series_uid
    assert result.chosen is not None
    by_uid = {r.series_instance_uid: r for r in result.ranking}
    entries = json.loads((out / "truth" / "series.json").read_text())
    for entry in entries:
        report = by_uid[entry["series_instance_uid"]]
        if entry["kind"] != "axial":
            assert not report.accepted
            assert report.reasons[0].split(":")[0] in {"localizer", "not_ct_image_storage",
                                                       "dose_screen"}
        else:
            assert report.phase == entry["phase"], (entry, report.phase_evidence)
    return result, entries


@pytest.fixture(scope="module")
def every_phase_and_thickness(tmp_path_factory):
    """Every phase x {2.5, 5} mm, misleading or empty descriptions, no contrast tags."""
    series = tuple(
        SeriesSpec(phase=phase, slice_thickness_mm=t, description=MISLEADING[phase],
                   contrast_tags=False)
        for phase, t in itertools.product(PHASES, (2.5, 5.0))
    )
    out = tmp_path_factory.mktemp("combos")
    truth = write_study(out, StudySpec(seed=21, series=series))
    return out, truth


def test_every_phase_and_thickness_misleading_descriptions(every_phase_and_thickness):
    out, truth = every_phase_and_thickness
    assert truth.expected_series_uid is not None
    result, _ = _check_against_truth(out, truth)
    assert result.phase is not None and result.phase.source == "image"
    misled = [r for r in result.ranking if any(x.startswith("phase_disagreement")
                                               for x in r.reasons)]
    # the native, arterial and portal-venous series carry a wrong phase word
    assert len(misled) >= 4
    thick = [r for r in result.ranking if r.slice_thickness_mm == 5.0]
    assert all(any(x.startswith("thick_slices") for x in r.reasons) for r in thick)


def test_default_study(tmp_path):
    # seed 15: localizer, portal venous 2.5 mm soft, 5 mm soft, 2.5 mm bone, dose report
    truth = write_study(tmp_path, 15)
    result, entries = _check_against_truth(tmp_path, truth)
    assert {e["kind"] for e in entries} == {"localizer", "axial", "dose_report"}
    assert result.coverage is not None and result.coverage.status == "complete"
    bone = [r for r in result.ranking if r.kernel_class == "bone"]
    assert bone and all(any(x.startswith("sharp_kernel") for x in r.reasons) for r in bone)
