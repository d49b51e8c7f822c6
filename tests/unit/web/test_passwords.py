"""Password hashing: salted scrypt, constant-time verification, malformed hashes refused."""

from __future__ import annotations

import pytest

from dicomnode.web.passwords import hash_password, verify_password


def test_hash_verifies_only_the_right_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same password") != hash_password("same password")


@pytest.mark.parametrize("stored", ["", "plain", "md5$1$2$3$00$00", "scrypt$x$8$1$00$00"])
def test_malformed_hash_never_matches(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_short_password_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")
