"""Post-processing rules on hand-made label maps."""

from __future__ import annotations

import numpy as np

from pipeline.segment.config import PostProcessRule
from pipeline.segment.postprocess import (
    apply_rules,
    components_touching,
    fill_holes_nearest,
    largest_component,
    remove_small_components,
    within_distance,
)
from pipeline.structures import Structure

LABELS = {1: Structure.COUINAUD_1, 2: Structure.COUINAUD_2, 9: Structure.METASTASIS,
          10: Structure.PORTAL_VEIN}
SPACING = (2.0, 1.0, 1.0)


def _blank() -> np.ndarray:
    return np.zeros((10, 20, 20), np.uint8)


def test_largest_component_keeps_the_biggest() -> None:
    mask = np.zeros((5, 10, 10), bool)
    mask[0:2, 0:2, 0:2] = True
    mask[2:5, 5:9, 5:9] = True
    out = largest_component(mask)
    assert out[3, 6, 6] and not out[0, 0, 0]
    assert int(out.sum()) == 3 * 4 * 4


def test_remove_small_components_threshold() -> None:
    mask = np.zeros((5, 10, 10), bool)
    mask[0, 0, 0:3] = True  # 3 voxels
    mask[3, 5:7, 5:7] = True  # 4 voxels
    out = remove_small_components(mask, 4)
    assert not out[0, 0, 0] and out[3, 5, 5]


def test_liver_rule_acts_on_the_union_of_parts() -> None:
    lm = _blank()
    lm[2:8, 2:10, 2:10] = 1
    lm[2:8, 2:10, 10:18] = 2          # touches segment 1: one liver with two parts
    lm[0, 0, 0] = 2                    # island
    lm[5, 5, 5] = 0                    # hole inside segment 1
    rules = {Structure.LIVER: PostProcessRule(largest_component=True, fill_holes=True)}
    out = apply_rules(lm, LABELS, rules, SPACING, ())
    assert out[0, 0, 0] == 0
    assert out[5, 5, 5] == 1           # filled with the nearest part
    assert (out[2:8, 2:10, 10:18] == 2).all()


def test_fill_holes_nearest_uses_nearest_label() -> None:
    lm = _blank()
    lm[2:8, 2:18, 2:10] = 1
    lm[2:8, 2:18, 10:18] = 2
    lm[5, 9, 15] = 0
    out = fill_holes_nearest(lm, [1, 2])
    assert out[5, 9, 15] == 2


def test_min_island_volume_in_ml() -> None:
    lm = _blank()
    lm[2:8, 2:10, 2:10] = 1
    lm[0, 15:17, 15:17] = 1            # 4 voxels x 2 mm^3 = 0.008 mL
    rules = {Structure.COUINAUD_1: PostProcessRule(min_island_ml=0.01)}
    out = apply_rules(lm, LABELS, rules, SPACING, ())
    assert out[0, 15, 15] == 0 and out[4, 4, 4] == 1
    rules = {Structure.COUINAUD_1: PostProcessRule(min_island_ml=0.005)}
    assert apply_rules(lm, LABELS, rules, SPACING, ())[0, 15, 15] == 1


def test_tumour_outside_liver_is_removed() -> None:
    lm = _blank()
    lm[2:8, 2:12, 2:12] = 1
    lm[4:6, 5:8, 5:8] = 9              # inside segment 1
    lm[4:6, 15:18, 15:18] = 9          # in the body, away from the liver
    rules = {Structure.METASTASIS: PostProcessRule(inside_liver=True)}
    out = apply_rules(lm, LABELS, rules, SPACING, ())
    assert (out[4:6, 5:8, 5:8] == 9).all()
    assert (out[4:6, 15:18, 15:18] == 0).all()


def test_components_touching_contact_fraction() -> None:
    region = np.zeros((6, 12, 12), bool)
    region[:, :, :6] = True
    comp = np.zeros_like(region)
    comp[2:4, 4:6, 6:8] = True          # touches the region on one side
    assert components_touching(comp, region, 0.1).any()
    assert not components_touching(comp, region, 0.9).any()


def test_vessel_clipped_to_liver_distance() -> None:
    lm = _blank()
    lm[2:8, 2:10, 2:8] = 1
    lm[5, 5, 8:20] = 10                 # vessel leaving the liver along x (1 mm voxels)
    rules = {Structure.PORTAL_VEIN: PostProcessRule(clip_to_liver_mm=5.0)}
    out = apply_rules(lm, LABELS, rules, SPACING, ())
    kept = np.flatnonzero(out[5, 5] == 10)
    assert kept.min() == 8 and kept.max() == 12   # x = 8..12: 1..5 mm from x = 7


def test_within_distance_empty_region_clears_all() -> None:
    mask = np.ones((3, 3, 3), bool)
    assert not within_distance(mask, np.zeros_like(mask), (1, 1, 1), 10.0).any()


def test_rules_on_the_bounding_box_equal_the_whole_array() -> None:
    """Working inside each mask's bounding box changes no voxel (blobs touch the edges)."""
    from scipy import ndimage

    rng = np.random.default_rng(3)
    mask = ndimage.gaussian_filter(rng.random((24, 40, 40)), 1.5) > 0.53
    mask[:, :5, :] = False   # some empty border so the box is a real crop
    region = (ndimage.gaussian_filter(rng.random(mask.shape), 2.0) > 0.5) & ~mask
    structure = np.ones((3, 3, 3), bool)
    lab, n = ndimage.label(mask, structure=structure)
    counts = np.bincount(lab.ravel(), minlength=n + 1)
    assert n > 3
    assert np.array_equal(largest_component(mask), lab == np.argmax(counts[1:]) + 1)
    assert np.array_equal(remove_small_components(mask, 20),
                          np.isin(lab, np.flatnonzero(counts >= 20)) & mask)
    touching = components_touching(mask, region, 0.5)
    kept = set()
    for index in range(1, n + 1):
        comp = lab == index
        shell = ndimage.binary_dilation(comp, structure=structure) & ~comp
        keep = bool((shell & region).sum() / shell.sum() >= 0.5)
        assert bool(touching[comp].all()) == keep and bool(touching[comp].any()) == keep
        kept.add(keep)
    assert kept == {True, False}
    far = np.zeros_like(mask)
    far[:, 30:, 30:] = mask[:, 30:, 30:]   # a mask whose box covers part of the region's
    for distance in (1.5, 4.0):
        whole = ndimage.distance_transform_edt(~region, sampling=(2.0, 1.0, 1.0)) <= distance
        assert np.array_equal(within_distance(far, region, (2.0, 1.0, 1.0), distance),
                              far & whole)
