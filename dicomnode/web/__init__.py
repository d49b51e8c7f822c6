"""The administrator web dashboard, ``/health`` and ``/metrics`` (see docs/dashboard.md)."""
