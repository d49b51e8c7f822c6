"""Ranking rules: thickness, kernel, deterministic order."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from pipeline.select.config import KernelConfig, KernelRule, ThicknessConfig
from pipeline.select.ranking import CandidateReport, assess_thickness, kernel_class, rank
from pipeline.select.terms import KernelClass

K = KernelClass


@pytest.mark.parametrize(
    ("kernel", "description", "expected"),
    [
        ("B30f", "", K.SOFT_TISSUE),
        ("Br40d", "", K.SOFT_TISSUE),
        ("I31f\\3", "", K.SOFT_TISSUE),
        ("B70f", "", K.BONE),
        ("Br64d", "", K.BONE),
        ("Bl57d", "", K.LUNG),
        ("Hr60", "", K.BONE),
        ("STANDARD", "", K.SOFT_TISSUE),
        ("SOFT", "", K.SOFT_TISSUE),
        ("BONEPLUS", "", K.BONE),
        ("LUNG", "", K.LUNG),
        ("FC08", "", K.SOFT_TISSUE),
        ("FC52", "", K.BONE),
        ("B", "", K.SOFT_TISSUE),
        ("L", "", K.LUNG),
        ("", "Thorax Lunge 1mm", K.LUNG),
        ("", "Abdomen 1mm", K.UNKNOWN),
    ],
)
def test_kernel_classes(kernel, description, expected):
    ds = Dataset()
    if kernel:
        ds.ConvolutionKernel = kernel.split("\\") if "\\" in kernel else kernel
    ds.SeriesDescription = description
    assert kernel_class(ds, KernelConfig()) is expected


def test_kernel_rules_are_configurable():
    ds = Dataset()
    ds.ConvolutionKernel = "XYZ9"
    config = KernelConfig(rules=(KernelRule(pattern=r"^xyz", kernel_class=K.SOFT_TISSUE),))
    assert kernel_class(ds, config) is K.SOFT_TISSUE


@pytest.mark.parametrize(
    ("thickness", "rejected", "reason"),
    [(0.5, False, None), (3.0, False, None), (4.0, False, "thick_slices"),
     (5.0, False, "thick_slices"), (5.1, True, "too_thick"), (0.3, False, None)],
)
def test_thickness_rules(thickness, rejected, reason):
    result = assess_thickness(thickness, ThicknessConfig())
    assert result.rejected is rejected
    assert [r.split(":")[0] for r in result.reasons] == ([reason] if reason else [])


def test_thinner_preferred_and_thick_penalised():
    cfg = ThicknessConfig()
    scores = [assess_thickness(t, cfg).score for t in (1.0, 3.0, 4.0)]
    assert scores[0] > scores[1] > scores[2]
    assert scores[1] - scores[2] > cfg.thick_penalty


def test_ties_broken_by_series_number_then_uid():
    def report(uid, number, score, accepted=True):
        return CandidateReport(uid, number, "", score=score, accepted=accepted)

    reports = [report("1.3", 5, 10.0), report("1.2", 5, 10.0), report("1.1", 7, 10.0),
               report("1.0", None, 10.0), report("0.9", 1, 99.0, accepted=False),
               report("1.5", 9, 11.0)]
    order = [r.series_instance_uid for r in rank(reports)]
    assert order == ["1.5", "1.2", "1.3", "1.1", "1.0", "0.9"]
    assert [r.series_instance_uid for r in rank(list(reversed(reports)))] == order
