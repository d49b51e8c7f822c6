"""Planning-CT regions on the emission grid, partial-volume fractions, AP projection."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from dosimetry_cases import RegistrationCase

from pipeline.dosimetry import masks
from pipeline.dosimetry.register import Registration
from pipeline.dosimetry.result import RegistrationSummary
from pipeline.structures import DEMO_LABELS, Structure


def _truth(case: RegistrationCase) -> Registration:
    summary = RegistrationSummary("truth", 0.0, 1.0, 1.0, (0.0, 0.0, 0.0), 0.0, "")
    return Registration(case.known, summary)


def _centroid_mm(mask: np.ndarray, image: sitk.Image, weights: np.ndarray | None = None
                 ) -> np.ndarray:
    idx = np.argwhere(mask)
    w = np.ones(len(idx)) if weights is None else weights[mask]
    mean = (idx * w[:, None]).sum(axis=0) / w.sum()
    return np.asarray(image.TransformContinuousIndexToPhysicalPoint(mean[::-1].tolist()))


def test_planning_regions_are_named_and_consistent(registration_case: RegistrationCase) -> None:
    labelmap = registration_case.labelmap
    regions = masks.planning_regions(labelmap, DEMO_LABELS)
    liver = np.isin(labelmap, list(range(1, 10)))
    np.testing.assert_array_equal(regions["liver"], liver)
    np.testing.assert_array_equal(regions["tumour"], labelmap == 9)
    np.testing.assert_array_equal(regions["normal_liver"], liver & (labelmap != 9))
    np.testing.assert_array_equal(regions["couinaud_4"], labelmap == 4)
    lesions = [regions[n] for n in regions if n.startswith("lesion_")]
    assert lesions, "the phantom has metastases"
    np.testing.assert_array_equal(np.logical_or.reduce(lesions), regions["tumour"])
    sizes = [int(m.sum()) for m in lesions]
    assert sizes == sorted(sizes, reverse=True)
    assert "lung" not in regions                      # no lung label, none given
    lung = np.zeros(labelmap.shape, bool)
    lung[-3:] = True
    assert masks.planning_regions(labelmap, DEMO_LABELS, lung=lung)["lung"].sum() == lung.sum()
    with_lung = {**DEMO_LABELS, 13: Structure.LUNG}
    assert "lung" not in masks.planning_regions(labelmap, with_lung)   # label 13 unused


def test_regions_land_where_the_transform_puts_them(registration_case: RegistrationCase) -> None:
    case = registration_case
    regions = masks.planning_regions(case.labelmap, DEMO_LABELS)
    on_grid = masks.regions_on_grid(regions, case.planning, case.moving, _truth(case))
    for name in ("liver", "lesion_1"):
        expected = np.asarray(case.known.TransformPoint(
            _centroid_mm(regions[name], case.planning).tolist()))
        found = _centroid_mm(on_grid[name], case.moving)
        assert np.linalg.norm(found - expected) < 2.0, name
    # Overlapping regions keep their own voxels: normal liver and tumour partition the liver.
    np.testing.assert_array_equal(on_grid["normal_liver"] | on_grid["tumour"], on_grid["liver"])
    assert not (on_grid["normal_liver"] & on_grid["tumour"]).any()


def test_fractions_keep_the_volume(registration_case: RegistrationCase) -> None:
    case = registration_case
    regions = masks.planning_regions(case.labelmap, DEMO_LABELS)
    fractions = masks.region_fractions(regions, case.planning, case.moving, _truth(case),
                                       subsamples=3, names=["liver", "lesion_1"])
    assert set(fractions) == {"liver", "lesion_1"}
    planning_ml = {n: regions[n].sum() * 27.0 / 1000 for n in fractions}
    for name, fraction in fractions.items():
        assert fraction.min() >= 0.0 and fraction.max() <= 1.0
        assert fraction.sum() * 64.0 / 1000 == pytest.approx(planning_ml[name], rel=0.02), name
        expected = np.asarray(case.known.TransformPoint(
            _centroid_mm(regions[name], case.planning).tolist()))
        found = _centroid_mm(fraction > 0, case.moving, fraction)
        assert np.linalg.norm(found - expected) < 1.0, name
    # Slab by slab (bounded memory) gives the same fractions as one slab.
    slabs = masks.region_fractions(regions, case.planning, case.moving, _truth(case),
                                   subsamples=3, names=["lesion_1"], slab_slices=5)
    np.testing.assert_array_equal(slabs["lesion_1"], fractions["lesion_1"])
    with pytest.raises(ValueError, match="subsamples"):
        masks.region_fractions(regions, case.planning, case.moving, None, subsamples=0)


def test_identity_without_registration() -> None:
    image = sitk.Image([6, 5, 4], sitk.sitkFloat32)
    image.SetSpacing((2.0, 2.0, 2.0))
    mask = np.zeros((4, 5, 6), bool)
    mask[1:3, 2:4, 1:5] = True
    out = masks.regions_on_grid({"r": mask}, image, image, None)
    np.testing.assert_array_equal(out["r"], mask)
    fractions = masks.region_fractions({"r": mask}, image, image, None, subsamples=2)
    np.testing.assert_array_equal(fractions["r"], mask.astype(np.float32))

