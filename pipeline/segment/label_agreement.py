"""How far one label map is from the argmax of reference logits: differing voxels, how many
of them are argmax ties of the reference, and the Dice of every label.

Used to show that :mod:`pipeline.segment.sliding_window` gives nnU-Net's label maps: a voxel
whose two best reference logits lie within ``tie_margin`` has no well-defined label at the
reference's own precision (nnU-Net accumulates its tiles in float16), so a different label
there is a tie, not a disagreement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray


@dataclass(frozen=True)
class LabelAgreement:
    """Agreement of a label map with the argmax of reference logits.

    Parameters
    ----------
    voxels : int
        Voxels compared.
    differing : int
        Voxels whose labels differ.
    ties : int
        Differing voxels where the reference's two best logits are within the tie margin.
    dice : dict[int, float]
        Dice of each label present in either map (background included).
    """

    voxels: int
    differing: int
    ties: int
    dice: dict[int, float]

    @property
    def min_dice(self) -> float:
        """The smallest Dice over the labels (1.0 when no label is present)."""
        return min(self.dice.values(), default=1.0)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready figures."""
        return {
            "voxels": self.voxels,
            "differing": self.differing,
            "ties": self.ties,
            "not_ties": self.differing - self.ties,
            "min_dice": round(self.min_dice, 5),
            "dice": {str(k): round(v, 5) for k, v in self.dice.items()},
        }


def top2_margin(logits: torch.Tensor) -> torch.Tensor:
    """Best minus second-best logit per voxel, float32 (``inf`` with a single class)."""
    if logits.shape[0] < 2:
        return torch.full(logits.shape[1:], float("inf"))
    top = torch.topk(logits.float(), 2, dim=0).values
    return top[0] - top[1]


def compare_labels(
    labels: NDArray[np.uint8], reference_logits: torch.Tensor, tie_margin: float
) -> LabelAgreement:
    """Compare ``labels`` with the argmax of ``reference_logits``.

    Parameters
    ----------
    labels : ndarray of uint8, shape (z, y, x)
        Label map under test.
    reference_logits : torch.Tensor, shape (classes, z, y, x)
        Reference logits (any device, any float type).
    tie_margin : float
        Largest best-minus-second-best reference logit gap counted as a tie.

    Returns
    -------
    LabelAgreement
    """
    ref_logits = reference_logits.detach().to("cpu")
    reference = torch.max(ref_logits.float(), 0).indices.numpy().astype(np.uint8)
    if reference.shape != labels.shape:
        raise ValueError(f"shapes differ: {labels.shape} and {reference.shape}")
    differ = labels != reference
    margin = top2_margin(ref_logits).numpy()
    ties = int(np.count_nonzero(differ & (margin <= tie_margin)))
    dice: dict[int, float] = {}
    counts_a = np.bincount(labels.ravel(), minlength=256)
    counts_b = np.bincount(reference.ravel(), minlength=256)
    same = np.bincount(labels[~differ].ravel(), minlength=256)
    for value in np.flatnonzero(counts_a + counts_b):
        dice[int(value)] = float(2 * same[value] / (counts_a[value] + counts_b[value]))
    return LabelAgreement(int(labels.size), int(np.count_nonzero(differ)), ties, dice)
