"""Security headers on every response of the dashboard (an ASGI middleware).

The pages use no script and no inline style (the styles are ``/static/dashboard.css``), so
the Content-Security-Policy allows only this site's own files and forbids framing. Every
response but the static files is marked ``Cache-Control: no-store``: pages show patient
data, which must not stay in a browser's or a proxy's cache.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'"
)
"""Own files only (styles, plots); no plugins, no framing, forms post to this site only."""
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Headers set on every response."""
STATIC_PREFIX = "/static/"
"""Path prefix of the static files (the style sheet), which may be cached."""


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response, and ``Cache-Control:
    no-store`` to every one outside :data:`STATIC_PREFIX`.

    Parameters
    ----------
    app : ASGIApp
        The application to wrap.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, adding the headers when the response starts."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(SECURITY_HEADERS)
                if not cacheable:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self._app(scope, receive, send_with_headers)
