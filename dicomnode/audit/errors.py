"""Errors the audit log raises."""


class JobNotFoundError(KeyError):
    """No job with that id."""


class JobStateError(ValueError):
    """The job is not in a state that allows the operation."""


class DeliveryStateError(ValueError):
    """The outbox entry does not exist or is not in a state that allows the operation."""
