"""Status classification tables (PS3.4 B.2.3, PS3.8 9.3.4, PS3.18 10.5.3)."""

from __future__ import annotations

import pytest

from dicomnode.delivery.base import DeliveryStatus
from dicomnode.delivery.classify import (
    classify_association_rejection,
    classify_dimse_status,
    classify_http_status,
)

S, W, T, P = (
    DeliveryStatus.SUCCESS,
    DeliveryStatus.WARNING,
    DeliveryStatus.TRANSIENT,
    DeliveryStatus.PERMANENT,
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0x0000, S),
        (0x0001, W),
        (0xB000, W),
        (0xB006, W),
        (0xB007, W),
        (0xBFFF, W),
        (0xA700, T),
        (0xA7FF, T),
        (None, T),
        (0x0122, P),
        (0x0124, P),
        (0x0117, P),
        (0x0211, P),
        (0xA900, P),
        (0xA9FF, P),
        (0xC000, P),
        (0xCFFF, P),
        (0xA800, P),
    ],
)
def test_dimse_status(status, expected):
    assert classify_dimse_status(status) is expected


@pytest.mark.parametrize(("result", "expected"), [(0x01, P), (0x02, T), (None, P)])
def test_association_rejection(result, expected):
    assert classify_association_rejection(result) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (200, S),
        (202, W),
        (204, W),
        (301, P),
        (400, P),
        (401, P),
        (403, P),
        (404, P),
        (408, T),
        (409, P),
        (415, P),
        (429, T),
        (500, T),
        (502, T),
        (503, T),
    ],
)
def test_http_status(code, expected):
    assert classify_http_status(code) is expected


def test_delivered_means_stored():
    assert [s.delivered for s in (S, W, T, P)] == [True, True, False, False]
