"""Coded concepts, units and the private-scheme documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.encode import codes

DOC = Path(__file__).parents[3] / "docs" / "sr-private-codes.md"


def test_every_private_code_is_documented_with_its_meaning() -> None:
    rows = dict(re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", DOC.read_text(), re.MULTILINE))
    assert codes.PRIVATE_CODES
    for code in codes.PRIVATE_CODES:
        assert rows.get(code.value) == code.meaning, code.value


def test_private_codes_are_unique_and_fit_dicom() -> None:
    values = [c.value for c in codes.PRIVATE_CODES]
    assert len(values) == len(set(values))
    assert all(len(v) <= 16 for v in values)  # Code Value (SH)
    assert all(len(c.meaning) <= 64 for c in codes.PRIVATE_CODES)  # Code Meaning (LO)


def test_units_are_ucum() -> None:
    assert codes.unit("mL").scheme == "UCUM"
    assert codes.unit("mL").value == "mL"
    with pytest.raises(KeyError):
        codes.unit("furlong")


def test_rule_and_formula_codes_are_documented() -> None:
    rows = dict(re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", DOC.read_text(), re.MULTILINE))
    for rule_id, meaning in codes.RULES.items():
        assert rows.get(rule_id) == meaning, rule_id
        assert len(meaning) <= 64
    for code in codes.FORMULAS.values():
        assert rows.get(code.value) == code.meaning, code.value
