"""The root configuration: defaults, YAML, environment overrides, errors, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomnode.completion import CompletionPolicy
from dicomnode.config import ConfigError, DicomNodeConfig, load_config, masked_dump

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _no_dicomnode_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("DICOMNODE_"):
            monkeypatch.delenv(name)


def test_empty_configuration_is_the_secure_embedded_default() -> None:
    config = load_config(None)
    assert config.scp.ae_title == "DICOMNODE"
    assert config.scp.host == "127.0.0.1" and config.scp.port == 11112
    assert not config.scp.accept_any
    assert [p.ae_title for p in config.scp.allowed_peers] == ["DEMOSENDER"]
    assert config.audit.url.startswith("sqlite:///")


def test_the_documented_example_file_equals_the_embedded_default() -> None:
    assert load_config(REPO_ROOT / "config.yaml") == DicomNodeConfig()


def test_yaml_then_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "scp:\n  port: 4242\n  ae_title: NODE1\ncompletion:\n  policy: study\n  study_quiet_s: 60\n"
    )
    monkeypatch.setenv("DICOMNODE_SCP__PORT", "5151")
    monkeypatch.setenv(
        "DICOMNODE_SCP__ALLOWED_PEERS", '[{"ae_title": "PACS", "addresses": ["10.0.0.0/8"]}]'
    )
    config = load_config(path)
    assert config.scp.port == 5151  # environment beats the file
    assert config.scp.ae_title == "NODE1"  # the file beats the default
    assert config.completion.policy is CompletionPolicy.STUDY
    assert config.completion.study_quiet_s == 60
    assert config.scp.allowed_peers[0].addresses == ("10.0.0.0/8",)


def test_invalid_values_name_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("scp:\n  port: 70000\ncompletion:\n  policy: sometimes\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "scp.port" in str(raised.value)
    assert "completion.policy" in str(raised.value)
    path.write_text("spool:\n  pth: x\n")
    with pytest.raises(ConfigError, match=r"spool\.pth"):
        load_config(path)
    monkeypatch.setenv("DICOMNODE_SCP__WORKERS", "0")
    with pytest.raises(ConfigError, match=r"scp\.workers"):
        load_config(None)
    monkeypatch.delenv("DICOMNODE_SCP__WORKERS")
    monkeypatch.setenv("DICOMNODE_SCP__MAXIMUM_PDU_SIZE", "-1")
    with pytest.raises(ConfigError, match=r"scp\.maximum_pdu_size"):
        load_config(None)


def test_the_scp_accepts_large_but_bounded_pdus_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 4 MiB lets a sender use its own maximum (DCMTK storescu: 6 P-DATA PDUs per 512x512 CT
    # slice; pynetdicom's default 16382 would make that 34 PDUs, each decoded in Python)
    # while a claimed length is never unbounded; 0 ("unlimited") is refused.
    assert load_config(None).scp.maximum_pdu_size == 4 * 1024 * 1024
    monkeypatch.setenv("DICOMNODE_SCP__MAXIMUM_PDU_SIZE", "1048576")
    assert load_config(None).scp.maximum_pdu_size == 1048576
    monkeypatch.setenv("DICOMNODE_SCP__MAXIMUM_PDU_SIZE", "0")
    with pytest.raises(ConfigError, match=r"scp\.maximum_pdu_size"):
        load_config(None)


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DICOMNODE_AUDIT__URL", "postgresql+psycopg://node:s3cret@db:5432/audit")
    monkeypatch.setenv(
        "DICOMNODE_DELIVERY__DESTINATIONS",
        '[{"kind": "stow", "name": "web", "bearer_token": "tok3n"}]',
    )
    dump = masked_dump(load_config(None))
    text = repr(dump)
    assert "s3cret" not in text and "tok3n" not in text
    assert dump["audit"]["url"] == "postgresql+psycopg://node:**********@db:5432/audit"
    assert dump["delivery"]["destinations"][0]["bearer_token"] == "**********"
