"""Overlap and surface metrics on analytic shapes, cross-checked with SimpleITK."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from shapes import ball, sphere_cap_overlap

from pipeline.segment.geometry import dice as pipeline_dice
from pipeline.validate.metrics.overlap import confusion, overlap_metrics
from pipeline.validate.metrics.surface import directed_distances, surface_metrics, surface_voxels

SHAPE = (48, 48, 64)
R = 12.0


def _sitk(mask: np.ndarray, spacing: tuple[float, float, float]) -> sitk.Image:
    img = sitk.GetImageFromArray(mask.astype(np.uint8))
    img.SetSpacing(spacing[::-1])
    return img


@pytest.mark.parametrize("shift", [0.0, 4.0, 9.0, 16.0])
def test_dice_of_shifted_spheres_matches_closed_form(shift: float) -> None:
    a = ball(SHAPE, (24, 24, 24), R)
    b = ball(SHAPE, (24, 24, 24 + shift), R)
    m = overlap_metrics(confusion(b, a))
    expected = sphere_cap_overlap(R, shift) / (4.0 / 3.0 * math.pi * R ** 3)
    assert m["dice"] == pytest.approx(expected, abs=0.02)
    assert m["jaccard"] == pytest.approx(m["dice"] / (2 - m["dice"]), rel=1e-12)
    assert m["dice"] == pytest.approx(pipeline_dice(a, b), rel=1e-12)


def test_overlap_agrees_with_simpleitk() -> None:
    a = ball(SHAPE, (24, 24, 24), R)
    b = ball(SHAPE, (22, 26, 30), R - 2)
    f = sitk.LabelOverlapMeasuresImageFilter()
    f.Execute(_sitk(b, (1, 1, 1)), _sitk(a, (1, 1, 1)))  # (source, target)
    m = overlap_metrics(confusion(b, a))
    assert m["dice"] == pytest.approx(f.GetDiceCoefficient(), rel=1e-9)
    assert m["jaccard"] == pytest.approx(f.GetJaccardCoefficient(), rel=1e-9)
    # SimpleITK's false negative error |T \\ S| / |T| is our FNR with T the reference
    assert m["fnr"] == pytest.approx(f.GetFalseNegativeError(), rel=1e-9)


def test_precision_recall_fpr_of_nested_balls() -> None:
    outer = ball(SHAPE, (24, 24, 24), R)
    inner = ball(SHAPE, (24, 24, 24), R / 2)
    m = overlap_metrics(confusion(inner, outer))  # prediction inside the reference
    assert m["precision"] == 1.0
    assert m["recall"] == pytest.approx(inner.sum() / outer.sum())
    assert m["fpr"] == 0.0
    assert m["fnr"] == pytest.approx(1 - m["recall"])
    m = overlap_metrics(confusion(outer, inner))  # prediction around the reference
    assert m["recall"] == 1.0
    n_fp = int(outer.sum() - inner.sum())
    assert m["fpr"] == pytest.approx(n_fp / (outer.size - inner.sum()))


def test_identical_masks_are_perfect() -> None:
    a = ball(SHAPE, (24, 24, 24), R)
    m = overlap_metrics(confusion(a, a))
    assert (m["dice"], m["jaccard"], m["precision"], m["recall"], m["fpr"], m["fnr"]) == (
        1.0, 1.0, 1.0, 1.0, 0.0, 0.0)
    s = surface_metrics(a, a, (1.0, 1.0, 1.0))
    assert s == {"hd_mm": 0.0, "hd95_mm": 0.0, "msd_mm": 0.0, "nsd": 1.0}


def test_empty_mask_rules() -> None:
    empty = np.zeros(SHAPE, bool)
    a = ball(SHAPE, (24, 24, 24), 5)
    both = overlap_metrics(confusion(empty, empty))
    assert (both["dice"], both["jaccard"], both["precision"], both["recall"]) == (1, 1, 1, 1)
    assert surface_metrics(empty, empty, (1, 1, 1)) == {"hd_mm": 0.0, "hd95_mm": 0.0,
                                                        "msd_mm": 0.0, "nsd": 1.0}
    missed = overlap_metrics(confusion(empty, a))  # nothing predicted
    assert missed["dice"] == 0 and missed["recall"] == 0 and missed["fnr"] == 1
    assert math.isnan(missed["precision"])
    spurious = overlap_metrics(confusion(a, empty))  # nothing to find
    assert spurious["dice"] == 0 and spurious["precision"] == 0
    assert math.isnan(spurious["recall"]) and math.isnan(spurious["fnr"])
    s = surface_metrics(a, empty, (1, 1, 1))
    assert math.isnan(s["hd_mm"]) and math.isnan(s["hd95_mm"]) and math.isnan(s["msd_mm"])
    assert s["nsd"] == 0.0


@pytest.mark.parametrize(("shape", "spacing"), [((48, 48, 48), (1.0, 1.0, 1.0)),
                                               ((30, 70, 70), (2.0, 0.8, 0.8))])
def test_concentric_spheres_distance_is_radius_difference(shape, spacing) -> None:
    centre = tuple((n - 1) * s / 2 for n, s in zip(shape, spacing, strict=True))
    outer = ball(shape, centre, 20.0, spacing)
    inner = ball(shape, centre, 14.0, spacing)
    s = surface_metrics(inner, outer, spacing, tolerance_mm=3.0)
    voxel = max(spacing)
    assert s["hd_mm"] == pytest.approx(6.0, abs=voxel)
    assert s["hd95_mm"] == pytest.approx(6.0, abs=voxel)
    assert s["msd_mm"] == pytest.approx(6.0, abs=voxel)
    assert s["nsd"] < 0.05  # every surface point is about 6 mm from the other surface
    assert surface_metrics(inner, outer, spacing, tolerance_mm=6.0 + 1.5 * voxel)["nsd"] == 1.0
    f = sitk.HausdorffDistanceImageFilter()
    f.Execute(_sitk(outer, spacing), _sitk(inner, spacing))
    assert s["hd_mm"] == pytest.approx(f.GetHausdorffDistance(), abs=1e-6)


def test_shifted_spheres_hausdorff_is_shift() -> None:
    a = ball(SHAPE, (24, 24, 24), R)
    b = ball(SHAPE, (24, 24, 31), R)
    s = surface_metrics(b, a, (1.0, 1.0, 1.0))
    assert s["hd_mm"] == pytest.approx(7.0, abs=1e-9)
    assert 0 < s["msd_mm"] < s["hd95_mm"] <= s["hd_mm"]
    f = sitk.HausdorffDistanceImageFilter()
    f.Execute(_sitk(a, (1, 1, 1)), _sitk(b, (1, 1, 1)))
    assert s["hd_mm"] == pytest.approx(f.GetHausdorffDistance(), abs=1e-9)


def test_surface_distances_agree_with_simpleitk_on_the_surfaces() -> None:
    spacing = (2.0, 0.9, 0.7)
    shape = (30, 60, 70)
    a = ball(shape, (30.0, 27.0, 24.0), 16.0, spacing)
    b = ball(shape, (26.0, 30.0, 28.0), 13.0, spacing)
    sa, sb = surface_voxels(a), surface_voxels(b)
    d_ab = directed_distances(sa, sb, spacing)
    d_ba = directed_distances(sb, sa, spacing)
    f = sitk.HausdorffDistanceImageFilter()
    f.Execute(_sitk(sa, spacing), _sitk(sb, spacing))
    # SimpleITK's average Hausdorff distance is the mean of the two directed means
    assert (d_ab.mean() + d_ba.mean()) / 2 == pytest.approx(f.GetAverageHausdorffDistance(),
                                                            rel=1e-6)
    s = surface_metrics(b, a, spacing)
    assert s["hd_mm"] == pytest.approx(f.GetHausdorffDistance(), rel=1e-9)
    pooled = (d_ab.sum() + d_ba.sum()) / (d_ab.size + d_ba.size)
    assert s["msd_mm"] == pytest.approx(pooled, rel=1e-12)
    assert s["hd95_mm"] == pytest.approx(max(np.percentile(d_ab, 95), np.percentile(d_ba, 95)))
