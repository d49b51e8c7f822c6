"""Stage label maps composed by priority, with later stages replacing structures."""

from __future__ import annotations

import numpy as np

from pipeline.segment.composition import StageMap, StageMaps
from pipeline.segment.result import OUTPUT_LABEL_VALUES
from pipeline.structures import Structure

SHAPE = (4, 6, 6)
WHOLE = (slice(None),) * 3
INNER = (slice(1, 3), slice(1, 5), slice(1, 5))


def _first_stage() -> StageMap:
    labelmap = np.zeros(SHAPE, np.uint8)
    labelmap[:, :3] = 1      # liver segment 5
    labelmap[:, 3:] = 2      # IVC
    return StageMap(WHOLE, labelmap, {1: Structure.COUINAUD_5, 2: Structure.IVC})


def test_mask_of_structures_and_union() -> None:
    maps = StageMaps(SHAPE)
    maps.add(_first_stage())
    assert maps.mask([Structure.IVC]).sum() == 4 * 3 * 6
    assert maps.mask([Structure.IVC, Structure.COUINAUD_5]).all()
    assert not maps.mask([Structure.METASTASIS]).any()


def test_priority_decides_overlaps_and_later_stage_replaces() -> None:
    maps = StageMaps(SHAPE)
    maps.add(_first_stage())
    lesion = np.zeros((2, 4, 4), np.uint8)
    lesion[:, :2] = 7                  # metastasis over segment 5 and the IVC rows 1-2
    lesion[:, 2:, :2] = 3              # a second-stage IVC: replaces the first stage's IVC
    maps.add(StageMap(INNER, lesion, {7: Structure.METASTASIS, 3: Structure.IVC}))
    out = maps.compose([Structure.METASTASIS, Structure.IVC])
    met, ivc = OUTPUT_LABEL_VALUES[Structure.METASTASIS], OUTPUT_LABEL_VALUES[Structure.IVC]
    seg5 = OUTPUT_LABEL_VALUES[Structure.COUINAUD_5]
    assert (out[1:3, 1:3, 1:5] == met).all()
    assert (out[1:3, 3:5, 1:3] == ivc).all()
    assert int((out == ivc).sum()) == 2 * 2 * 2        # the first stage's IVC is gone
    assert (out[0, :3] == seg5).all() and (out[0, 3:] == 0).all()
    assert maps.structures == [Structure.COUINAUD_5, Structure.IVC, Structure.METASTASIS]


def test_unlisted_structures_rank_last_and_later_stage_wins_ties() -> None:
    maps = StageMaps(SHAPE)
    maps.add(_first_stage())
    overlay = np.full((2, 4, 4), 4, np.uint8)
    maps.add(StageMap(INNER, overlay, {4: Structure.PORTAL_VEIN}))
    out = maps.compose([])
    assert (out[INNER] == OUTPUT_LABEL_VALUES[Structure.PORTAL_VEIN]).all()
    out = maps.compose([Structure.COUINAUD_5, Structure.IVC])
    assert (out[INNER][:, :2] == OUTPUT_LABEL_VALUES[Structure.COUINAUD_5]).all()


def _reference_compose(stages: list[StageMap], owner: dict[Structure, int],
                       priority: list[Structure]) -> np.ndarray:
    """Voxel by voxel: the owned structure of highest priority (later stage at equal rank)."""
    rank = {s: min(i, 254) for i, s in enumerate(priority)}
    out = np.zeros(SHAPE, np.uint8)
    out_rank = np.full(SHAPE, 255, np.uint8)
    for index, stage in enumerate(stages):
        for value, structure in stage.labels.items():
            if owner[structure] != index:
                continue
            r = rank.get(structure, min(len(rank), 254))
            take = np.zeros(SHAPE, bool)
            take[stage.box] = (stage.labelmap == value) & (out_rank[stage.box] >= r)
            out[take] = OUTPUT_LABEL_VALUES[structure]
            out_rank[take] = r
    return out


def test_compose_equals_a_voxelwise_reference_on_random_maps() -> None:
    """One stage (the fast path, label values equal to the output values or not) and two."""
    rng = np.random.default_rng(5)
    identity = {v: s for s, v in OUTPUT_LABEL_VALUES.items() if v <= 12}
    renamed = {1: Structure.IVC, 3: Structure.COUINAUD_5, 4: Structure.METASTASIS}
    priority = [Structure.METASTASIS, Structure.IVC]
    for labels in (identity, renamed, {5: Structure.IVC}):
        first = StageMap(WHOLE, rng.integers(0, 14, SHAPE).astype(np.uint8), labels)
        maps = StageMaps(SHAPE)
        maps.add(first)
        owner = {s: 0 for s in labels.values()}
        assert np.array_equal(maps.compose(priority), _reference_compose([first], owner,
                                                                        priority))
        second = StageMap(INNER, rng.integers(0, 5, (2, 4, 4)).astype(np.uint8),
                          {1: Structure.PORTAL_VEIN, 2: Structure.IVC, 4: Structure.METASTASIS})
        maps.add(second)
        owner.update({s: 1 for s in second.labels.values()})
        assert np.array_equal(maps.compose(priority),
                              _reference_compose([first, second], owner, priority))
