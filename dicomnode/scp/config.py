"""Configuration of the receiving side: the Storage/Verification SCP and who may talk to it.

Secure by default: the shipped configuration accepts only the listed calling AE titles from
the listed addresses (the demo sender ``DEMOSENDER`` on loopback). Accepting any peer is
an explicit opt-in (``accept_any``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _check_ae_title(value: str) -> str:
    """Validate an AE title (PS3.5 AE VR: 1-16 characters, no backslash or control)."""
    stripped = value.strip()
    if not 1 <= len(stripped) <= 16:
        raise ValueError(f"AE title {value!r} must have 1 to 16 characters")
    if "\\" in stripped or any(ord(c) < 0x20 or ord(c) > 0x7E for c in stripped):
        raise ValueError(f"AE title {value!r} has a backslash or a non-printable character")
    return stripped


def check_networks(value: tuple[str, ...]) -> tuple[str, ...]:
    """Validate IP addresses or CIDR networks (IPv4 or IPv6); returns them unchanged.

    Raises
    ------
    ValueError
        An entry is neither an address nor a network.
    """
    for address in value:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError as exc:
            raise ValueError(f"{address!r} is not an IP address or CIDR network") from exc
    return value


class AllowedPeer(BaseModel):
    """A calling AE that may send to us, and the addresses it may connect from."""

    model_config = _FROZEN

    ae_title: str = Field(
        default="DEMOSENDER",
        description="Calling AE Title of the peer (1-16 characters, compared after "
        "stripping spaces).",
    )
    addresses: tuple[str, ...] = Field(
        default=("127.0.0.1/32",),
        min_length=1,
        description="IP addresses or CIDR networks the peer may connect from, e.g. "
        "'10.1.2.3' or '10.1.0.0/16' (IPv4 or IPv6).",
    )

    @field_validator("ae_title")
    @classmethod
    def _ae_title(cls, value: str) -> str:
        return _check_ae_title(value)

    @field_validator("addresses")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_networks(value)


class ScpTlsConfig(BaseModel):
    """DICOM TLS on the listening port (PS3.15 Annex B)."""

    model_config = _FROZEN

    enabled: bool = Field(
        default=False, description="Serve DICOM TLS instead of plain DICOM on the port."
    )
    cert_file: Path | None = Field(
        default=None, description="PEM server certificate (chain); required when enabled."
    )
    key_file: Path | None = Field(
        default=None,
        description="PEM private key of cert_file; None when cert_file holds the key too.",
    )
    ca_file: Path | None = Field(
        default=None,
        description="PEM certificate authorities that client certificates must chain to; "
        "required when require_client_cert is true.",
    )
    require_client_cert: bool = Field(
        default=False,
        description="Refuse TLS handshakes without a valid client certificate (mutual TLS).",
    )

    @model_validator(mode="after")
    def _complete(self) -> ScpTlsConfig:
        if self.enabled and self.cert_file is None:
            raise ValueError("scp.tls.cert_file is required when scp.tls.enabled is true")
        if self.require_client_cert and self.ca_file is None:
            raise ValueError("scp.tls.ca_file is required when require_client_cert is true")
        return self


class ScpConfig(BaseModel):
    """The Storage and Verification SCP: address, identity, limits and access control."""

    model_config = _FROZEN

    ae_title: str = Field(
        default="DICOMNODE",
        description="Our AE title; associations whose Called AE Title differs are rejected.",
    )
    host: str = Field(
        default="127.0.0.1",
        description="Address to listen on; '0.0.0.0' listens on every IPv4 interface.",
    )
    port: int = Field(default=11112, ge=1, le=65535, description="TCP port to listen on.")
    workers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Receiving processes sharing the listening socket; each runs its own "
        "pynetdicom AE, so concurrent senders use several CPU cores (bench/receive.py on 2 "
        "cores with 4 senders: 4 workers ahead of 2 and 3).",
    )
    max_associations: int = Field(
        default=16,
        ge=1,
        description="Most concurrent established associations of the node, counted across "
        "the receiving processes (may be exceeded by up to workers - 1 under concurrent "
        "requests); further requests are rejected (transient, local limit exceeded). "
        "Connections still negotiating do not count (see max_connections_per_address).",
    )
    acse_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Wait for association messages, in seconds; also the longest time from "
        "connection to an established association (a slow or silent peer is closed then).",
    )
    dimse_timeout_s: float = Field(
        default=60.0, gt=0, description="Wait for DIMSE messages, in seconds."
    )
    network_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Idle time after which an association is ended (see "
        "network_timeout_response), in seconds.",
    )
    network_timeout_response: Literal["A-ABORT", "A-RELEASE"] = Field(
        default="A-ABORT",
        description="What ends an association idle for network_timeout_s: 'A-ABORT' (as "
        "pynetdicom by default) or 'A-RELEASE', a normal release that waits acse_timeout_s "
        "for the peer's reply and aborts without one.",
    )
    direct_store: bool = Field(
        default=True,
        description="Decode C-STORE requests and encode their responses directly instead "
        "of through pynetdicom's DIMSE provider (less CPU per instance). "
        "false: pynetdicom's own decoding and encoding, the same limits. Only with a "
        "pynetdicom version the receive fork supports; docs/receive.md.",
    )
    maximum_pdu_size: int = Field(
        default=4 * 1024 * 1024,
        ge=4096,
        le=0xFFFFFFFF,
        description="Maximum Length we negotiate: the largest P-DATA-TF PDU accepted, in "
        "bytes; a PDU claiming more is refused with an A-ABORT before it is read. Senders use "
        "their own maximum below it (DCMTK storescu: 6 PDUs per 512x512 CT slice). Small "
        "values cost receive speed, each PDU being decoded in Python: at 16382 (pynetdicom's "
        "default) the same slice takes 34 PDUs.",
    )
    pdu_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Longest time for one whole PDU to arrive once its first byte did, in "
        "seconds; a peer that sends part of a PDU and waits is aborted when it passes "
        "(a 4 MiB PDU needs about 140 KB/s).",
    )
    max_data_set_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024,
        description="Largest data set of one C-STORE request, in bytes: it is held in memory "
        "until its last fragment, so beyond this the association is aborted and recorded "
        "(a 1,000-frame 512x512 Enhanced CT is about 0.5 GiB).",
    )
    max_connections_per_address: int = Field(
        default=16,
        ge=1,
        description="Most open connections from one IP address across all receiving "
        "processes, before and after association; a further connection is closed at once "
        "and recorded (may be exceeded by up to workers - 1 under concurrent accepts).",
    )
    accept_any: bool = Field(
        default=False,
        description="Accept every calling AE title from every address (explicit opt-in; "
        "the called AE title must still match).",
    )
    allowed_peers: tuple[AllowedPeer, ...] = Field(
        default=(AllowedPeer(),),
        description="Calling AE titles and the addresses each may connect from; ignored "
        "when accept_any is true. Default: the demo sender DEMOSENDER on 127.0.0.1.",
    )
    tls: ScpTlsConfig = Field(default_factory=ScpTlsConfig, description="DICOM TLS options.")

    @field_validator("ae_title")
    @classmethod
    def _ae_title(cls, value: str) -> str:
        return _check_ae_title(value)


class SpoolConfig(BaseModel):
    """Where received instances are kept: ``<path>/<Study>/<Series>/<SOP>.dcm``."""

    model_config = _FROZEN

    path: Path = Field(
        default=Path("data/spool"),
        description="Spool folder for received instances (created if missing); relative "
        "paths are relative to the working directory of the service.",
    )
    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Delete a study from the spool this many days after it was last received, "
        "once every job of it is finished (succeeded, rejected or cancelled) and nothing is "
        "left to deliver; each deletion is recorded in the audit database. None keeps all.",
    )
    min_free_bytes: int = Field(
        default=1024**3,
        ge=0,
        description="Disk-space watermark of the spool's file system, in bytes: below it new "
        "associations are refused with a transient A-ASSOCIATE-RJ (the sender retries later) "
        "and /health/ready fails. 0 disables the check.",
    )
    retention_interval_s: float = Field(
        default=3600.0, gt=0, description="How often the retention clean-up runs, in seconds."
    )
