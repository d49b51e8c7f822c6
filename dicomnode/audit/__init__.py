"""The audit database: models, migrations, engine set-up and the repository.

Import the parts directly (``from dicomnode.audit.log import AuditLog``); this package module
imports nothing, so that light users (errors, rows, configuration) do not load SQLAlchemy.
"""
