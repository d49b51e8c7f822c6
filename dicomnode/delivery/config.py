"""Configuration of result destinations: DICOM peers (C-STORE), DICOMweb (STOW-RS), folders.

A destination is one entry of :class:`DeliveryConfig.destinations`, told apart by its
``kind`` field (``"dimse"``, ``"stow"`` or ``"folder"``). Every field has a documented
default, so an empty configuration is valid (it sends nowhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class TlsConfig(BaseModel):
    """DICOM TLS (PS3.15 Annex B) for an outgoing association or HTTPS request."""

    model_config = _FROZEN

    enabled: bool = Field(
        default=False,
        description="Use TLS for the connection. Off by default: most PACS on a hospital "
        "LAN speak plain DICOM.",
    )
    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the certificate authorities that signed the peer's "
        "certificate; None uses the system trust store.",
    )
    cert_file: Path | None = Field(
        default=None,
        description="PEM certificate presented to the peer (mutual TLS); None for none.",
    )
    key_file: Path | None = Field(
        default=None,
        description="PEM private key of cert_file; None when cert_file holds the key too.",
    )
    check_hostname: bool = Field(
        default=True,
        description="Check that the peer certificate names the host (or server_hostname).",
    )
    server_hostname: str | None = Field(
        default=None,
        description="Name expected in the peer certificate when it differs from host "
        "(e.g. host is an IP address); None uses host.",
    )

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TlsConfig:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("tls.key_file is set but tls.cert_file is not")
        return self


class DimseTimeouts(BaseModel):
    """Time limits of one DICOM association, in seconds."""

    model_config = _FROZEN

    connection_s: float = Field(default=10.0, gt=0, description="TCP connect timeout in seconds.")
    acse_s: float = Field(
        default=30.0,
        gt=0,
        description="Wait for A-ASSOCIATE-AC/RJ and A-RELEASE-RP, in seconds.",
    )
    dimse_s: float = Field(
        default=60.0,
        gt=0,
        description="Wait for each C-STORE/C-ECHO response, in seconds; an expired wait "
        "aborts the association and counts as transient.",
    )
    network_s: float = Field(
        default=60.0,
        gt=0,
        description="Idle time on an established connection before it is dropped, in seconds.",
    )


class DimseDestinationConfig(BaseModel):
    """A DICOM peer (a PACS) that receives results by C-STORE."""

    model_config = _FROZEN

    kind: Literal["dimse"] = Field(default="dimse", description="Destination type: DICOM.")
    name: str = Field(
        default="pacs",
        min_length=1,
        description="Name of this destination in logs and the audit database.",
    )
    host: str = Field(default="127.0.0.1", description="Peer host name or IP address.")
    port: int = Field(default=104, ge=1, le=65535, description="Peer DICOM port (TCP).")
    called_aet: str = Field(
        default="PACS",
        min_length=1,
        max_length=16,
        description="Called AE title: the peer's own AE title.",
    )
    calling_aet: str = Field(
        default="DICOMNODE",
        min_length=1,
        max_length=16,
        description="Calling AE title: ours, as the peer has it in its AE table.",
    )
    max_pdu: int = Field(
        default=0,
        ge=0,
        description="Maximum PDU length we receive, in bytes; 0 means unlimited.",
    )
    timeouts: DimseTimeouts = Field(
        default_factory=DimseTimeouts, description="Association time limits (seconds)."
    )
    tls: TlsConfig = Field(default_factory=TlsConfig, description="DICOM TLS options.")


class StowDestinationConfig(BaseModel):
    """A DICOMweb origin server that receives results by STOW-RS (PS3.18 10.5)."""

    model_config = _FROZEN

    kind: Literal["stow"] = Field(default="stow", description="Destination type: DICOMweb.")
    name: str = Field(
        default="dicomweb",
        min_length=1,
        description="Name of this destination in logs and the audit database.",
    )
    url: str = Field(
        default="http://127.0.0.1:8042/dicom-web",
        description="DICOMweb service root; instances are POSTed to {url}/studies.",
    )
    username: str | None = Field(
        default=None, description="HTTP basic-auth user; None sends no basic auth."
    )
    password: SecretStr | None = Field(
        default=None, description="HTTP basic-auth password (masked in config dumps)."
    )
    bearer_token: SecretStr | None = Field(
        default=None,
        description="OAuth2 bearer token sent as 'Authorization: Bearer ...' (masked in "
        "config dumps); exclusive with username/password.",
    )
    timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Time limit for connecting and for each read of the response, seconds.",
    )
    tls: TlsConfig = Field(
        default_factory=TlsConfig,
        description="HTTPS options (ca_file, client certificate); 'enabled' is implied by "
        "an https:// url.",
    )

    @model_validator(mode="after")
    def _one_auth(self) -> StowDestinationConfig:
        if self.bearer_token is not None and self.username is not None:
            raise ValueError("set either username/password or bearer_token, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return self


class FolderDestinationConfig(BaseModel):
    """A folder (local disk or a mounted share) that receives results as DICOM files."""

    model_config = _FROZEN

    kind: Literal["folder"] = Field(default="folder", description="Destination type: folder.")
    name: str = Field(
        default="folder",
        min_length=1,
        description="Name of this destination in logs and the audit database.",
    )
    path: Path = Field(
        default=Path("results"),
        description="Root folder; files go to {path}/{StudyInstanceUID}/"
        "{SeriesInstanceUID}/{SOPInstanceUID}.dcm, written atomically (temp file, fsync, "
        "rename); re-sending an instance overwrites it.",
    )


DestinationConfig = Annotated[
    DimseDestinationConfig | StowDestinationConfig | FolderDestinationConfig,
    Field(discriminator="kind"),
]
"""One destination; its ``kind`` field selects the model."""


class DeliveryConfig(BaseModel):
    """Where results (SEG, SR, PDF) are sent."""

    model_config = _FROZEN

    destinations: tuple[DestinationConfig, ...] = Field(
        default=(),
        description="Destinations every result goes to; each entry needs 'kind' "
        "(dimse, stow or folder). Empty: results stay in the outbox only.",
    )
    return_to_sender: bool = Field(
        default=False,
        description="Also C-STORE results back to the AE that sent the study, at the "
        "address it connected from and return_to_sender_port.",
    )
    return_to_sender_port: int = Field(
        default=104,
        ge=1,
        le=65535,
        description="Port of the sending AE's own SCP, used by return_to_sender (an "
        "association does not say on which port its requestor listens).",
    )
    return_to_sender_calling_aet: str = Field(
        default="DICOMNODE",
        min_length=1,
        max_length=16,
        description="Our calling AE title when returning results to the sender.",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> DeliveryConfig:
        names = [d.name for d in self.destinations]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"destination names must be unique: {duplicates}")
        return self
