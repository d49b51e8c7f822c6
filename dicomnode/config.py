"""The root configuration: one typed, frozen, validated object for the whole node.

It composes each part's own model (SCP, spool, completion, audit, jobs, outbox, delivery,
pipeline, web). Sources, later ones winning: the defaults on the fields, a YAML file, then
environment variables named ``DICOMNODE_<FIELD>`` with ``__`` between nested names, e.g.
``DICOMNODE_SCP__PORT=11112`` or ``DICOMNODE_SCP__ALLOWED_PEERS='[{"ae_title": "PACS",
"addresses": ["10.0.0.0/8"]}]'`` (JSON for lists and objects).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from dicomnode.audit.config import AuditConfig
from dicomnode.completion import CompletionConfig
from dicomnode.delivery.config import DeliveryConfig
from dicomnode.jobs.config import JobsConfig
from dicomnode.outbox.config import OutboxConfig
from dicomnode.scp.config import ScpConfig, SpoolConfig
from dicomnode.web.config import WebConfig
from pipeline.config import PipelineConfig

ENV_PREFIX = "DICOMNODE_"
"""Prefix of environment variables that override configuration fields."""

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]*(?=@)")
_MASK = "**********"


class ConfigError(ValueError):
    """The configuration is invalid; the message names every offending field."""


class DicomNodeConfig(BaseSettings):
    """Every setting of the node; an empty configuration runs the embedded default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        case_sensitive=False,
    )

    log_level: str = Field(
        default="INFO",
        pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="Logging level of the service: DEBUG, INFO, WARNING, ERROR or CRITICAL.",
    )
    scp: ScpConfig = Field(
        default_factory=ScpConfig,
        description="The Storage/Verification SCP: address, AE title, access control, TLS.",
    )
    spool: SpoolConfig = Field(
        default_factory=SpoolConfig, description="Where received instances are stored."
    )
    completion: CompletionConfig = Field(
        default_factory=CompletionConfig,
        description="When a series (or study) counts as complete and becomes a job.",
    )
    audit: AuditConfig = Field(
        default_factory=AuditConfig, description="The audit database (SQLite or PostgreSQL)."
    )
    jobs: JobsConfig = Field(
        default_factory=JobsConfig, description="How jobs are run (workers, handler, retries)."
    )
    outbox: OutboxConfig = Field(
        default_factory=OutboxConfig, description="Delivery of results: retries and back-off."
    )
    delivery: DeliveryConfig = Field(
        default_factory=DeliveryConfig,
        description="Result destinations (C-STORE peers, STOW-RS, folders, back to sender).",
    )
    pipeline: PipelineConfig = Field(
        default_factory=PipelineConfig, description="Settings of every pipeline stage."
    )
    web: WebConfig = Field(
        default_factory=WebConfig,
        description="The administrator dashboard, /health and /metrics (localhost by default).",
    )

    @model_validator(mode="after")
    def _celery_needs_postgresql(self) -> DicomNodeConfig:
        """The Celery backend claims jobs with row locks that several machines share: only a
        PostgreSQL audit database gives them (SQLite is one machine's file)."""
        if self.jobs.backend == "celery":
            try:
                backend = make_url(self.audit.url).get_backend_name()
            except ArgumentError:
                backend = "not a database URL"
            if backend != "postgresql":
                raise ValueError(
                    "jobs.backend 'celery' needs a PostgreSQL audit database shared by the node "
                    f"and its workers (audit.url is {backend}); set audit.url to "
                    "postgresql+psycopg://user:password@host:5432/dbname"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first (it wins), then the values given (the YAML file's content)."""
        return (env_settings, init_settings)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"  {where}: {item['msg']}")
    return "invalid configuration:\n" + "\n".join(lines)


def load_config(path: Path | None = None) -> DicomNodeConfig:
    """Load the configuration from a YAML file (optional) and the environment.

    Parameters
    ----------
    path : Path or None
        YAML file whose top-level keys are the fields of :class:`DicomNodeConfig`; ``None``
        uses the embedded defaults.

    Returns
    -------
    DicomNodeConfig
        The validated, frozen configuration.

    Raises
    ------
    ConfigError
        If the file cannot be read or parsed, or any field is invalid; the message names
        each offending field (dotted path) and why.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"configuration file {path} must hold a mapping at top level")
        data = loaded or {}
    try:
        return DicomNodeConfig(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(rf"\g<head>{_MASK}", value)
    return value


def masked_dump(config: DicomNodeConfig) -> dict[str, Any]:
    """The configuration as JSON-compatible data with secrets masked (``config show``).

    Secret fields (``SecretStr``) and passwords inside URLs (``scheme://user:password@host``)
    become ``**********``.
    """
    return dict(_mask(config.model_dump(mode="json")))
