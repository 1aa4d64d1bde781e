"""``thoth-monitoring metrics-exporter``: content metrics of a PostgreSQL database (the Thoth
knowledge graph by default), Ceph document counts and Kafka offsets and lag, collected in the
background and served from memory."""

import asyncio
import logging
import sys
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from pydantic import Field

from thoth_monitoring.core import service
from thoth_monitoring.core.config import Duration
from thoth_monitoring.core.database import (
    DEFAULT_DATA_DIR,
    DatabaseUrl,
    create_engine,
    redact,
    resolve_url,
)
from thoth_monitoring.core.s3 import make_client
from thoth_monitoring.core.service import Service
from thoth_monitoring.core.settings import CommandSettings, config_valid
from thoth_monitoring.exporters.knowledge_graph.models import ALEMBIC_REVISION
from thoth_monitoring.exporters.metrics.collection import Collector
from thoth_monitoring.exporters.metrics.command import DEFAULT_LISTEN
from thoth_monitoring.exporters.metrics.documents import DocumentCounter, DocumentCountSettings
from thoth_monitoring.exporters.metrics.exposition import ContentMetrics
from thoth_monitoring.exporters.metrics.kafka import (
    KafkaCollectionError,
    KafkaSettings,
    KafkaSource,
)
from thoth_monitoring.exporters.metrics.metricset import MetricDefinition, load_metric_set

log = logging.getLogger(__name__)


class MetricsExporterSettings(CommandSettings):
    """Every option of the command; each may come from the config file or a flag."""

    listen: str = DEFAULT_LISTEN
    database_url: DatabaseUrl | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    metrics: list[Path] = Field(default_factory=list)
    include_default_metrics: bool = True
    expected_solvers: list[str] | None = None
    expected_schema_revision: str = ALEMBIC_REVISION
    parameters: dict[str, Any] = Field(default_factory=dict)
    interval: Duration = 60.0
    timeout: Duration = 30.0
    max_concurrency: int = Field(2, ge=1, le=32)
    jitter: float = Field(0.1, ge=0, lt=1)
    probe_interval: Duration = 15.0
    s3: DocumentCountSettings | None = None
    kafka: KafkaSettings | None = None

    def sql_parameters(self) -> dict[str, Any]:
        """Values for the ``:name`` placeholders metric SQL may use."""
        return {
            "expected_solvers": self.expected_solvers,
            "expected_schema_revision": self.expected_schema_revision,
            **self.parameters,
        }

    def metric_set(self) -> dict[str, MetricDefinition]:
        return load_metric_set(
            self.metrics,
            default_interval=self.interval,
            default_timeout=self.timeout,
            parameters=frozenset(self.sql_parameters()),
            include_default=self.include_default_metrics,
        )


