"""UID checks and association access control."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dicomnode.scp.access import AccessPolicy, RejectDiagnostic
from dicomnode.scp.config import AllowedPeer, ScpConfig, ScpTlsConfig
from dicomnode.scp.uids import uid_problem


@pytest.mark.parametrize("uid", ["1.2.840.10008.5.1.4.1.1.2", "0", "1.2.3.0", "1.2.004", "9" * 64])
def test_valid_uids_pass(uid: str) -> None:
    assert uid_problem(uid) is None


@pytest.mark.parametrize(
    ("uid", "reason"),
    [
        ("", "empty"),
        (None, "empty"),
        ("1" * 65, "longer than 64"),
        ("1.2..3", "digits"),
        (".1.2", "digits"),
        ("1.2.", "digits"),
        ("../../etc/passwd", "digits"),
        ("1.2/3", "digits"),
        ("1.2.3 ", "digits"),
        ("1.2.3\x00", "digits"),
    ],
)
def test_invalid_uids_name_the_problem(uid: object, reason: str) -> None:
    problem = uid_problem(uid)
    assert problem is not None and reason in problem


def _policy(**kwargs: object) -> AccessPolicy:
    return AccessPolicy(ScpConfig.model_validate(kwargs))


def test_default_allows_only_the_demo_sender_on_loopback() -> None:
    policy = _policy()
    assert policy.check("DICOMNODE", "DEMOSENDER", "127.0.0.1") is None
    rejected = policy.check("DICOMNODE", "DEMOSENDER", "10.0.0.5")
    assert rejected is not None and rejected.diagnostic is RejectDiagnostic.NO_REASON_GIVEN
    unknown = policy.check("DICOMNODE", "OTHER", "127.0.0.1")
    assert unknown is not None
    assert unknown.diagnostic is RejectDiagnostic.CALLING_AE_TITLE_NOT_RECOGNIZED


def test_called_ae_title_must_be_ours_even_with_accept_any() -> None:
    policy = _policy(accept_any=True)
    assert policy.check("DICOMNODE ", "ANYONE", "192.0.2.7") is None
    wrong = policy.check("OTHERNODE", "ANYONE", "192.0.2.7")
    assert wrong is not None
    assert wrong.diagnostic is RejectDiagnostic.CALLED_AE_TITLE_NOT_RECOGNIZED


def test_cidr_networks_and_ipv4_mapped_addresses() -> None:
    policy = _policy(allowed_peers=[{"ae_title": "PACS", "addresses": ["10.1.0.0/16", "::1"]}])
    assert policy.check("DICOMNODE", "PACS", "10.1.200.3") is None
    assert policy.check("DICOMNODE", "PACS", "::ffff:10.1.0.9") is None
    assert policy.check("DICOMNODE", "PACS", "::1") is None
    assert policy.check("DICOMNODE", "PACS", "10.2.0.1") is not None
    assert policy.check("DICOMNODE", "PACS", "not-an-ip") is not None


def test_same_title_listed_twice_merges_addresses() -> None:
    policy = _policy(
        allowed_peers=[
            {"ae_title": "PACS", "addresses": ["10.0.0.1"]},
            {"ae_title": "PACS", "addresses": ["10.0.0.2"]},
        ]
    )
    assert policy.check("DICOMNODE", "PACS", "10.0.0.1") is None
    assert policy.check("DICOMNODE", "PACS", "10.0.0.2") is None


@pytest.mark.parametrize(
    "bad",
    [
        {"ae_title": "X" * 17},
        {"ae_title": "   "},
        {"ae_title": "A\\B"},
        {"port": 70000},
        {"workers": 0},
        {"allowed_peers": [{"ae_title": "P", "addresses": ["10.0.0.300"]}]},
        {"allowed_peers": [{"ae_title": "P", "addresses": []}]},
        {"unknown_field": 1},
    ],
)
def test_invalid_scp_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ScpConfig.model_validate(bad)


def test_tls_needs_certificate_and_ca_for_client_certificates() -> None:
    with pytest.raises(ValidationError, match="cert_file"):
        ScpTlsConfig(enabled=True)
    with pytest.raises(ValidationError, match="ca_file"):
        ScpTlsConfig(enabled=True, cert_file=Path("s.pem"), require_client_cert=True)


def test_the_default_peer_is_the_demo_sender_on_loopback() -> None:
    assert AllowedPeer().addresses == ("127.0.0.1/32",)
