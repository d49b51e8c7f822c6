"""The stages' label maps and their composition into one label map on the CT grid.

Each stage's label map is kept as the model produced it (its label values, inside the box
the stage ran on); a structure belongs to the last stage that produced it. Masks are made
on demand (cascades) and the composition takes one table lookup per stage instead of one
full-grid boolean mask per structure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.segment.result import OUTPUT_LABEL_VALUES
from pipeline.structures import PLANNING_REGIONS, Structure


@dataclass(frozen=True)
class StageMap:
    """One stage's label map.

    Parameters
    ----------
    box : tuple of slice
        Where on the CT grid (z, y, x) the stage ran.
    labelmap : ndarray of uint8
        The model's label values inside ``box``.
    labels : dict[int, Structure]
        Model label value -> structure.
    """

    box: tuple[slice, ...]
    labelmap: NDArray[np.uint8]
    labels: dict[int, Structure]


def _lookup(table: NDArray[np.uint8], labelmap: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``table[labelmap]``; ``labelmap`` itself (not a copy) where the table maps every
    value up to the map's maximum to itself (a model whose label values are the output
    values): one reduction instead of a lookup per voxel."""
    top = int(labelmap.max()) if labelmap.size else 0
    if np.array_equal(table[:top + 1], np.arange(top + 1)):
        return labelmap
    return np.asarray(table[labelmap])


class StageMaps:
    """The label maps of the stages run so far, on a CT grid of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        CT grid (z, y, x).
    """

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.shape = shape
        self._stages: list[StageMap] = []
        self._owner: dict[Structure, int] = {}

    def add(self, stage: StageMap) -> None:
        """Add a stage's output; its structures replace those of earlier stages."""
        self._stages.append(stage)
        for structure in stage.labels.values():
            self._owner[structure] = len(self._stages) - 1

    @property
    def structures(self) -> list[Structure]:
        """Structures produced so far, in the order they first appeared."""
        return list(self._owner)

    def _table(self, index: int, values: dict[Structure, int]) -> NDArray[np.uint8]:
        """Lookup table: stage ``index``'s label value -> ``values[structure]`` for the
        structures that stage owns (0 elsewhere)."""
        table = np.zeros(256, np.uint8)
        for value, structure in self._stages[index].labels.items():
            if self._owner.get(structure) == index and structure in values:
                table[value] = values[structure]
        return table

    def mask(self, structures: Iterable[Structure]) -> NDArray[np.bool_]:
        """Union of the masks of ``structures`` on the full grid (empty for unknown ones)."""
        wanted = dict.fromkeys(structures, 1)
        out = np.zeros(self.shape, bool)
        for index in sorted({self._owner[s] for s in wanted if s in self._owner}):
            stage = self._stages[index]
            out[stage.box] |= self._table(index, wanted).astype(bool)[stage.labelmap]
        return out

    def compose(self, priority: Sequence[Structure]) -> NDArray[np.uint8]:
        """One label map in :data:`OUTPUT_LABEL_VALUES`; where structures overlap, the one
        earlier in ``priority`` wins (unlisted structures rank last; at equal rank the later
        stage wins). Planning regions (:data:`pipeline.structures.PLANNING_REGIONS`) are
        left out: they overlap the liver by definition and are read with :meth:`mask`.
        """
        rank = {s: min(i, 254) for i, s in enumerate(priority)}
        out = np.zeros(self.shape, np.uint8)
        out_rank: NDArray[np.uint8] | None = None
        for index, stage in enumerate(self._stages):
            owned = [s for s in stage.labels.values()
                     if self._owner[s] == index and s not in PLANNING_REGIONS]
            value = _lookup(self._table(index, {s: OUTPUT_LABEL_VALUES[s] for s in owned}),
                            stage.labelmap)
            last = index == len(self._stages) - 1
            if out_rank is None and last:
                # nothing placed yet (ranks are at most 254): every nonzero value is taken
                # and the value is 0 elsewhere, so the box is the value; no ranks needed
                out[stage.box] = value
                continue
            if out_rank is None:
                out_rank = np.full(self.shape, 255, np.uint8)
            ranks = self._table(index, {s: rank.get(s, min(len(rank), 254)) for s in owned})
            cand_rank = ranks[stage.labelmap]
            sub, sub_rank = out[stage.box], out_rank[stage.box]
            take = (value != 0) & (cand_rank <= sub_rank)
            sub[take] = value[take]
            sub_rank[take] = cand_rank[take]
        return out
