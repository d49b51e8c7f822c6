"""Fixtures of the dosimetry tests; this folder's helper module is put on the import path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dosimetry_cases import RegistrationCase, make_registration_case


@pytest.fixture(scope="session")
def registration_case() -> RegistrationCase:
    """Planning CT, emission CT with a known rigid transform (see :mod:`dosimetry_cases`)."""
    return make_registration_case()

