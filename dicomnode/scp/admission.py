"""What a C-STORE request must satisfy before the node acknowledges it.

:func:`admit` takes the Affected UIDs of the request and the data set as received, and
either returns its header or raises :class:`RefusalError` with the DIMSE status and a
reason that names no received value. The handler then spools the instance; nothing that
fails here reaches the spool.
"""

from __future__ import annotations

from dicomnode.scp.header import (
    DataSetMismatchError,
    HeaderError,
    InstanceHeader,
    read_data_set_header,
    with_sop_class_from,
)
from dicomnode.scp.status import StoreStatus
from dicomnode.scp.uids import uid_problem


class RefusalError(Exception):
    """A C-STORE request answered with a failure status.

    Parameters
    ----------
    status : StoreStatus
        The failure status.
    reason : str
        One line without received values (for the log, the audit record and the sender).
    """

    def __init__(self, status: StoreStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def admit(
    data_set: bytes, transfer_syntax_uid: str, sop_class_uid: str, sop_instance_uid: str
) -> InstanceHeader:
    """Check a received instance; return its header when it may be stored.

    Parameters
    ----------
    data_set : bytes
        The data set as received, in ``transfer_syntax_uid``.
    transfer_syntax_uid : str
        The transfer syntax of its presentation context.
    sop_class_uid, sop_instance_uid : str
        Affected SOP Class and Instance UIDs of the C-STORE request.

    Returns
    -------
    InstanceHeader
        Its UIDs (all valid) and key fields; an empty SOP Class UID in the data set is
        taken from the request, noted in ``assumed``.

    Raises
    ------
    RefusalError
        0xC211 for an invalid UID (request or data set), 0xC210 for a data set that does
        not parse to its end or lacks its SOP Instance UID, 0xA900 for Pixel Data that is missing
        or does not fit the geometry, 0xC212 when the data set's SOP UIDs differ from the
        request's.
    """
    for name, value in (("SOP Class", sop_class_uid), ("SOP Instance", sop_instance_uid)):
        problem = uid_problem(value)
        if problem is not None:
            raise RefusalError(StoreStatus.INVALID_UID, f"Affected {name} UID: {problem}")
    try:
        header = read_data_set_header(data_set, transfer_syntax_uid)
    except DataSetMismatchError as exc:
        raise RefusalError(StoreStatus.DATA_SET_MISMATCH, str(exc)) from exc
    except HeaderError as exc:
        raise RefusalError(StoreStatus.CANNOT_UNDERSTAND, str(exc)) from exc
    if not header.sop_instance_uid:
        raise RefusalError(StoreStatus.CANNOT_UNDERSTAND, "data set has no SOP Instance UID")
    header = with_sop_class_from(header, sop_class_uid, "the C-STORE request")
    for name, value in (
        ("Study Instance", header.study_instance_uid),
        ("Series Instance", header.series_instance_uid),
    ):
        problem = uid_problem(value)
        if problem is not None:
            raise RefusalError(StoreStatus.INVALID_UID, f"{name} UID: {problem}")
    if header.sop_instance_uid != sop_instance_uid or header.sop_class_uid != sop_class_uid:
        raise RefusalError(
            StoreStatus.UID_MISMATCH,
            "SOP Instance/Class UID of the data set differs from the C-STORE request",
        )
    return header
