"""Who may open an association with us: called AE title, calling AE title and address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import IntEnum

from dicomnode.scp.config import ScpConfig


class RejectDiagnostic(IntEnum):
    """A-ASSOCIATE-RJ diagnostics of the DICOM UL service user (PS3.8 9.3.4)."""

    NO_REASON_GIVEN = 0x01
    CALLING_AE_TITLE_NOT_RECOGNIZED = 0x03
    CALLED_AE_TITLE_NOT_RECOGNIZED = 0x07


@dataclass(frozen=True)
class Rejection:
    """Why an association request is refused (sent as a permanent A-ASSOCIATE-RJ).

    Parameters
    ----------
    reason : str
        Short explanation for the audit database and the log.
    diagnostic : RejectDiagnostic
        The diagnostic sent to the peer.
    """

    reason: str
    diagnostic: RejectDiagnostic


class AccessPolicy:
    """Decides whether an association request may proceed.

    Parameters
    ----------
    config : ScpConfig
        Supplies our AE title, ``accept_any`` and the allow-list of peers.
    """

    def __init__(self, config: ScpConfig) -> None:
        self._ae_title = config.ae_title
        self._accept_any = config.accept_any
        self._peers: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
        for peer in config.allowed_peers:
            networks = self._peers.setdefault(peer.ae_title, [])
            networks.extend(ipaddress.ip_network(a, strict=False) for a in peer.addresses)

    def check(self, called_aet: str, calling_aet: str, address: str) -> Rejection | None:
        """Check one association request.

        Parameters
        ----------
        called_aet : str
            Called AE Title of the request (trailing/leading spaces ignored).
        calling_aet : str
            Calling AE Title of the request.
        address : str
            IP address the connection comes from.

        Returns
        -------
        Rejection or None
            ``None`` when the request may proceed.
        """
        if called_aet.strip() != self._ae_title:
            return Rejection(
                f"called AE title {called_aet.strip()!r} is not ours",
                RejectDiagnostic.CALLED_AE_TITLE_NOT_RECOGNIZED,
            )
        if self._accept_any:
            return None
        networks = self._peers.get(calling_aet.strip())
        if networks is None:
            return Rejection(
                f"calling AE title {calling_aet.strip()!r} is not in the allow-list",
                RejectDiagnostic.CALLING_AE_TITLE_NOT_RECOGNIZED,
            )
        try:
            peer_ip = ipaddress.ip_address(address)
        except ValueError:
            return Rejection(
                f"peer address {address!r} is not an IP address",
                RejectDiagnostic.NO_REASON_GIVEN,
            )
        if isinstance(peer_ip, ipaddress.IPv6Address) and peer_ip.ipv4_mapped is not None:
            peer_ip = peer_ip.ipv4_mapped
        if not any(peer_ip in network for network in networks):
            return Rejection(
                f"calling AE title {calling_aet.strip()!r} may not connect from {address}",
                RejectDiagnostic.NO_REASON_GIVEN,
            )
        return None
