"""Jobs: the handler contract, the runner port and the local worker-process pool.

A job's state lives in the audit database (see :class:`dicomnode.audit.rows.JobState` for
the state machine); a runner (:mod:`dicomnode.jobs.runner`) claims queued jobs from there
and runs the configured handler on each in a separate process. This package module imports
only the light handler contract: worker processes import it on start.
"""

from dicomnode.jobs.handler import JobOutcome, JobSpec, resolve_handler

__all__ = ["JobOutcome", "JobSpec", "resolve_handler"]
