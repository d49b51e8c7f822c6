"""Destination configuration: defaults, the kind discriminator, validation, masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dicomnode.delivery.config import (
    DeliveryConfig,
    DimseDestinationConfig,
    FolderDestinationConfig,
    StowDestinationConfig,
)
from dicomnode.delivery.dimse import CStoreSender
from dicomnode.delivery.factory import build_return_sender, build_sender, build_senders
from dicomnode.delivery.folder import FolderSender
from dicomnode.delivery.stow import StowRsSender


def test_empty_config_sends_nowhere():
    config = DeliveryConfig()
    assert config.destinations == ()
    assert config.return_to_sender is False
    assert build_senders(config) == []


def test_kind_selects_the_model_and_the_sender():
    config = DeliveryConfig.model_validate(
        {
            "destinations": [
                {
                    "kind": "dimse",
                    "name": "pacs",
                    "host": "10.0.0.5",
                    "port": 11112,
                    "called_aet": "PACS",
                    "timeouts": {"dimse_s": 30},
                },
                {
                    "kind": "stow",
                    "name": "web",
                    "url": "https://pacs.example/dicom-web",
                    "username": "u",
                    "password": "p",
                },
                {"kind": "folder", "name": "disk", "path": "/srv/results"},
            ]
        }
    )
    kinds = [type(d) for d in config.destinations]
    assert kinds == [DimseDestinationConfig, StowDestinationConfig, FolderDestinationConfig]
    senders = build_senders(config)
    assert [type(s) for s in senders] == [CStoreSender, StowRsSender, FolderSender]
    assert [s.name for s in senders] == ["pacs", "web", "disk"]
    first = config.destinations[0]
    assert isinstance(first, DimseDestinationConfig)
    assert first.timeouts.dimse_s == 30 and first.timeouts.acse_s == 30.0


def test_unknown_kind_and_unknown_field_are_rejected():
    with pytest.raises(ValidationError):
        DeliveryConfig.model_validate({"destinations": [{"kind": "ftp"}]})
    with pytest.raises(ValidationError):
        DeliveryConfig.model_validate({"destinations": [{"kind": "dimse", "aet": "X"}]})


def test_duplicate_destination_names_are_rejected():
    with pytest.raises(ValidationError, match="unique"):
        DeliveryConfig(destinations=(FolderDestinationConfig(), FolderDestinationConfig()))


@pytest.mark.parametrize(
    "fields",
    [
        {"called_aet": "A" * 17},
        {"called_aet": ""},
        {"port": 0},
        {"port": 70000},
        {"tls": {"key_file": "k.pem"}},
    ],
)
def test_invalid_dimse_fields(fields):
    with pytest.raises(ValidationError):
        DimseDestinationConfig.model_validate(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "ftp://x"},
        {"username": "u"},
        {"username": "u", "password": "p", "bearer_token": "t"},
    ],
)
def test_invalid_stow_fields(fields):
    with pytest.raises(ValidationError):
        StowDestinationConfig.model_validate(fields)


def test_secrets_are_masked_in_dumps():
    config = StowDestinationConfig.model_validate({"username": "u", "password": "hunter2"})
    assert "hunter2" not in config.model_dump_json()
    assert "hunter2" not in repr(config)
    assert config.password is not None and config.password.get_secret_value() == "hunter2"
    token = StowDestinationConfig.model_validate({"bearer_token": "tok-secret"})
    assert "tok-secret" not in str(token.model_dump())


def test_config_is_frozen():
    config = DimseDestinationConfig()
    with pytest.raises(ValidationError):
        setattr(config, "port", 11112)  # noqa: B010 (pydantic raises on assignment)


def test_build_sender_per_kind():
    assert isinstance(build_sender(FolderDestinationConfig(path=Path("x"))), FolderSender)


def test_return_to_sender_addresses_the_calling_ae():
    config = DeliveryConfig(
        return_to_sender=True, return_to_sender_port=11113, return_to_sender_calling_aet="NODE"
    )
    sender = build_return_sender(config, calling_aet="MODALITY1", host="10.1.2.3")
    assert isinstance(sender, CStoreSender)
    assert (sender.config.called_aet, sender.config.calling_aet) == ("MODALITY1", "NODE")
    assert (sender.config.host, sender.config.port) == ("10.1.2.3", 11113)
    assert sender.name == "return-to-sender:MODALITY1"
