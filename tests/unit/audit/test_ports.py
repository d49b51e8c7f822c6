"""The SQLAlchemy audit log implements every narrow port with the port's own signatures."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from dicomnode.audit import ports
from dicomnode.audit.log import AuditLog

PORTS = [
    ports.ServiceEventLog,
    ports.ReceiptLog,
    ports.ReconcileLog,
    ports.RetentionLog,
    ports.JobSubmission,
    ports.JobQueue,
    ports.ClaimQueue,
    ports.DeliveryLog,
    ports.JobReader,
    ports.JobAdmin,
    ports.PlanApprovalLog,
    ports.DashboardLog,
    ports.StudyLinkLog,
]


def _members(port: type) -> list[str]:
    """The names a port declares (its own and those of the ports it extends)."""
    names: set[str] = set()
    for klass in port.__mro__:
        if klass.__module__ == ports.__name__:
            names |= {name for name in vars(klass) if not name.startswith("_")}
    return sorted(names)


def test_every_port_is_listed_here() -> None:
    declared = {
        value
        for value in vars(ports).values()
        if isinstance(value, type) and value.__module__ == ports.__name__
    }
    assert declared - {ports.Receipts} == set(PORTS)


@pytest.mark.parametrize("port", PORTS, ids=lambda port: port.__name__)
def test_audit_log_methods_have_the_port_signatures(port: type) -> None:
    members = _members(port)
    assert members, f"{port.__name__} declares nothing"
    for name in members:
        declared = inspect.getattr_static(port, name)
        implemented = inspect.getattr_static(AuditLog, name)
        if isinstance(declared, property):
            assert isinstance(implemented, property), name
            continue
        assert implemented is not declared, f"AuditLog lacks {port.__name__}.{name}"
        # Parameters alike (names, kinds, defaults); return types are mypy's to check.
        declared_parameters = inspect.signature(declared).parameters
        assert inspect.signature(implemented).parameters == declared_parameters, name
        assert declared.__doc__, f"{port.__name__}.{name} has no docstring"


def test_receipt_batch_has_the_receipts_signatures() -> None:
    from dicomnode.audit.receipts import ReceiptBatch

    for name in _members(ports.Receipts):
        declared = inspect.signature(getattr(ports.Receipts, name))
        implemented = inspect.signature(getattr(ReceiptBatch, name))
        assert implemented.parameters == declared.parameters, name


def test_ports_import_no_sqlalchemy() -> None:
    code = "import sys, dicomnode.audit.ports; print('sqlalchemy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
