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
