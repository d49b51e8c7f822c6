"""Warnings of result.json become SR quality flags whose codes fit a Code Value (16 chars)."""

from __future__ import annotations

import pytest

from pipeline.encode.content import Severity
from pipeline.quantify.quality import Finding
from pipeline.run.report_content import quality_flags, sr_flag_code

QUANTIFICATION_CODES = [
    "INCOMPLETE_COVERAGE", "THICK_SLICES", "SLICE_THICKNESS_UNKNOWN", "LOW_CONFIDENCE",
    "PATIENT_HEIGHT_MISSING", "PATIENT_WEIGHT_MISSING", "PATIENT_HEIGHT_IMPLAUSIBLE",
    "PATIENT_WEIGHT_IMPLAUSIBLE", "STUDY_REJECTED", "SEGMENTATION",
]
"""Codes pipeline/quantify/quality.py and pipeline/run/study.py write into result.json."""


@pytest.mark.parametrize("code", QUANTIFICATION_CODES)
def test_every_warning_code_becomes_a_valid_flag(code: str) -> None:
    (flag,) = quality_flags([Finding(code, "m", [], "warning")])
    assert 0 < len(flag.code) <= 16
    assert flag.code == (code if len(code) <= 16 else sr_flag_code(code))


def test_long_codes_map_to_the_documented_short_codes() -> None:
    assert sr_flag_code("INCOMPLETE_COVERAGE") == "INCOMPLETE"  # docs/sr-private-codes.md
    assert len({sr_flag_code(c) for c in QUANTIFICATION_CODES}) == len(QUANTIFICATION_CODES)


def test_withheld_figures_are_errors() -> None:
    flags = quality_flags([
        Finding("INCOMPLETE_COVERAGE", "ivc touches the edge", ["ivc"], "withheld"),
        Finding("THICK_SLICES", "5 mm", ["volumes_ml"], "warning")])
    assert [(f.code, f.severity) for f in flags] == [
        ("INCOMPLETE", Severity.ERROR), ("THICK_SLICES", Severity.WARNING)]
    assert flags[0].message == "ivc touches the edge"
