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


def test_vessel_clipped_to_liver_on_its_grown_box_or_the_whole_window() -> None:
    lm = np.zeros((10, 40, 40), np.uint8)
    lm[2:8, 2:10, 2:8] = 1                # the liver
    lm[5, 5, 8:12] = 10                   # a vessel leaving it: decided on its grown box
    lm[5, 30:38, 30] = 11                 # a vessel far from it: no liver in its grown box
    labels = {**LABELS, 11: Structure.HEPATIC_VEIN}
    rules = {Structure.PORTAL_VEIN: PostProcessRule(clip_to_liver_mm=2.0),
             Structure.HEPATIC_VEIN: PostProcessRule(clip_to_liver_mm=3.0)}
    out = apply_rules(lm, labels, rules, SPACING, ())
    assert np.flatnonzero(out[5, 5] == 10).tolist() == [8, 9]
    assert not (out == 11).any()
    liver = lm == 1
    for value, distance in ((10, 2.0), (11, 3.0)):
        expected = within_distance(lm == value, liver, SPACING, distance)
        assert np.array_equal(out == value, expected)


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


_FULL = np.ones((3, 3, 3), bool)


def _reference_rules(labelmap: np.ndarray, labels: dict[int, Structure],
                     rules: dict[Structure, PostProcessRule], spacing: tuple[float, ...],
                     order: tuple[Structure, ...]) -> np.ndarray:
    """The rules written plainly on the whole array (np.isin, whole-array labelling and
    distance transforms). Only the nearest-label fill of the liver's holes takes its
    distance transform on the liver's box grown by one voxel, as documented: equidistant
    labels are resolved by that transform's choice."""
    from scipy import ndimage

    from pipeline.structures import COUINAUD_SEGMENTS, liver_labels

    def components(mask: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
        lab, n = ndimage.label(mask, structure=_FULL)
        return lab, n, np.bincount(lab.ravel(), minlength=n + 1)

    def remove_small(mask: np.ndarray, min_voxels: float) -> np.ndarray:
        lab, _n, counts = components(mask)
        keep = counts >= min_voxels
        keep[0] = False
        return keep[lab]

    def largest(mask: np.ndarray) -> np.ndarray:
        lab, n, counts = components(mask)
        return mask.copy() if n == 0 else lab == np.argmax(counts[1:]) + 1

    def touching(mask: np.ndarray, region: np.ndarray, min_contact: float) -> np.ndarray:
        lab, _n, _ = components(mask)
        kept = np.zeros_like(mask)
        for index, box in enumerate(ndimage.find_objects(lab), start=1):
            # the dilation reaches one voxel: the component's box grown by one holds it
            box = tuple(slice(max(0, b.start - 1), b.stop + 1) for b in box)
            comp = np.zeros_like(mask)
            comp[box] = lab[box] == index
            shell = ndimage.binary_dilation(comp[box], structure=_FULL) & ~comp[box]
            contact = (shell & region[box]).sum() / shell.sum() if shell.sum() else 1.0
            if contact >= min_contact or (comp & region).any():
                kept |= comp
        return kept

    def clip(mask: np.ndarray, region: np.ndarray, distance: float) -> np.ndarray:
        if not region.any():
            return mask & region
        near = ndimage.distance_transform_edt(~region, sampling=spacing) <= distance
        return mask & (region | near)

    out = labelmap.copy()
    voxel_ml = float(np.prod(spacing)) / 1000.0
    liver_values = liver_labels(labels)
    parenchyma_values = [v for v, s in labels.items()
                         if s in {Structure.LIVER, *COUINAUD_SEGMENTS}]
    if Structure.LIVER in rules and liver_values:
        rule = rules[Structure.LIVER]
        union = np.isin(out, liver_values)
        keep = union
        if rule.min_island_ml > 0:
            keep = remove_small(keep, rule.min_island_ml / voxel_ml)
        if rule.largest_component:
            keep = largest(keep)
        out[union & ~keep] = 0
        union = np.isin(out, liver_values)
        if rule.fill_holes and union.any():
            holes = ndimage.binary_fill_holes(union) & (out == 0)
            box = tuple(slice(max(0, int(i.min()) - 1), int(i.max()) + 2)
                        for i in np.nonzero(union))
            _, idx = ndimage.distance_transform_edt(~union[box], return_indices=True)
            nearest = np.zeros_like(out)
            nearest[box] = out[box][tuple(idx)]
            out[holes] = nearest[holes]
    value_of = {s: v for v, s in labels.items()}
    for structure in [s for s in order if s in rules] + [s for s in rules if s not in order]:
        value = value_of.get(structure)
        if structure == Structure.LIVER or value is None:
            continue
        rule = rules[structure]
        mask = out == value
        keep = mask
        if rule.min_island_ml > 0:
            keep = remove_small(keep, rule.min_island_ml / voxel_ml)
        if rule.largest_component:
            keep = largest(keep)
        if rule.inside_liver:
            keep = touching(keep, np.isin(out, parenchyma_values), rule.inside_liver_min_contact)
        if rule.clip_to_liver_mm is not None:
            keep = clip(keep, np.isin(out, [*parenchyma_values, *liver_values]),
                        rule.clip_to_liver_mm)
        out[mask & ~keep] = 0
        if rule.fill_holes:
            out[ndimage.binary_fill_holes(out == value) & (out == 0)] = value
    return out


def _blobs(rng: np.random.Generator, shape: tuple[int, int, int], n_labels: int) -> np.ndarray:
    """Random label map: smooth random fields, the strongest above a threshold wins."""
    from scipy import ndimage

    fields = np.stack([ndimage.gaussian_filter(rng.random(shape), 1.5)
                       for _ in range(n_labels)])
    out = (np.argmax(fields, axis=0) + 1).astype(np.uint8)
    out[fields.max(axis=0) < 0.52] = 0
    return out


def _rule_sets(voxel_ml: float) -> list[dict[Structure, PostProcessRule]]:
    from pipeline.segment.config import SegmentationConfig
    from pipeline.structures import COUINAUD_SEGMENTS

    default = dict(SegmentationConfig().postprocess)
    scaled = {s: r.model_copy(update={"min_island_ml": 20 * voxel_ml if r.min_island_ml else 0.0})
              for s, r in default.items()}
    every = {s: PostProcessRule(largest_component=i % 3 == 0, fill_holes=i % 2 == 0,
                                min_island_ml=(i % 4) * 5 * voxel_ml)
             for i, s in enumerate(COUINAUD_SEGMENTS)}
    every[Structure.LIVER] = PostProcessRule(largest_component=True, fill_holes=True,
                                             min_island_ml=10 * voxel_ml)
    every[Structure.METASTASIS] = PostProcessRule(inside_liver=True, fill_holes=True,
                                                  inside_liver_min_contact=0.6)
    every[Structure.PORTAL_VEIN] = PostProcessRule(clip_to_liver_mm=2.5, fill_holes=True)
    every[Structure.HEPATIC_VEIN] = PostProcessRule(clip_to_liver_mm=0.9, largest_component=True)
    every[Structure.IVC] = PostProcessRule(largest_component=True, inside_liver=True,
                                           clip_to_liver_mm=6.0)
    return [default, scaled, every]


def test_apply_rules_equals_the_whole_array_reference_on_random_blobs() -> None:
    """Bit-identical to the plain whole-array rules: label maps with empty borders (a real
    crop) and touching the array's faces, anisotropic spacings where the vessel distances
    come from the k-d tree and integer ones where many equal the clipping distance (the
    distance transform decides those)."""
    from pipeline.structures import DEMO_LABELS

    rng = np.random.default_rng(11)
    order = (Structure.METASTASIS, Structure.IVC, Structure.PORTAL_VEIN)
    for trial in range(6):
        labelmap = _blobs(rng, (20, 36, 40), 12)
        if trial % 2:
            labelmap[:3] = 0
            labelmap[:, -6:] = 0
            labelmap[:, :, :4] = 0
        for spacing in ((1.25, 0.82031, 0.82031), (2.0, 1.0, 1.0)):
            voxel_ml = float(np.prod(spacing)) / 1000.0
            for rules in _rule_sets(voxel_ml):
                expected = _reference_rules(labelmap, DEMO_LABELS, rules, spacing, order)
                out = apply_rules(labelmap, DEMO_LABELS, rules, spacing, order)
                assert np.array_equal(out, expected), (trial, spacing)
                assert not np.array_equal(out, labelmap)


def test_apply_rules_equals_the_whole_array_reference_on_a_demo_phantom() -> None:
    """A rendered demo phantom (4 mm) with speckle, cut-outs and stray blobs."""
    from pipeline.segment.config import SegmentationConfig
    from pipeline.structures import DEMO_LABELS
    from pipeline.synth.render import render_training_case

    _, truth, spacing_np = render_training_case(1000, spacing_zyx_mm=(4.0, 4.0, 4.0))
    spacing = tuple(float(s) for s in spacing_np)
    rng = np.random.default_rng(2)
    noisy = truth.copy()
    speckle = rng.random(truth.shape) < 0.002
    noisy[speckle] = rng.integers(0, 13, int(speckle.sum()))
    noisy[_blobs(rng, truth.shape, 12) == 3] = 9     # tumours in and out of the liver
    noisy[20:24, 30:34, 40:44] = 0                    # a hole
    config = SegmentationConfig()
    order = tuple(config.priority)
    for rules in [dict(config.postprocess), *_rule_sets(float(np.prod(spacing)) / 1000.0)]:
        expected = _reference_rules(noisy, DEMO_LABELS, rules, spacing, order)
        assert np.array_equal(apply_rules(noisy, DEMO_LABELS, rules, spacing, order), expected)


def test_within_distance_tree_and_transform_agree() -> None:
    """Anisotropic spacing (k-d tree) and integer spacing with distances equal to the
    clipping distance (the transform decides): both equal the whole-array transform."""
    from scipy import ndimage

    rng = np.random.default_rng(7)
    region = ndimage.gaussian_filter(rng.random((30, 50, 50)), 2.0) > 0.53
    mask = (ndimage.gaussian_filter(rng.random(region.shape), 1.0) > 0.55) & ~region
    for spacing, distances in (((1.25, 0.82031, 0.82031), (0.5, 3.0, 30.0)),
                               ((2.0, 1.0, 1.0), (1.0, 2.0, 5.0))):
        edt = ndimage.distance_transform_edt(~region, sampling=spacing)
        for distance in distances:
            assert np.array_equal(within_distance(mask, region, spacing, distance),
                                  mask & (region | (edt <= distance)))


def test_value_counts_equal_bincount() -> None:
    from pipeline.segment import geometry

    rng = np.random.default_rng(4)
    chunk = geometry._COUNT_CHUNK
    for size, top, minlength in ((0, 1, 0), (0, 1, 5), (10, 3, 0), (3 * chunk + 17, 200, 256),
                                 (2 * chunk, 7, 0)):
        values = rng.integers(0, top, size).astype(np.uint8)
        values[-chunk // 2:] = top - 1 if size else 0   # the largest value only in the last chunk
        grid = values.reshape(-1, 1)[:, [0, 0]]           # not contiguous
        for array in (values, grid):
            expected = np.bincount(array.ravel(), minlength=minlength)
            got = geometry.value_counts(array, minlength)
            assert got.dtype == expected.dtype and np.array_equal(got, expected)


def _fill_holes_nearest_reference(labelmap: np.ndarray, values: list[int]) -> np.ndarray:
    """The rule with scipy's hole filling and a feature transform of the whole box."""
    from scipy import ndimage

    from pipeline.segment.geometry import bounding_box

    union = np.isin(labelmap, values)
    out = labelmap.copy()
    box = bounding_box(union, (1.0, 1.0, 1.0), 1.0)
    if box is None:
        return out
    sub = out[box]
    holes = ndimage.binary_fill_holes(union[box]) & (sub == 0)
    _, idx = ndimage.distance_transform_edt(~union[box], return_indices=True)
    sub[holes] = sub[tuple(idx)][holes]
    return out


def test_enclosed_background_is_what_binary_fill_holes_adds() -> None:
    from scipy import ndimage

    from pipeline.segment.geometry import enclosed_background

    rng = np.random.default_rng(11)
    for shape, density in (((7, 9, 11), 0.5), ((12, 12, 12), 0.7), ((1, 5, 5), 0.6),
                           ((6, 6, 6), 0.0), ((4, 4, 4), 1.0)):
        mask = rng.random(shape) < density
        expected = ndimage.binary_fill_holes(mask) & ~mask
        assert np.array_equal(enclosed_background(mask), expected)
    shell = np.ones((5, 5, 5), bool)
    shell[1:4, 1:4, 1:4] = False
    assert int(enclosed_background(shell).sum()) == 27


def test_fill_holes_nearest_equals_scipy_on_random_maps() -> None:
    rng = np.random.default_rng(5)
    changed = 0
    for _ in range(120):
        shape = tuple(int(n) for n in rng.integers(8, 26, 3))
        lm = np.zeros(shape, np.uint8)
        grid = np.indices(shape)
        for _ in range(int(rng.integers(1, 4))):
            centre, radius = rng.uniform(0, shape), rng.uniform(3, 10)
            ball = sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) < radius ** 2
            lm[ball] = rng.integers(1, 4)
        lm[rng.random(shape) < rng.uniform(0.01, 0.3)] = 0   # holes, many equidistant
        lm[rng.random(shape) < 0.02] = 7                     # other labels inside
        expected = _fill_holes_nearest_reference(lm, [1, 2, 3])
        assert np.array_equal(fill_holes_nearest(lm, [1, 2, 3]), expected)
        changed += int(not np.array_equal(expected, lm))
    assert changed > 50   # the maps had holes to fill
