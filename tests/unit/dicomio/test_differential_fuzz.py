"""Differential fuzz (bounded, seeded): the node's receive decision against pydicom's full
read of the file it would spool. ``bench/fuzz.py`` runs the same for longer."""

from __future__ import annotations

import warnings

import pytest
from differential import SEED_FILES, deflate, load_seed, node_reader, run

CASES = 4000
SEED = 20261201


def _without_warnings(
    data_set: bytes, transfer_syntax_uid: str, sop_class_uid: str, sop_instance_uid: str
) -> tuple[str, dict[str, str] | None]:
    """:func:`node_reader`, failing on any warning (pydicom's carry values into the log)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return node_reader(data_set, transfer_syntax_uid, sop_class_uid, sop_instance_uid)


@pytest.mark.parametrize("name", SEED_FILES)
def test_every_seed_is_accepted_as_it_is(name: str) -> None:
    seed = load_seed(name)
    data = deflate(seed.plain) if seed.deflated else seed.plain
    outcome, uids = _without_warnings(
        data, seed.transfer_syntax_uid, seed.sop_class_uid, seed.sop_instance_uid
    )
    assert outcome == "accepted"
    assert uids is not None and uids["SOPInstanceUID"] == seed.sop_instance_uid


@pytest.mark.lenient_dicom  # pydicom's test files hold invalid values on purpose
def test_never_accepted_what_pydicom_cannot_read_and_no_crash() -> None:
    tally = run(_without_warnings, CASES, SEED)
    assert tally.cases == CASES
    assert tally.disagreements == []
    assert tally.outcomes["accepted"] > CASES // 50  # mutations that keep the data set valid
    for status in ("0xC210", "0xA900", "0xC211"):
        assert any(status in outcome for outcome in tally.outcomes), status
