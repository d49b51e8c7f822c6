"""The chosen series' pixels are decoded once for the whole run: selection hands its volume
to segmentation, quantification and the writers, which never read the pixels again."""

from __future__ import annotations

from collections import Counter

import pytest
from pixel_decodes import NOT_A_DATA_SET, count_decodes
from pydicom import dcmread

from pipeline.config import PipelineConfig
from pipeline.run.study import StudyStatus, run_study
from pipeline.segment.engine import SegmentationEngine
from pipeline.synth.spec import SeriesSpec, StudySpec
from pipeline.synth.study import write_study
from pipeline.synth.tissue import Phase


@pytest.mark.slow
def test_chosen_series_decoded_once_through_the_whole_run(tmp_path, monkeypatch) -> None:
    spec = StudySpec(seed=5, series=(
        SeriesSpec(phase=Phase.ARTERIAL, slice_thickness_mm=5.0, description="Arterial 5mm"),
        SeriesSpec(phase=Phase.PORTAL_VENOUS, slice_thickness_mm=2.5, description="PV 2.5mm"),
    ))
    truth = write_study(tmp_path / "study", spec, volumes=False)
    files = sorted(p for p in (tmp_path / "study" / "dicom").rglob("*") if p.is_file())
    series_of = {str(ds.SOPInstanceUID): str(ds.SeriesInstanceUID)
                 for ds in (dcmread(p, stop_before_pixels=True) for p in files)}
    size = Counter(series_of.values())
    config = PipelineConfig()
    engine = SegmentationEngine(config.segmentation)
    engine.verify()
    decodes = count_decodes(monkeypatch.setattr)
    study = run_study([tmp_path / "study" / "dicom"], tmp_path / "out", config, engine=engine)
    assert study.status is StudyStatus.SUCCEEDED, study.reason
    chosen = study.result["series"]["chosen_series_instance_uid"]
    assert chosen == truth.expected_series_uid
    assert NOT_A_DATA_SET not in decodes
    chosen_decodes = {sop: n for sop, n in decodes.items() if series_of[sop] == chosen}
    assert len(chosen_decodes) == size[chosen] and set(chosen_decodes.values()) == {1}
    others = Counter(series_of[sop] for sop in decodes if series_of[sop] != chosen)
    sampled = config.selection.phase.image_sample_slices
    assert others and all(n <= sampled < size[uid] for uid, n in others.items())
