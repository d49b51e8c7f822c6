"""What the SCP reports about its work: small picklable records sent to one recorder.

The receiving processes never touch the audit database; they publish these records to a
:class:`ReceiveSink` (a queue to the service process, or a list in tests), and the
service records them and feeds the series-completion timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class AssociationInfo:
    """The peer side of one association.

    Parameters
    ----------
    key : str
        Identifier of the association unique across processes (a UUID4 hex string).
    calling_aet : str
        Calling AE Title (the peer's).
    called_aet : str
        Called AE Title (should be ours).
    address : str
        IP address the peer connected from.
    port : int
        TCP port the peer connected from.
    """

    key: str
    calling_aet: str
    called_aet: str
    address: str
    port: int


@dataclass(frozen=True)
class AssociationAccepted:
    """An association passed access control and was accepted."""

    association: AssociationInfo
    at: float
    """Time of acceptance, seconds since the epoch."""


@dataclass(frozen=True)
class AssociationRefused:
    """An association request was rejected by access control."""

    association: AssociationInfo
    reason: str
    at: float
    """Time of rejection, seconds since the epoch."""


@dataclass(frozen=True)
class AssociationEnded:
    """An accepted association was released or aborted."""

    association: AssociationInfo
    aborted: bool
    at: float
    """Time it ended, seconds since the epoch."""


@dataclass(frozen=True)
class InstanceStored:
    """An instance is durably in the spool and success was returned.

    Parameters
    ----------
    association : AssociationInfo
        The association that brought it.
    sop_class_uid, sop_instance_uid, study_instance_uid, series_instance_uid : str
        Its identifying UIDs (validated).
    transfer_syntax_uid : str
        Transfer syntax it was received and stored in.
    path : str
        Its file in the spool.
    size_bytes : int
        File size in bytes.
    replaced : bool
        Whether an earlier copy was overwritten (a duplicate).
    header : dict of str to str
        Key header fields by DICOM keyword (PatientID, Modality, SeriesDescription, ...);
        absent or empty ones are left out. PHI: never log it.
    at : float
        Time it became durable, seconds since the epoch.
    assumed : tuple of str
        What the node took from elsewhere than the data set (e.g. an empty SOP Class UID
        from the request), in plain words; recorded with the instance.
    """

    association: AssociationInfo
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    path: str
    size_bytes: int
    replaced: bool
    header: dict[str, str]
    at: float
    assumed: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstanceRefused:
    """A C-STORE request ended with a failure status.

    Parameters
    ----------
    association : AssociationInfo
        The association that brought it.
    sop_class_uid : str
        Affected SOP Class UID of the request (as sent, truncated to 64 characters).
    sop_instance_uid : str
        Affected SOP Instance UID of the request (as sent, truncated to 64 characters).
    status : int
        The DIMSE status returned (e.g. 0xA700, 0xC210).
    reason : str
        Why, without PHI.
    at : float
        Time of the response, seconds since the epoch.
    """

    association: AssociationInfo
    sop_class_uid: str
    sop_instance_uid: str
    status: int
    reason: str
    at: float


@dataclass(frozen=True)
class ConnectionRefused:
    """A connection was closed before or outside DICOM's own rejections: a per-address
    limit, a PDU that is unknown, too large, malformed or not complete by its deadline, or
    an association that broke the protocol.

    Parameters
    ----------
    address : str
        IP address the peer connected from.
    port : int
        TCP port the peer connected from.
    reason : str
        The kind (:class:`dicomnode.scp.pdu.RefusalReason` value), the metrics label.
    detail : str
        One line without received values (sizes and PDU types only).
    at : float
        Time of the refusal, seconds since the epoch.
    """

    address: str
    port: int
    reason: str
    detail: str
    at: float


ReceiveEvent = (
    AssociationAccepted
    | AssociationRefused
    | AssociationEnded
    | InstanceStored
    | InstanceRefused
    | ConnectionRefused
)
"""Everything the SCP reports."""


class ReceiveSink(Protocol):
    """Where the SCP publishes its events; must be safe to call from several threads."""

    def publish(self, event: ReceiveEvent) -> None:
        """Hand over one event; must not block for long."""
        ...
