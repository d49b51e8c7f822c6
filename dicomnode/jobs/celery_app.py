"""The Celery application of the ``celery`` backend: broker, queues and delivery guarantees.

The node publishes and the workers consume through the same application, built from the same
:class:`~dicomnode.jobs.config.JobsConfig`. A message carries only the job id; the job's
state, its files and its outcome live in the audit database and on shared storage.

Delivery guarantees (at least once, the audit database making the result exactly once):

- ``task_acks_late``: a message is acknowledged when its task ends, not when it starts, so a
  worker lost mid-job (killed, machine down) leaves it unacknowledged and the broker delivers
  it again to another worker (``task_reject_on_worker_lost`` covers a pool process that dies);
- ``worker_prefetch_multiplier = 1``: a worker reserves one message per free pool process,
  so a burst waits in the broker (visible as queue depth, shared by every worker) instead of
  in one worker's buffer;
- durable queues and persistent messages, published with confirmation (RabbitMQ
  ``confirm_publish``): a broker restart loses no job the node recorded as published;
- Redis (``redis://host:6379/N``) has no broker acknowledgements: a message taken by a
  worker is kept aside and given to another worker when the visibility timeout passes
  without its acknowledgement. That timeout is set longer than the job timeout plus the
  claim lease (:func:`visibility_timeout_s`), so a slow job is never run twice at once; a
  worker lost mid-job is instead noticed through its lapsed claim in the audit database
  (the node publishes the job again after ``lease_s``), and the late redelivery finds the
  job ended and is acknowledged without work. RabbitMQ: its ``consumer_timeout`` must exceed
  the job timeout (deploy/rabbitmq.conf).

Queue: ``jobs.queue`` (one per model or GPU class), declared with 10 priority levels
(RabbitMQ ``x-max-priority``; Redis: one list per level, ``priority_steps``, where 0 is the
highest, so the message priority is turned round by :func:`broker_priority`). A worker holds
one message per pool process, so the broker hands out the waiting job of highest priority
each time a process is free: a rush (9) first, then
small studies (6: at most ``small_study_instances`` instances), then the others (4), oldest
first within a priority. A burst of large studies therefore never starves a small one (it
waits for the jobs in hand only), and a rush overtakes both.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from dicomnode.jobs.config import JobsConfig

TASK_NAME = "dicomnode.jobs.run"
"""Name of the one task: run (an attempt of) job N."""
MAX_PRIORITY = 9
"""Highest message priority (queues are declared with ``x-max-priority`` 10)."""
NORMAL_PRIORITY = 4
"""Priority of a job's message unless rushed."""
SMALL_PRIORITY = 6
"""Priority of a small study's message (taken before any waiting large study)."""
VISIBILITY_MARGIN_S = 600.0
"""Seconds added to the job timeout and lease for the Redis visibility timeout."""
PROCESS_START_S = 600.0
"""Seconds a pool process may take to start (imports and model load in ``prepare``)."""


def queue_names(config: JobsConfig) -> tuple[str]:
    """The broker queues of the configuration."""
    return (config.queue,)


def declared_queues(config: JobsConfig) -> list[Queue]:
    """The durable priority queue(s) of the configuration, on one direct exchange."""
    exchange = Exchange(config.queue, type="direct", durable=True)
    return [
        Queue(
            name,
            exchange,
            routing_key=name,
            durable=True,
            queue_arguments={"x-max-priority": MAX_PRIORITY + 1},
        )
        for name in queue_names(config)
    ]


def is_redis(broker_url: str) -> bool:
    """Whether the broker is Redis (``redis://``, ``rediss://`` or a socket URL)."""
    return broker_url.split("://", 1)[0].split("+", 1)[0] in ("redis", "rediss", "socket")


def broker_priority(broker_url: str, priority: int) -> int:
    """The message priority the broker understands for ``priority`` (9: most urgent).

    RabbitMQ delivers the highest number first; Redis (kombu's transport) the lowest."""
    return MAX_PRIORITY - priority if is_redis(broker_url) else priority


def visibility_timeout_s(config: JobsConfig) -> float:
    """Seconds Redis keeps a taken, unacknowledged message from other workers: the job
    timeout (a day when there is none), plus the claim lease and a margin."""
    return (config.timeout_s or 86400.0) + config.lease_s + VISIBILITY_MARGIN_S


def route(config: JobsConfig, instances: int, priority: int) -> tuple[Queue, int]:
    """The queue and message priority (9: most urgent; :func:`broker_priority` gives the
    broker's number) of a job of ``instances`` instances whose stored priority is
    ``priority`` (0: not rushed)."""
    (queue,) = declared_queues(config)
    if config.small_study_instances and instances <= config.small_study_instances:
        return queue, max(priority, SMALL_PRIORITY)
    return queue, max(priority, NORMAL_PRIORITY)


def declare_queues(app: Celery, config: JobsConfig) -> None:
    """Declare the configuration's exchange and queues on the broker (idempotent; the
    arguments must match any earlier declaration of the same queues)."""
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in declared_queues(config):
            queue.bind(channel).declare()


def create_celery_app(config: JobsConfig) -> Celery:
    """The Celery application for ``config`` (the task is registered by the worker).

    Parameters
    ----------
    config : JobsConfig
        ``broker_url``, ``queue``, ``timeout_s``, ``lease_s`` and ``max_jobs_per_worker``.
    """
    app = Celery("dicomnode", broker=config.broker_url, set_as_current=False)
    timeout_s = config.timeout_s
    transport: dict[str, object]
    if is_redis(config.broker_url):
        transport = {
            "visibility_timeout": visibility_timeout_s(config),
            "priority_steps": list(range(MAX_PRIORITY + 1)),  # one list per priority
        }
    else:
        # publish returns once the broker has the message
        transport = {"confirm_publish": True}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_queues=declared_queues(config),
        task_default_queue=config.queue,
        task_default_priority=broker_priority(config.broker_url, NORMAL_PRIORITY),
        task_create_missing_queues=False,
        task_soft_time_limit=timeout_s,
        task_time_limit=None if timeout_s is None else timeout_s + config.lease_s,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_max_tasks_per_child=config.max_jobs_per_worker,
        worker_proc_alive_timeout=PROCESS_START_S,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    return app
