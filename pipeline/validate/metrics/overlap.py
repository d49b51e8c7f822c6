"""Voxel overlap of a predicted and a reference mask.

Empty masks: both empty -> Dice, Jaccard, precision and recall 1, FPR and FNR 0 (the
structure is correctly absent). Prediction empty, reference not -> Dice, Jaccard, recall 0,
FNR 1, precision NaN (no predicted voxel to be right or wrong). Reference empty, prediction
not -> Dice, Jaccard, precision 0, recall and FNR NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Confusion:
    """Voxel counts of a prediction against a reference.

    Parameters
    ----------
    tp, fp, fn, tn : int
        True positive, false positive, false negative and true negative voxels.
    """

    tp: int
    fp: int
    fn: int
    tn: int


def confusion(pred: NDArray[np.bool_], ref: NDArray[np.bool_]) -> Confusion:
    """Count the voxels of each outcome.

    Parameters
    ----------
    pred, ref : ndarray of bool
        Predicted and reference masks of equal shape.

    Returns
    -------
    Confusion
        The four counts.
    """
    if pred.shape != ref.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {ref.shape}")
    tp = int(np.count_nonzero(pred & ref))
    n_pred = int(np.count_nonzero(pred))
    n_ref = int(np.count_nonzero(ref))
    return Confusion(tp=tp, fp=n_pred - tp, fn=n_ref - tp, tn=int(pred.size) - n_pred - n_ref + tp)


def _ratio(num: int, den: int) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


def overlap_metrics(c: Confusion) -> dict[str, float]:
    """Dice, Jaccard, precision, recall, FPR and FNR from voxel counts.

    Parameters
    ----------
    c : Confusion
        Voxel counts.

    Returns
    -------
    dict[str, float]
        ``dice`` = 2TP/(2TP+FP+FN), ``jaccard`` = TP/(TP+FP+FN), ``precision`` =
        TP/(TP+FP), ``recall`` = TP/(TP+FN), ``fpr`` = FP/(FP+TN), ``fnr`` = FN/(TP+FN);
        all dimensionless in [0, 1]; empty-mask rules in the module docstring.
    """
    if c.tp + c.fp + c.fn == 0:
        return {"dice": 1.0, "jaccard": 1.0, "precision": 1.0, "recall": 1.0,
                "fpr": _ratio(c.fp, c.fp + c.tn), "fnr": 0.0}
    return {
        "dice": _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn),
        "jaccard": _ratio(c.tp, c.tp + c.fp + c.fn),
        "precision": _ratio(c.tp, c.tp + c.fp),
        "recall": _ratio(c.tp, c.tp + c.fn),
        "fpr": _ratio(c.fp, c.fp + c.tn),
        "fnr": _ratio(c.fn, c.tp + c.fn),
    }
