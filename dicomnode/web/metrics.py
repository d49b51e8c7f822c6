"""``/metrics``: Prometheus text computed from the audit database at each scrape.

A custom collector reads the counts at scrape time, so the values are right whichever
process (SCP workers, job workers, outbox) wrote them, and survive restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from dicomnode.audit.rows import JobWorkerRow
from dicomnode.scp.pdu import RefusalReason
from dicomnode.scp.watermark import DiskWatermark, free_bytes
from dicomnode.web.queries import STAGE_BUCKETS_S, DashboardQueries

if TYPE_CHECKING:
    from dicomnode.jobs.broker_probe import BrokerProbe  # needs the celery extra


class AuditCollector(Collector):
    """Collects the node's metrics from the audit database and the spool's disk.

    Parameters
    ----------
    queries : DashboardQueries
        Read access to the audit database.
    watermark : DiskWatermark
        The spool folder and its disk-space watermark.
    clock : callable
        Returns the current time (timezone-aware UTC), for the age of the oldest job.
    broker : BrokerProbe, optional
        The Celery backend's broker queues (``jobs.backend: celery``).
    """

    def __init__(
        self,
        queries: DashboardQueries,
        watermark: DiskWatermark,
        clock: Callable[[], datetime],
        broker: BrokerProbe | None = None,
    ) -> None:
        self._queries = queries
        self._watermark = watermark
        self._clock = clock
        self._broker = broker

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family (one database read per scrape)."""
        snapshot = self._queries.metrics()
        instances = CounterMetricFamily(
            "dicomnode_instances_received",
            "C-STORE instances received, by outcome (stored, duplicate, rejected).",
            labels=["status"],
        )
        for status in ("stored", "duplicate", "rejected"):
            instances.add_metric([status], snapshot.instances_by_status.get(status, 0))
        yield instances
        yield CounterMetricFamily(
            "dicomnode_received_bytes",
            "Bytes of every instance received (Part 10 files as spooled).",
            value=snapshot.bytes_received,
        )
        associations = CounterMetricFamily(
            "dicomnode_associations",
            "Incoming DICOM associations, accepted or rejected.",
            labels=["outcome"],
        )
        for outcome, count in sorted(snapshot.associations_by_outcome.items()):
            associations.add_metric([outcome], count)
        yield associations
        yield CounterMetricFamily(
            "dicomnode_associations_aborted",
            "Accepted associations that ended in an A-ABORT (sent by either side, e.g. at the "
            "network timeout) or a lost connection instead of a release.",
            value=snapshot.associations_aborted,
        )
        refused = CounterMetricFamily(
            "dicomnode_connections_refused",
            "Incoming connections closed by the node before or outside association "
            "rejection (per-address limit; PDU unknown, too large, malformed or late; "
            "protocol error), by reason.",
            labels=["reason"],
        )
        for reason in RefusalReason:
            refused.add_metric([reason.value], snapshot.connections_refused.get(reason.value, 0))
        yield refused
        jobs = GaugeMetricFamily("dicomnode_jobs", "Jobs in each state.", labels=["state"])
        for state, count in snapshot.jobs_by_state.items():
            jobs.add_metric([state], count)
        yield jobs
        stages = HistogramMetricFamily(
            "dicomnode_job_stage_duration_seconds",
            "Duration of pipeline stages (from the job events), in seconds.",
            labels=["stage"],
        )
        for histogram in snapshot.stage_durations:
            buckets = [
                (_bound(bound), float(count))
                for bound, count in zip(STAGE_BUCKETS_S, histogram.cumulative, strict=True)
            ]
            buckets.append(("+Inf", float(histogram.count)))
            stages.add_metric([histogram.stage], buckets, sum_value=histogram.total_s)
        yield stages
        failures = CounterMetricFamily(
            "dicomnode_delivery_failures",
            "Failed sends of results, by destination and status (transient, permanent).",
            labels=["destination", "status"],
        )
        for (destination, status), count in sorted(snapshot.delivery_failures.items()):
            failures.add_metric([destination, status], count)
        yield failures
        deliveries = GaugeMetricFamily(
            "dicomnode_deliveries", "Outbox entries in each state.", labels=["state"]
        )
        for state in ("pending", "delivered", "dead_lettered"):
            deliveries.add_metric([state], snapshot.deliveries_by_state.get(state, 0))
        yield deliveries
        oldest = snapshot.oldest_queued_created_at
        age = 0.0 if oldest is None else max(0.0, (self._clock() - oldest).total_seconds())
        yield GaugeMetricFamily(
            "dicomnode_oldest_queued_job_age_seconds",
            "Age of the oldest queued job, in seconds (0 when none waits).",
            value=age,
        )
        yield from self._workers(snapshot.job_workers)
        if self._broker is not None:
            yield from self._queues(self._broker)
        yield GaugeMetricFamily(
            "dicomnode_spool_free_bytes",
            "Free bytes on the spool's file system.",
            value=free_bytes(self._watermark.root),
        )
        yield GaugeMetricFamily(
            "dicomnode_spool_min_free_bytes",
            "Disk-space watermark of the spool, in bytes (associations refused below it).",
            value=self._watermark.min_free_bytes,
        )

    def _workers(self, workers: Sequence[JobWorkerRow]) -> Iterator[Metric]:
        """Celery workers: alive (heartbeat), and job attempts each ended."""
        now = self._clock()
        yield GaugeMetricFamily(
            "dicomnode_workers_alive",
            "Celery workers whose heartbeat is recent (jobs.backend celery).",
            value=sum(1 for worker in workers if worker.alive(now)),
        )
        alive = GaugeMetricFamily(
            "dicomnode_worker_up", "1 while a Celery worker beats, by worker.", labels=["worker"]
        )
        done = CounterMetricFamily(
            "dicomnode_worker_jobs",
            "Job attempts a Celery worker ended (any outcome), by worker.",
            labels=["worker"],
        )
        for worker in workers:
            alive.add_metric([worker.name], 1.0 if worker.alive(now) else 0.0)
            done.add_metric([worker.name], worker.jobs_done)
        yield alive
        yield done

    def _queues(self, broker: BrokerProbe) -> Iterator[Metric]:
        """The broker: reachable, and messages waiting and consumers per queue."""
        report = broker.report()
        yield GaugeMetricFamily(
            "dicomnode_broker_up",
            "1 when the Celery broker answered this scrape.",
            value=1.0 if report.up else 0.0,
        )
        depth = GaugeMetricFamily(
            "dicomnode_queue_messages",
            "Job messages waiting in a broker queue (ready, not yet taken by a worker).",
            labels=["queue"],
        )
        consumers = GaugeMetricFamily(
            "dicomnode_queue_consumers",
            "Worker processes consuming a broker queue.",
            labels=["queue"],
        )
        for queue in report.queues:
            depth.add_metric([queue.name], queue.messages)
            consumers.add_metric([queue.name], queue.consumers)
        yield depth
        yield consumers


def _bound(seconds: float) -> str:
    return f"{seconds:g}"


def metrics_registry(collector: AuditCollector) -> CollectorRegistry:
    """A registry holding only the node's collector (render with ``generate_latest``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
