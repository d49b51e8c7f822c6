"""The audit database: models, migrations, engine set-up and the repository.

Callers depend on the narrow port of their role (``from dicomnode.audit.ports import
JobQueue``); only the composition root and the CLI build the implementation
(``from dicomnode.audit.log import AuditLog``). This package module imports nothing, so that
light users (ports, errors, rows, configuration) do not load SQLAlchemy.
"""