@dataclass
class MetricsExporter:
    """The wired-up service: collector, optional document counter and Kafka source, registry."""

    settings: MetricsExporterSettings
    collector: Collector
    documents: DocumentCounter | None
    kafka: KafkaSource | None
    registry: CollectorRegistry
    content: ContentMetrics

    @classmethod
    def build(cls, settings: MetricsExporterSettings) -> "MetricsExporter":
        metrics = settings.metric_set()
        url = resolve_url(
            settings.database_url.get_secret_value() if settings.database_url else None,
            settings.data_dir,
        )
        engine = create_engine(url, settings.max_concurrency + 1, "thoth-metrics-exporter")
        collector = Collector(
            engine,
            metrics,
            parameters=settings.sql_parameters(),
            max_concurrency=settings.max_concurrency,
            jitter=settings.jitter,
            probe_interval=settings.probe_interval,
        )
        documents = None
        if settings.s3 is not None:
            documents = DocumentCounter(make_client(settings.s3), settings.s3)
        kafka = None if settings.kafka is None else KafkaSource(settings.kafka)
        content = ContentMetrics(collector, documents, package_version("thoth-monitoring"), kafka)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(content)
        return cls(settings, collector, documents, kafka, registry, content)

    async def collect_once(self) -> dict[str, str]:
        """One collection of everything; ``{what: error}`` for each failure."""
        failures = await self.collector.collect_all()
        if not self.collector.database_up:
            failures.setdefault("database", "probe failed: database unreachable")
        if self.documents is not None:
            try:
                await asyncio.to_thread(self.documents.refresh)
            except Exception as error:
                failures["ceph"] = " ".join(str(error).split())
        if self.kafka is not None and (problem := await self.refresh_kafka()) is not None:
            failures["kafka"] = problem
        return failures

    async def refresh_documents_forever(self) -> None:
        assert self.documents is not None and self.settings.s3 is not None
        while True:
            try:
                await asyncio.to_thread(self.documents.refresh)
            except Exception as error:
                log.warning("ceph_refresh_failed", extra={"error": " ".join(str(error).split())})
            await asyncio.sleep(self.settings.s3.refresh_interval)

    async def refresh_kafka(self) -> str | None:
        """One Kafka collection, bounded by ``kafka.timeout`` inside the worker thread; a
        failure is logged and returned."""
        assert self.kafka is not None
        try:
            await asyncio.to_thread(self.kafka.refresh)
        except KafkaCollectionError as error:
            log.warning("kafka_collection_failed", extra={
                "bootstrap_servers": ",".join(self.kafka.settings.bootstrap_servers),
                "error": str(error),
            })  # fmt: skip
            return str(error)
        return None

    async def refresh_kafka_forever(self) -> None:
        assert self.kafka is not None
        while True:
            await self.refresh_kafka()
            await asyncio.sleep(self.kafka.settings.interval)

    def app(self) -> web.Application:
        return Service(
            "metrics exporter",
            self.registry,
            state=self.content.state,
            ready=lambda: self.collector.ready,
            not_ready="first collection still running",
            status=self._status,
        ).app()

    def _status(self) -> list[tuple[str, str]]:
        return [
            (name, f"every {status.definition.interval:g}s, "
                   f"{'ok' if status.last_error is None else 'failing'}")
            for name, status in self.collector.statuses.items()
        ]  # fmt: skip

    async def run_forever(self) -> None:
        """Collect (and count documents) in the background until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.collector.run_forever())
            if self.documents is not None:
                group.create_task(self.refresh_documents_forever())
            if self.kafka is not None:
                group.create_task(self.refresh_kafka_forever())


async def serve(settings: MetricsExporterSettings) -> None:
    """Run until cancelled: background collection plus the HTTP server."""
    exporter = MetricsExporter.build(settings)
    try:
        await service.serve(
            exporter.app(), settings.listen, exporter.run_forever(),
            metrics=len(exporter.collector.statuses),
        )  # fmt: skip
    finally:
        await exporter.collector.engine.dispose()


async def check_config(settings: MetricsExporterSettings) -> int:
    """``--check-config``: the settings and metric files, then every query planned with EXPLAIN
    when ``--database-url`` answers (the embedded server is not started just for a check).
    2 if a query is invalid."""
    metrics = settings.metric_set()
    config_valid(f"{len(metrics)} metrics")
    if settings.database_url is None:
        print("queries not checked: no database URL given")
        return 0
    url = settings.database_url.get_secret_value()
    collector = Collector(
        create_engine(url, settings.max_concurrency + 1, "thoth-metrics-exporter"),
        metrics,
        parameters=settings.sql_parameters(),
        max_concurrency=settings.max_concurrency,
    )
    try:
        outcomes = await collector.check_queries() if await collector.probe() else None
    finally:
        await collector.engine.dispose()
    if outcomes is None:
        print(f"queries not checked: the database ({redact(url)}) is not reachable")
        return 0
    for name, error in outcomes.items():
        if error is None:
            print(f"query checked with EXPLAIN: {name}")
        else:
            print(f"{metrics[name].source}: metrics.{name}.sql: {error}", file=sys.stderr)
    failed = sum(error is not None for error in outcomes.values())
    if failed:
        print(f"{failed} of {len(outcomes)} queries failed EXPLAIN", file=sys.stderr)
    return 2 if failed else 0


async def run_once(settings: MetricsExporterSettings) -> int:
    """Collect everything once, print the exposition; 1 if anything failed."""
    exporter = MetricsExporter.build(settings)
    try:
        failures = await exporter.collect_once()
    finally:
        await exporter.collector.engine.dispose()
    sys.stdout.write(generate_latest(exporter.registry).decode())
    for what, error in sorted(failures.items()):
        print(f"metrics-exporter: {what} failed: {error}", file=sys.stderr)
    return 1 if failures else 0
