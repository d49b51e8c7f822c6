"""The study-level confidence combination (fold agreement: ``test_agreement.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.segment.confidence import combine, lesion_volumes_ml, thickness_term
from pipeline.segment.config import ConfidenceConfig
from pipeline.structures import Structure


def test_thickness_term_is_piecewise_linear() -> None:
    assert thickness_term(1.0, 1.5, 5.0) == 1.0
    assert thickness_term(5.0, 1.5, 5.0) == 0.0
    assert thickness_term(3.25, 1.5, 5.0) == pytest.approx(0.5)


def test_lesion_volumes() -> None:
    m = np.zeros((5, 5, 5), bool)
    m[0, 0, 0:2] = True
    m[3:5, 3:5, 3:5] = True
    assert lesion_volumes_ml(m, (2.0, 1.0, 1.0)) == pytest.approx([0.016, 0.004])


def test_combination_weights_and_no_review() -> None:
    cfg = ConfidenceConfig()
    conf = combine({Structure.LIVER: 0.98, Structure.METASTASIS: 0.90},
                   {Structure.LIVER: 1500.0}, 5.0, 1.0, cfg)
    assert conf.terms == pytest.approx({"agreement": 0.94, "tumour_volume": 1.0,
                                        "slice_thickness": 1.0})
    assert conf.score == pytest.approx(0.6 * 0.94 + 0.2 + 0.2)
    assert not conf.review_recommended and conf.reasons == []


def test_small_tumour_thick_slices_and_disagreement_recommend_review() -> None:
    cfg = ConfidenceConfig()
    conf = combine({Structure.LIVER: 0.80, Structure.METASTASIS: 0.3},
                   {Structure.LIVER: 1500.0, Structure.METASTASIS: 0.2}, 0.2, 5.0, cfg)
    assert conf.review_recommended
    text = " | ".join(conf.reasons)
    assert "small metastasis" in text and "thick slices" in text
    assert "liver: fold agreement" in text and "metastasis: fold agreement" in text
    assert conf.reasons[0].startswith("confidence score")
    assert conf.per_structure[Structure.METASTASIS].flagged
    assert conf.score == pytest.approx(0.6 * 0.55 + 0.2 * 0.2 + 0.0)


def test_weights_are_configurable() -> None:
    cfg = ConfidenceConfig(weight_agreement=1.0, weight_tumour_volume=0.0,
                           weight_slice_thickness=0.0, min_fold_dice={})
    conf = combine({Structure.LIVER: 0.7}, {}, None, 8.0, cfg)
    assert conf.score == pytest.approx(0.7)
    assert conf.review_recommended   # below 0.75 and thick slices


def test_single_fold_models_give_no_agreement_not_a_perfect_one() -> None:
    """One fold has nothing to agree with: the agreement term is left out and said so."""
    cfg = ConfidenceConfig()
    single = {Structure.LIVER, Structure.METASTASIS}
    conf = combine({Structure.LIVER: None, Structure.METASTASIS: None},
                   {Structure.LIVER: 1500.0}, 0.5, 3.25, cfg, single_fold=single)
    assert "agreement" not in conf.terms
    assert conf.score == pytest.approx((0.2 * 0.5 + 0.2 * 0.5) / 0.4)
    assert conf.notes == ["fold agreement unavailable: liver, metastasis segmented by a "
                          "single-fold model; the score uses the tumour-volume and "
                          "slice-thickness terms only"]
    assert conf.to_dict()["notes"] == conf.notes
    assert conf.per_structure[Structure.LIVER].fold_dice is None
    # the same figures from a multi-fold model that found nothing would count as agreeing
    multi = combine({Structure.LIVER: None, Structure.METASTASIS: None},
                    {Structure.LIVER: 1500.0}, 0.5, 3.25, cfg)
    assert multi.terms["agreement"] == 1.0 and multi.notes == []


def test_agreement_of_multi_fold_structures_is_kept_beside_single_fold_ones() -> None:
    cfg = ConfidenceConfig()
    conf = combine({Structure.LIVER: 0.96, Structure.METASTASIS: None},
                   {Structure.LIVER: 1500.0}, None, 1.0, cfg,
                   single_fold={Structure.METASTASIS})
    assert conf.terms["agreement"] == pytest.approx(0.96)
    assert conf.score == pytest.approx(0.6 * 0.96 + 0.4)
    assert conf.notes == ["fold agreement of metastasis unavailable (single-fold model); the "
                          "agreement term uses the other structures"]
