"""Who is asking, and may they: session logins, the trusted-proxy header, roles and CSRF.

``local`` mode: the login form checks the users table and stores the user name and the
user's session epoch in a signed session cookie; a cookie is believed only while that epoch
is still the user's (logging out and changing the password move it on, so a copied cookie
dies with them), and the role is read from the users table at each request.
``proxy_header`` mode: a reverse proxy in ``trusted_proxies`` names the authenticated user in
a header; the role comes from the users table (viewer when the user is not listed). Every
form that changes something carries the session's CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from dicomnode.web.config import AuthMode, WebConfig
from dicomnode.web.proxies import TrustedProxies
from dicomnode.web.roles import Role
from dicomnode.web.users import UserStore, WebUser

CSRF_FIELD = "csrf_token"
"""Name of the hidden form field holding the CSRF token."""
SESSION_USER = "user"
"""Session key of the logged-in user's name."""
SESSION_EPOCH = "epoch"
"""Session key of the user's session epoch at login (see :meth:`UserStore.end_sessions`)."""


class LoginRequiredError(Exception):
    """The request has no authenticated user (pages redirect to the login form)."""


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request."""

    name: str
    role: Role

    @property
    def is_operator(self) -> bool:
        """Whether the user may retry and cancel jobs."""
        return self.role is Role.OPERATOR

    @property
    def is_planner(self) -> bool:
        """Whether the user may review and approve SIRT re-plans."""
        return self.role is Role.PLANNER


class Authenticator:
    """Finds the user of a request according to the configured mode.

    Parameters
    ----------
    config : WebConfig
        Mode, proxy header and trusted proxies.
    users : UserStore
        The users table (roles, session epochs; passwords in local mode).
    """

    def __init__(self, config: WebConfig, users: UserStore) -> None:
        self._config = config
        self._users = users
        self.proxies = TrustedProxies(config.trusted_proxies)
        """The trusted reverse proxies (forwarding headers, client address)."""

    @property
    def mode(self) -> AuthMode:
        """The configured authentication mode."""
        return self._config.auth_mode

    def principal(self, request: Request) -> Principal | None:
        """The authenticated user of ``request``, or ``None``."""
        if self._config.auth_mode is AuthMode.PROXY_HEADER:
            return self._from_proxy(request)
        name = request.session.get(SESSION_USER)
        epoch = request.session.get(SESSION_EPOCH)
        if not isinstance(name, str) or not isinstance(epoch, int):
            return None
        user = self._users.get(name)
        if user is None or user.session_epoch != epoch:  # logged out, or password changed
            return None
        return Principal(user.name, user.role)

    def _from_proxy(self, request: Request) -> Principal | None:
        if not self.proxies.peer_is_trusted(request):
            return None
        name = (request.headers.get(self._config.proxy_user_header) or "").strip()
        if not name:
            return None
        user = self._users.get(name)
        return Principal(name, user.role if user is not None else Role.VIEWER)


def start_session(request: Request, user: WebUser) -> None:
    """Replace the request's session with a login of ``user`` (local mode)."""
    request.session.clear()
    request.session[SESSION_USER] = user.name
    request.session[SESSION_EPOCH] = user.session_epoch


def require_user(request: Request) -> Principal:
    """Dependency: the request's user; anonymous requests go to the login form."""
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.principal(request)
    if principal is None:
        if authenticator.mode is AuthMode.PROXY_HEADER:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated by the proxy")
        raise LoginRequiredError
    return principal


def require_operator(request: Request) -> Principal:
    """Dependency: the request's user, who must have the operator role."""
    principal = require_user(request)
    if not principal.is_operator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the operator role is required")
    return principal


def require_planner(request: Request) -> Principal:
    """Dependency: the request's user, who must have the planner role."""
    principal = require_user(request)
    if not principal.is_planner:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the planner role is required")
    return principal


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def check_csrf(request: Request, submitted: str) -> None:
    """Refuse (403) a form whose CSRF token is not the session's."""
    expected = request.session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not secrets.compare_digest(expected, submitted):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid or missing CSRF token")
