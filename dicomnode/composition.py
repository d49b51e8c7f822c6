"""The one composition root: turns the configuration into the running objects.

Nothing is built at import time and nothing here is global; every function takes the
configuration and returns new objects.
"""

from __future__ import annotations

import hashlib
import logging

from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.log import AuditLog
from dicomnode.completion import CompletionScheduler, CompletionTracker
from dicomnode.config import DicomNodeConfig
from dicomnode.delivery.factory import build_return_sender, build_senders
from dicomnode.intake.recorder import QueueDrain, ReceiveRecorder
from dicomnode.intake.retention import RetentionLoop, SpoolRetention
from dicomnode.jobs.runner import create_runner
from dicomnode.jobs.study_link import PlanningCTLinker
from dicomnode.jobs.study_relink import LatePlanningCTLinker
from dicomnode.outbox.outbox import Outbox
from dicomnode.scp.server import ScpProcessPool
from dicomnode.scp.spool import SpoolWriter
from dicomnode.service import BackgroundLoop, NodeService, SeriesJobCreator


def config_digest(config: DicomNodeConfig) -> str:
    """SHA-256 (hex) of the effective configuration, recorded with each service start."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()


def build_audit_log(config: DicomNodeConfig) -> AuditLog:
    """Open the audit database and, if configured, bring its schema up to date."""
    engine = create_audit_engine(
        config.audit.url,
        busy_timeout_s=config.audit.busy_timeout_s,
        pool_size=config.audit.pool_size,
        max_overflow=config.audit.max_overflow,
    )
    audit = AuditLog(engine, max_job_attempts=config.jobs.max_attempts)
    if config.audit.upgrade_on_start:
        audit.upgrade()
    return audit


def build_spool(config: DicomNodeConfig) -> SpoolWriter:
    """The spool writer; its root is made absolute so stored paths do not depend on cwd."""
    return SpoolWriter(config.spool.path.resolve())


def build_maintenance_loops(config: DicomNodeConfig, audit: AuditLog) -> list[BackgroundLoop]:
    """The spool retention clean-up and the web dashboard, where configured."""
    loops: list[BackgroundLoop] = []
    if config.spool.retention_days is not None:
        retention = SpoolRetention(audit, config.spool.path.resolve(), config.spool.retention_days)
        loops.append(RetentionLoop(retention, config.spool.retention_interval_s))
    if config.web.enabled:
        from dicomnode.web.app import create_app  # FastAPI is only needed when serving
        from dicomnode.web.server import WebServer

        loops.append(WebServer(create_app(config, audit), config.web, audit))
    return loops


def build_service(config: DicomNodeConfig) -> NodeService:
    """Build every part of the node (nothing is started).

    Parameters
    ----------
    config : DicomNodeConfig
        The validated configuration.

    Returns
    -------
    NodeService
        Ready to :meth:`~dicomnode.service.NodeService.run`.
    """
    audit = build_audit_log(config)
    spool = build_spool(config)
    tracker = CompletionTracker(config.completion)
    scp = ScpProcessPool(
        config.scp,
        spool.root,
        logging.getLevelName(config.log_level),
        config.spool.min_free_bytes,
    )
    drain = QueueDrain(scp.queue, ReceiveRecorder(audit, tracker))
    senders = {sender.name: sender for sender in build_senders(config.delivery)}
    delivery = config.delivery
    outbox = Outbox(
        audit,
        senders,
        config.outbox,
        return_sender=(
            (lambda calling_ae, host: build_return_sender(delivery, calling_ae, host))
            if delivery.return_to_sender
            else None
        ),
    )
    runner = create_runner(
        config.jobs,
        audit,
        pipeline=config.pipeline,
        on_finished=lambda _job_id, _state: outbox.notify(),
    )
    dosimetry = config.pipeline.dosimetry
    scheduler = CompletionScheduler(
        tracker,
        SeriesJobCreator(
            audit,
            runner.notify,
            PlanningCTLinker(audit, dosimetry.link()) if dosimetry.enabled else None,
            LatePlanningCTLinker(audit, dosimetry.link()) if dosimetry.enabled else None,
        ),
        config.completion.check_interval_s,
        backlog=drain.backlog,
    )
    loops: list[BackgroundLoop] = [runner, outbox, *build_maintenance_loops(config, audit)]
    return NodeService(
        audit=audit,
        spool=spool,
        tracker=tracker,
        scp=scp,
        drain=drain,
        scheduler=scheduler,
        loops=loops,
        description=f"config sha256={config_digest(config)}",
    )
