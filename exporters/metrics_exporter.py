"""``thoth-monitoring metrics-exporter``: content metrics of a PostgreSQL database (the Thoth
knowledge graph by default) and Ceph document counts, collected in the background and served
from memory."""

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
from pydantic import BaseModel, ConfigDict, Field

from exporters.ceph import DocumentCounter, DocumentCountSettings, make_client
from exporters.collection import Collector
from exporters.config import Duration
from exporters.database import (
    DEFAULT_DATA_DIR,
    DatabaseUrl,
    create_engine,
    redact,
    resolve_url,
)
from exporters.exposition import ContentMetrics, http_server, make_metrics_handler
from exporters.knowledge_graph.models import ALEMBIC_REVISION
from exporters.logs import LogFormat
from exporters.metricset import MetricDefinition, load_metric_set

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "0.0.0.0:9701"


class MetricsExporterSettings(BaseModel):
    """Every option of the command; each may come from the config file or a flag."""

    model_config = ConfigDict(extra="forbid")

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
    log_format: LogFormat = "keyvalue"

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
    """The wired-up service: collector, optional document counter, registry."""

    settings: MetricsExporterSettings
    collector: Collector
    documents: DocumentCounter | None
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
        content = ContentMetrics(collector, documents, package_version("thoth-monitoring"))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(content)
        return cls(settings, collector, documents, registry, content)

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
        return failures

    async def refresh_documents_forever(self) -> None:
        assert self.documents is not None and self.settings.s3 is not None
        while True:
            try:
                await asyncio.to_thread(self.documents.refresh)
            except Exception as error:
                log.warning("event=ceph_refresh_failed error=%s", " ".join(str(error).split()))
            await asyncio.sleep(self.settings.s3.refresh_interval)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", make_metrics_handler(self.registry, self.content.state))
        app.router.add_get("/", self._landing)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        return app

    async def _landing(self, request: web.Request) -> web.Response:
        rows = "".join(
            f"<tr><td>{name}</td><td>{status.definition.interval:g}s</td>"
            f"<td>{'ok' if status.last_error is None else 'failing'}</td></tr>"
            for name, status in self.collector.statuses.items()
        )
        body = (
            "<!doctype html><title>thoth metrics exporter</title>"
            "<h1>thoth metrics exporter</h1><p><a href='/metrics'>/metrics</a> · "
            "<a href='/healthz'>/healthz</a> · <a href='/readyz'>/readyz</a></p>"
            f"<table><tr><th>metric</th><th>interval</th><th>state</th></tr>{rows}</table>"
        )
        return web.Response(text=body, content_type="text/html")

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        if self.collector.ready:
            return web.Response(text="ready\n")
        return web.Response(status=503, text="first collection still running\n")


async def serve(settings: MetricsExporterSettings) -> None:
    """Run until cancelled: background collection plus the HTTP server."""
    exporter = MetricsExporter.build(settings)
    try:
        async with http_server(exporter.app(), settings.listen), asyncio.TaskGroup() as group:
            log.info(
                "event=listening address=%s metrics=%d",
                settings.listen, len(exporter.collector.statuses),
            )  # fmt: skip
            group.create_task(exporter.collector.run_forever())
            if exporter.documents is not None:
                group.create_task(exporter.refresh_documents_forever())
    finally:
        await exporter.collector.engine.dispose()


async def check_config(settings: MetricsExporterSettings) -> int:
    """``--check-config``: the settings and metric files, then every query planned with EXPLAIN
    when ``--database-url`` answers (the embedded server is not started just for a check).
    2 if a query is invalid."""
    metrics = settings.metric_set()
    print(f"configuration is valid: {len(metrics)} metrics")
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
