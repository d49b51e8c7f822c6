"""Configuration of the administrator web dashboard (``web:`` in the configuration)."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from dicomnode.scp.config import check_networks


class AuthMode(StrEnum):
    """How the dashboard learns who is asking."""

    LOCAL = "local"
    """Login form against the users table of the audit database (hashed passwords)."""
    PROXY_HEADER = "proxy_header"
    """A trusted reverse proxy authenticates and names the user in a request header."""


class WebConfig(BaseModel):
    """The dashboard, ``/health`` and ``/metrics``: address, authentication, session."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=True, description="Serve the dashboard from `dicomnode serve`."
    )
    host: str = Field(
        default="127.0.0.1",
        description="Listen address; the default only accepts connections from this machine "
        "(put a TLS reverse proxy in front to open it up).",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port of the dashboard.")
    auth_mode: AuthMode = Field(
        default=AuthMode.LOCAL,
        description="'local': login form, users in the audit database (`dicomnode web user "
        "add`); 'proxy_header': a trusted reverse proxy names the user in a header.",
    )
    proxy_user_header: str = Field(
        default="X-Forwarded-User",
        description="proxy_header mode: request header holding the authenticated user name; "
        "the user's role comes from the users table (viewer when not listed).",
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description="Reverse proxies (IP addresses or CIDR networks) whose forwarding headers "
        "are believed: X-Forwarded-For (the client address that failed logins are counted "
        "against and actions are recorded with) and, in proxy_header mode, the user header. "
        "Empty (default): no header is believed, the client is the connection's peer. "
        "proxy_header mode needs at least one.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Key signing the session cookie (set it with DICOMNODE_WEB__SESSION_SECRET); "
        "masked in `config show`.",
    )
    session_secret_file: Path | None = Field(
        default=None,
        description="File holding the session key (used when session_secret is not set). With "
        "neither, a random key is made at each start (sessions end with a restart).",
    )
    session_max_age_s: int = Field(
        default=8 * 3600, ge=60, description="A login lasts this many seconds."
    )
    session_cookie_secure: bool = Field(
        default=False,
        description="Mark the session cookie Secure (sent over HTTPS only): set it when the "
        "dashboard is reached through a TLS reverse proxy.",
    )
    login_max_failures: int = Field(
        default=5, ge=1,
        description="local mode: failed logins of one user name, or from one address, within "
        "login_failure_window_s after which further logins are refused (HTTP 429, recorded).",
    )
    login_failure_window_s: int = Field(
        default=900, ge=1,
        description="local mode: the window of login_max_failures, seconds; a blocked user "
        "name or address may try again when its oldest counted failure is this old.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_networks(value)

    @model_validator(mode="after")
    def _proxy_mode_has_proxies(self) -> WebConfig:
        if self.auth_mode is AuthMode.PROXY_HEADER and not self.trusted_proxies:
            raise ValueError("auth_mode proxy_header needs web.trusted_proxies (the proxy's "
                             "address), else no request is authenticated")
        return self

    def signing_key(self) -> str:
        """The session signing key: the configured secret, the secret file, or a random one.

        Raises
        ------
        OSError
            The secret file cannot be read.
        ValueError
            The secret file is empty.
        """
        if self.session_secret is not None:
            return self.session_secret.get_secret_value()
        if self.session_secret_file is not None:
            key = self.session_secret_file.read_text(encoding="utf-8").strip()
            if not key:
                raise ValueError(f"session secret file {self.session_secret_file} is empty")
            return key
        return secrets.token_urlsafe(32)
