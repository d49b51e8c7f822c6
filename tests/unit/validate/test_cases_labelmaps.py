"""Case-set layout, label mappings, NIfTI and DICOM-SEG label maps and resampling."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from pipeline.segment.result import OUTPUT_LABEL_VALUES
from pipeline.structures import DEMO_LABELS, Structure, liver_labels
from pipeline.validate.cases import CaseError, discover_cases, find_prediction, parse_mapping
from pipeline.validate.labelmaps import (
    LabelImage,
    on_volume,
    read_nifti,
    read_seg,
    resample_onto,
    volume_grid,
    write_nifti,
)

ENCODE_TESTS = Path(__file__).parents[1] / "encode"


@pytest.fixture(scope="module")
def seg_case(tmp_path_factory: pytest.TempPathFactory):
    """A small CT series (reversed instance order), the pipeline's SEG of a phantom label
    map on it, and the label map."""
    sys.path.insert(0, str(ENCODE_TESTS))
    from encode_synthetic_ct import SHAPE, Geometry, demo_segmentation, write_series

    from pipeline.encode.seg import build_seg

    folder = tmp_path_factory.mktemp("segcase")
    volume, datasets = write_series(folder / "dicom", SHAPE, Geometry(reverse_instances=True))
    content = demo_segmentation(SHAPE)
    build_seg(volume, datasets, content).save_as(folder / "reference.dcm")
    return folder, volume, content


def test_seg_reads_back_onto_the_ct_grid(seg_case) -> None:
    folder, volume, content = seg_case
    ref = resample_onto(read_seg(folder / "reference.dcm"), volume_grid(volume))
    assert ref.array.shape == volume.shape
    assert Structure.LIVER in ref.structures()
    for structure in (Structure.COUINAUD_5, Structure.METASTASIS, Structure.IVC):
        values = [v for v, s in content.labels.items() if s == structure]
        assert np.array_equal(ref.mask(structure), np.isin(content.labelmap, values))
    liver = np.isin(content.labelmap, liver_labels(content.labels))
    assert np.array_equal(ref.mask(Structure.LIVER), liver)


def test_nifti_roundtrip_and_resampling(tmp_path: Path, seg_case) -> None:
    _, volume, content = seg_case
    image = on_volume(content.labelmap, content.labels, volume)
    write_nifti(image, tmp_path / "p.nii.gz")
    back = read_nifti(tmp_path / "p.nii.gz", content.labels)
    assert np.array_equal(back.array, content.labelmap)
    assert back.spacing_mm == pytest.approx(volume.spacing_mm)
    # onto a grid with half the in-plane spacing: every fine voxel takes its coarse parent
    fine = sitk.Image([2 * n for n in image.image.GetSize()[:2]] + [image.image.GetSize()[2]],
                      sitk.sitkUInt8)
    fine.SetDirection(image.image.GetDirection())
    sx, sy, sz = image.image.GetSpacing()
    fine.SetSpacing((sx / 2, sy / 2, sz))
    ox, oy, oz = image.image.GetOrigin()
    d = np.asarray(image.image.GetDirection()).reshape(3, 3)
    fine.SetOrigin(tuple(np.array([ox, oy, oz]) - d[:, 0] * sx / 4 - d[:, 1] * sy / 4))
    up = resample_onto(back, fine)
    assert np.array_equal(up.array[:, ::2, ::2], content.labelmap)
    assert up.mask(Structure.LIVER).sum() == 4 * back.mask(Structure.LIVER).sum()
    assert resample_onto(back, back.image) is back


def test_case_layouts(tmp_path: Path, seg_case) -> None:
    folder, _, _ = seg_case
    root = tmp_path / "cases"
    nifti = root / "b_nifti"
    (nifti / "dicom").mkdir(parents=True)
    img = sitk.Image(4, 4, 4, sitk.sitkUInt8)
    sitk.WriteImage(img, str(nifti / "reference.nii.gz"))
    (root / "labels.yaml").write_text("labels:\n  1: liver\n  2: metastasis\n")
    seg = root / "a_seg"
    (seg / "dicom").mkdir(parents=True)
    (seg / "reference.dcm").write_bytes((folder / "reference.dcm").read_bytes())
    synth = root / "c_synth"
    (synth / "truth").mkdir(parents=True)
    (synth / "truth" / "series.json").write_text(json.dumps([
        {"expected_choice": False, "labels": "truth/labels/x.nii.gz"},
        {"expected_choice": True, "labels": "truth/labels/y.nii.gz"}]))
    cases = discover_cases(root)
    assert [c.case_id for c in cases] == ["a_seg", "b_nifti", "c_synth"]
    assert cases[0].reference.name == "reference.dcm"
    assert cases[1].reference_labels == {1: Structure.LIVER, 2: Structure.METASTASIS}
    assert cases[2].synthetic and cases[2].reference.name == "y.nii.gz"
    assert cases[2].reference_labels == DEMO_LABELS
    (root / "labels.yaml").unlink()
    with pytest.raises(CaseError, match="label mapping"):
        discover_cases(root)
    (root / "labels.json").write_text(json.dumps({"1": "liver", "2": "tumour"}))
    with pytest.raises(CaseError, match="tumour"):
        discover_cases(root)


def test_find_prediction(tmp_path: Path) -> None:
    (tmp_path / "c1.nii.gz").write_bytes(b"")
    (tmp_path / "c1.json").write_text(json.dumps({"labels": {"1": "liver"}, "confidence": 0.7,
                                                  "demo": True}))
    p = find_prediction(tmp_path, "c1")
    assert p.labels == {1: Structure.LIVER} and p.confidence == 0.7 and p.demo
    (tmp_path / "c2.nii.gz").write_bytes(b"")
    default = find_prediction(tmp_path, "c2")
    assert default.labels[OUTPUT_LABEL_VALUES[Structure.IVC]] == Structure.IVC
    assert default.confidence is None
    run_out = tmp_path / "c3"
    run_out.mkdir()
    (run_out / "seg.dcm").write_bytes(b"")
    (run_out / "result.json").write_text(json.dumps({"confidence": {"score": 0.4},
                                                     "segmentation": {"demo": True}}))
    seg = find_prediction(tmp_path, "c3")
    assert seg.path.name == "seg.dcm" and seg.confidence == 0.4 and seg.demo
    with pytest.raises(CaseError, match="no prediction"):
        find_prediction(tmp_path, "c4")
    assert parse_mapping({"1": "ivc"}, "x") == {1: Structure.IVC}


def test_label_image_liver_is_union_of_parts() -> None:
    arr = np.zeros((3, 4, 5), np.uint16)
    arr[0] = 1
    arr[1] = 9
    arr[2, :2] = 12
    image = LabelImage(sitk.GetImageFromArray(arr), dict(DEMO_LABELS))
    assert image.mask(Structure.LIVER).sum() == 40
    assert image.mask(Structure.IVC).sum() == 10
    assert Structure.LIVER in image.structures()
