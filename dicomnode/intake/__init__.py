"""The service process's side of receiving: recording, start-up reconciliation, retention.

The receiving processes (:mod:`dicomnode.scp`) write the spool and publish events; what
runs once in the service process on their behalf lives here: the recorder that writes
their events to the audit database, the start-up reconciliation of the spool with the
database, and spool retention.
"""
