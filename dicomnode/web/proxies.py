"""Who connected, and which forwarding headers to believe: the trusted reverse proxies.

Forwarding headers (``X-Forwarded-For``, the proxy's user header) can be written by anyone;
they are believed only when the direct peer of the connection is a configured trusted
proxy (``web.trusted_proxies``). Every client address the dashboard records or counts
failed logins against comes from :meth:`TrustedProxies.client_address`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

FORWARDED_FOR = "X-Forwarded-For"
"""Header in which each proxy appends the address of the peer it received the request from."""
UNKNOWN = "unknown"
"""Client address recorded when the connection has no peer address."""


class TrustedProxies:
    """The reverse proxies whose forwarding headers are believed.

    Parameters
    ----------
    networks : iterable of str
        IP addresses or CIDR networks (validated by the configuration); empty: none.
    """

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusts(self, host: str) -> bool:
        """Whether ``host`` (an address as text) is a trusted proxy."""
        try:
            address = ipaddress.ip_address(host.strip())
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def peer_is_trusted(self, connection: HTTPConnection) -> bool:
        """Whether the direct peer of ``connection`` is a trusted proxy."""
        return connection.client is not None and self.trusts(connection.client.host)

    def client_address(self, connection: HTTPConnection) -> str:
        """The address of the client that made the request.

        The direct peer, unless it is a trusted proxy: then the right-most address of
        ``X-Forwarded-For`` that is not itself a trusted proxy (each proxy appends the peer
        it saw, so everything left of that entry was written by the client and is not
        believed). When every listed address is a trusted proxy, the left-most one.

        Parameters
        ----------
        connection : HTTPConnection
            The request.

        Returns
        -------
        str
            An address as text (``"unknown"`` when the connection has no peer address).
        """
        if connection.client is None:
            return UNKNOWN
        peer = connection.client.host
        if not self.trusts(peer):
            return peer
        hops = [hop.strip() for value in connection.headers.getlist(FORWARDED_FOR)
                for hop in value.split(",")]
        hops = [hop for hop in hops if hop]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer
