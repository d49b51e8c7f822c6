"""select_series on small studies built with the test factory."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest
from pixel_decodes import NOT_A_DATA_SET, count_decodes
from pydicom import dcmread
from pydicom.uid import SecondaryCaptureImageStorage, generate_uid
from select_ctfactory import SeriesSpec, axial_slices, write_series

import pipeline.select.volume as volume_module
from pipeline.select.config import SelectionConfig
from pipeline.select.selector import select_series
from pipeline.select.terms import KernelClass

CFG = SelectionConfig()
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def _study(root, specs, same_seed=False):
    study, frame = generate_uid(), generate_uid()
    uids = {}
    for k, (name, slices, spec) in enumerate(specs):
        seed = 0 if same_seed else k
        paths = write_series(root / name, slices, spec, seed=seed, study_uid=study,
                             frame_of_reference_uid=frame)
        uids[name] = str(dcmread(paths[0], stop_before_pixels=True).SeriesInstanceUID)
    return uids


@pytest.fixture(scope="module")
def routed_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    axial = axial_slices()
    coronal = [replace(s, orientation=CORONAL, position=(-192.0, -40.0 + 5 * k, 80.0))
               for k, s in enumerate(axial_slices(n=20))]
    uids = _study(root, [
        ("localizer", [replace(axial[20], rows=96)],
         SeriesSpec(description="Topogram", series_number=1,
                    image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))),
        ("native", axial_slices(spacing=5.0), SeriesSpec(description="Abdomen nativ 5mm",
                                                       phase="native", series_number=2,
                                                       thickness=5.0)),
        ("arterial", axial, SeriesSpec(description="Leber arteriell", phase="arterial",
                                       series_number=3)),
        ("pv", axial, SeriesSpec(description="", series_number=4)),
        ("pv_bone", axial, SeriesSpec(description="Abdomen 1.0 B70f", kernel="B70f",
                                      series_number=5)),
        ("pv_thick", axial, SeriesSpec(description="Abdomen pv 4mm", thickness=4.0,
                                       series_number=6)),
        ("pv_coronal", coronal, SeriesSpec(description="cor MPR",
                                           image_type=("DERIVED", "SECONDARY", "REFORMATTED"),
                                           series_number=7)),
        ("dose", [axial[0]], SeriesSpec(description="Dose Report", series_number=999,
                                        sop_class=SecondaryCaptureImageStorage)),
    ])
    return root, uids


def _by_uid(result):
    return {r.series_instance_uid: r for r in result.ranking}


def _codes(report):
    return {reason.split(":")[0] for reason in report.reasons}


def test_routed_study_picks_thin_soft_portal_venous(routed_study):
    root, uids = routed_study
    result = select_series([root], CFG)
    assert result.chosen_series_uid == uids["pv"]
    assert result.chosen is not None and result.chosen.shape == (40, 96, 96)
    assert result.phase is not None and result.phase.phase.value == "portal_venous"
    assert result.coverage is not None and result.coverage.status == "complete"
    reports = _by_uid(result)
    assert set(reports) == set(uids.values())
    assert "localizer" in _codes(reports[uids["localizer"]])
    assert "not_ct_image_storage" in _codes(reports[uids["dose"]])
    assert "derived" in _codes(reports[uids["pv_coronal"]])
    assert "sharp_kernel" in _codes(reports[uids["pv_bone"]])
    assert "thick_slices" in _codes(reports[uids["pv_thick"]])
    assert "phase_not_accepted" in _codes(reports[uids["arterial"]])
    assert reports[uids["native"]].phase == "native"
    assert reports[uids["pv_bone"]].accepted and "lower_rank" in _codes(reports[uids["pv_bone"]])
    assert result.ranking[0].series_instance_uid == uids["pv"]
    for report in result.ranking:
        assert report.score == pytest.approx(sum(report.score_parts.values()))
    bone = reports[uids["pv_bone"]].score_parts
    assert bone["kernel"] == CFG.kernel.scores[KernelClass.BONE]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["chosen_series_instance_uid"] == uids["pv"]
    assert len(data["ranking"]) == len(uids)


def test_non_axial_allowed_by_config_is_still_ranked_below(routed_study):
    root, uids = routed_study
    config = SelectionConfig.model_validate(
        {"candidates": {"allow_derived": True, "allow_secondary": True, "allow_non_axial": True}}
    )
    result = select_series([root], config)
    assert result.chosen_series_uid == uids["pv"]
    assert "derived" not in _codes(_by_uid(result)[uids["pv_coronal"]])


def test_rejection_rules_are_configurable(routed_study):
    root, uids = routed_study
    config = SelectionConfig.model_validate(
        {"kernel": {"rejected": ["bone", "lung"]}, "thickness": {"max_mm": 3.0}}
    )
    result = select_series([root], config)
    assert result.chosen_series_uid == uids["pv"]
    reports = _by_uid(result)
    assert not reports[uids["pv_bone"]].accepted
    assert "sharp_kernel: bone kernel (rejected)" in reports[uids["pv_bone"]].reasons
    assert not reports[uids["pv_thick"]].accepted
    assert "too_thick" in _codes(reports[uids["pv_thick"]])


def test_noise_limit(routed_study):
    root, uids = routed_study
    noisy = SelectionConfig.model_validate({"noise": {"max_sd_hu_at_5mm": 2.0}})
    penalised = _by_uid(select_series([root], noisy))[uids["pv"]]
    # phantom noise SD 8 HU at 1 mm = 3.6 HU at 5 mm
    assert penalised.noise_sd_hu == pytest.approx(8.0, abs=1.5)
    assert "high_noise" in _codes(penalised) and penalised.score_parts["noise"] == -30.0
    strict = SelectionConfig.model_validate({"noise": {"max_sd_hu_at_5mm": 2.0, "reject": True}})
    result = select_series([root], strict)
    assert result.chosen is None and "high_noise" in (result.rejection_reason or "")


def test_each_file_decoded_at_most_once(routed_study, monkeypatch):
    root, uids = routed_study
    reads: Counter[str] = Counter()
    real, real_native = volume_module.dcmread, volume_module.read_native

    def counting(path, *args, **kwargs):
        if not kwargs.get("stop_before_pixels"):
            reads[str(path)] += 1
        return real(path, *args, **kwargs)

    def counting_native(ds, *args, **kwargs):
        pixels = real_native(ds, *args, **kwargs)
        if pixels is not None:  # read from the file without pydicom
            reads[str(ds.filename)] += 1
        return pixels

    monkeypatch.setattr(volume_module, "dcmread", counting)
    monkeypatch.setattr(volume_module, "read_native", counting_native)
    result = select_series([root], CFG)
    assert result.chosen_series_uid == uids["pv"]
    assert max(reads.values()) == 1
    assert not any("localizer" in p or "dose" in p or "pv_coronal" in p for p in reads)
    chosen = {p for p in reads if "/pv/" in p}
    assert len(chosen) == 40


def test_series_not_chosen_are_decoded_on_sampled_slices_only(routed_study, monkeypatch):
    root, uids = routed_study
    series_of = {str(ds.SOPInstanceUID): str(ds.SeriesInstanceUID)
                 for ds in (dcmread(p, stop_before_pixels=True) for p in root.rglob("*.dcm"))}
    assert len(series_of) > 200
    config = SelectionConfig.model_validate({"phase": {"image_sample_slices": 6}})
    decodes = count_decodes(monkeypatch.setattr)
    result = select_series([root], config)
    assert result.chosen_series_uid == uids["pv"] and result.chosen is not None
    assert NOT_A_DATA_SET not in decodes
    assert max(decodes.values()) == 1  # sampled slices of the chosen stack are reused
    per_series = Counter(series_of[sop] for sop in decodes)
    assert per_series[uids["pv"]] == result.chosen.shape[0] == 40
    sampled = {uids[name] for name in ("native", "arterial", "pv_bone", "pv_thick")}
    for uid, report in _by_uid(result).items():
        if uid in sampled:  # candidates with image evidence: its sampled slices only
            assert 0 < per_series[uid] <= 6 < report.n_slices
        elif uid != uids["pv"]:  # not a volume candidate (localizer, MPR, dose report)
            assert per_series[uid] == 0


def test_misleading_descriptions_image_wins(tmp_path):
    axial = axial_slices()
    uids = _study(tmp_path, [
        ("looks_pv", axial, SeriesSpec(description="Abdomen portalvenös", phase="arterial",
                                       series_number=2)),
        ("is_pv", axial, SeriesSpec(description="Abdomen arteriell", series_number=3)),
    ])
    result = select_series([tmp_path], CFG)
    assert result.chosen_series_uid == uids["is_pv"]
    for report in result.ranking:
        assert "phase_disagreement" in _codes(report)
    assert result.phase is not None and result.phase.disagreement


def test_nothing_acceptable_gives_a_reason(tmp_path):
    _study(tmp_path, [
        ("art", axial_slices(), SeriesSpec(phase="arterial", series_number=2)),
        ("nat", axial_slices(), SeriesSpec(phase="native", series_number=3)),
    ])
    result = select_series([tmp_path], CFG)
    assert result.chosen is None and result.chosen_series_uid is None
    assert result.rejection_reason is not None
    assert "phase_not_accepted" in result.rejection_reason
    assert json.loads(json.dumps(result.to_dict()))["rejection_reason"]


def test_empty_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("not dicom")
    result = select_series([tmp_path], CFG)
    assert result.rejection_reason is not None
    assert result.rejection_reason.startswith("no readable DICOM files: 1 unreadable, the first ")
    assert "readme.txt: file meta cannot be parsed" in result.rejection_reason
    assert result.notes and result.notes[0].startswith("unreadable")


def test_two_phases_in_one_series_are_split(tmp_path):
    axial = axial_slices()
    first = [replace(s, extra={"AcquisitionNumber": 1}) for s in axial]
    second = [replace(s, extra={"AcquisitionNumber": 2}) for s in axial]
    root = tmp_path / "s"
    paths = write_series(root / "a", first, SeriesSpec(phase="arterial"), seed=1)
    ds0 = dcmread(paths[0])
    more = write_series(root / "b", second, SeriesSpec(phase="portal_venous"), seed=2)
    for p in more:  # same series, same frame of reference: one series with two stacks
        ds = dcmread(p)
        ds.SeriesInstanceUID = ds0.SeriesInstanceUID
        ds.StudyInstanceUID = ds0.StudyInstanceUID
        ds.FrameOfReferenceUID = ds0.FrameOfReferenceUID
        ds.save_as(p)
    result = select_series([root], CFG)
    assert result.chosen_series_uid == ds0.SeriesInstanceUID
    assert result.chosen_stack == "AcquisitionNumber=2"
    assert {r.stack for r in result.ranking} == {"AcquisitionNumber=1", "AcquisitionNumber=2"}
    assert all("split_stack" in _codes(r) for r in result.ranking)


def test_gap_rejects_and_next_best_is_chosen(tmp_path):
    axial = axial_slices()
    uids = _study(tmp_path, [
        ("gap", axial[:10] + axial[12:], SeriesSpec(series_number=2)),
        ("ok", axial, SeriesSpec(series_number=3, thickness=2.0)),
    ])
    result = select_series([tmp_path], CFG)
    assert result.chosen_series_uid == uids["ok"]
    gap = _by_uid(result)[uids["gap"]]
    assert not gap.accepted and {"geometry", "missing_slices"} <= _codes(gap)


def test_identical_series_tie_broken_by_series_number(tmp_path):
    axial = axial_slices()
    uids = _study(tmp_path, [
        ("b", axial, SeriesSpec(series_number=8)),
        ("a", axial, SeriesSpec(series_number=4)),
    ], same_seed=True)
    result = select_series([tmp_path], CFG)
    assert result.ranking[0].score == result.ranking[1].score
    assert result.chosen_series_uid == uids["a"]
