"""Turn a peer's answer (DIMSE status, association result, HTTP status) into a DeliveryStatus.

The rules follow PS3.4 Annex B.2.3 (Storage Service statuses), PS3.8 9.3.3 (A-ASSOCIATE-RJ)
and PS3.18 10.5.3 (STOW-RS response status codes). They are pure functions so that the
senders and the outbox share one reading of what "retry" means.
"""

from __future__ import annotations

from dicomnode.delivery.base import DeliveryStatus

ASSOCIATION_REJECTED_PERMANENT = 0x01
"""A-ASSOCIATE-RJ Result: rejected-permanent (PS3.8 9.3.4)."""
ASSOCIATION_REJECTED_TRANSIENT = 0x02
"""A-ASSOCIATE-RJ Result: rejected-transient (PS3.8 9.3.4)."""

_TRANSIENT_HTTP = frozenset({408, 429})
"""4xx codes that invite a retry: Request Timeout, Too Many Requests."""


def classify_dimse_status(status: int | None) -> DeliveryStatus:
    """Classify the Status (0000,0900) of a C-STORE (or C-ECHO) response.

    Parameters
    ----------
    status : int or None
        The DIMSE status, or ``None`` when no valid response arrived (DIMSE timeout,
        connection lost).

    Returns
    -------
    DeliveryStatus
        ``SUCCESS`` for 0x0000; ``WARNING`` for 0x0001 and 0xB000-0xBFFF; ``TRANSIENT`` for
        0xA700-0xA7FF (out of resources) and no response; ``PERMANENT`` for every other
        failure (0x0122 SOP class not supported, 0x0124 not authorised, 0xA900-0xA9FF data
        set does not match SOP class, 0xC000-0xCFFF cannot understand, and statuses this
        table does not know, which a retry would only repeat).
    """
    if status is None:
        return DeliveryStatus.TRANSIENT
    if status == 0x0000:
        return DeliveryStatus.SUCCESS
    if status == 0x0001 or 0xB000 <= status <= 0xBFFF:
        return DeliveryStatus.WARNING
    if 0xA700 <= status <= 0xA7FF:
        return DeliveryStatus.TRANSIENT
    return DeliveryStatus.PERMANENT


def classify_association_rejection(result: int | None) -> DeliveryStatus:
    """Classify an A-ASSOCIATE-RJ by its Result field.

    Parameters
    ----------
    result : int or None
        ``0x01`` rejected-permanent, ``0x02`` rejected-transient, ``None`` if unknown.

    Returns
    -------
    DeliveryStatus
        ``TRANSIENT`` only for a rejected-transient answer (the peer says it is busy, e.g.
        too many associations); ``PERMANENT`` otherwise (unknown called/calling AE title,
        unsupported application context): retrying will not help until the configuration
        changes.
    """
    if result == ASSOCIATION_REJECTED_TRANSIENT:
        return DeliveryStatus.TRANSIENT
    return DeliveryStatus.PERMANENT


def classify_http_status(status_code: int) -> DeliveryStatus:
    """Classify the HTTP status of a STOW-RS response for the request as a whole.

    Parameters
    ----------
    status_code : int
        The HTTP status code.

    Returns
    -------
    DeliveryStatus
        ``SUCCESS`` for 200 (all instances stored); ``WARNING`` for 202 (stored with
        warnings, or some failed: the response body says which) and other 2xx;
        ``TRANSIENT`` for 5xx, 408 and 429; ``PERMANENT`` for every other code (400, 401,
        403, 404, 409 conflict, 415 unsupported media type, unfollowed 3xx redirects).
    """
    if status_code == 200:
        return DeliveryStatus.SUCCESS
    if 200 <= status_code < 300:
        return DeliveryStatus.WARNING
    if status_code >= 500 or status_code in _TRANSIENT_HTTP:
        return DeliveryStatus.TRANSIENT
    return DeliveryStatus.PERMANENT
