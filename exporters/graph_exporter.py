"""``thoth-monitoring graph-exporter``: slow database health signals — bloat, sizes, vacuum and
wraparound, amcheck, backups — each task on its own schedule, for every configured database.

Three modes: ``--listen`` serves ``/metrics`` and runs the tasks in the background;
``--push URL`` runs every task once and pushes each one that succeeded to a Pushgateway under its
own grouping key (so tasks never wipe each other); ``--once`` prints the exposition. A failing
task never hides the others: it keeps its last results, and its failure shows in the self
metrics (and, for ``--push`` and ``--once``, in the exit code).
"""

import asyncio
import functools
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import psycopg
from aiohttp import web
from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from pydantic import BaseModel, ConfigDict, Field

from exporters.ceph import S3Settings, list_pages, make_client
from exporters.config import Duration
from exporters.database import DEFAULT_DATA_DIR, DatabaseUrl, resolve_url
from exporters.exposition import http_server, make_metrics_handler
from exporters.health import amcheck, backups, bloat, tables
from exporters.health.connection import Limits, database_name, read_only
from exporters.health.families import merge
from exporters.logs import LogFormat
from exporters.runs import RunStatus, repeat

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "0.0.0.0:9702"
SELF = "thoth_graph_exporter"


class TaskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    interval: Duration
    deadline: Duration = Field(description="the whole task, all statements together")


class DatabaseTaskSettings(TaskSettings):
    statement_timeout: Duration
    lock_timeout: Duration = 5.0


class TablesSettings(DatabaseTaskSettings):
    oldest_tables: int = Field(10, ge=1)


class BloatSettings(DatabaseTaskSettings):
    exact_tables: list[str] = Field(default_factory=list)
    exact_max_bytes: int = Field(0, ge=0)


class AmcheckSettings(DatabaseTaskSettings):
    max_index_bytes: int = Field(1 << 30, ge=0)
    index_timeout: Duration = 600.0


class GraphExporterSettings(BaseModel):
    """Every option of the command; each may come from the config file or a flag."""

    model_config = ConfigDict(extra="forbid")

    listen: str = DEFAULT_LISTEN
    databases: list[DatabaseUrl] = Field(default_factory=list)
    data_dir: Path = DEFAULT_DATA_DIR
    push: str | None = None
    push_timeout: Duration = 30.0
    job: str = "thoth-graph-exporter"
    max_concurrency: int = Field(1, ge=1, le=8)
    jitter: float = Field(0.1, ge=0, lt=1)
    tables: TablesSettings = TablesSettings(
        interval=300, deadline=120, statement_timeout=60, lock_timeout=5
    )
    bloat: BloatSettings = BloatSettings(
        interval=3600, deadline=1800, statement_timeout=600, lock_timeout=5
    )
    amcheck: AmcheckSettings = AmcheckSettings(
        interval=86400, deadline=6 * 3600, statement_timeout=60, lock_timeout=5, index_timeout=1800
    )
    backups: TaskSettings = TaskSettings(interval=900, deadline=120)
    s3: S3Settings | None = None
    log_format: LogFormat = "keyvalue"

    def database_urls(self) -> list[str]:
        return [url.get_secret_value() for url in self.databases] or [
            resolve_url(None, self.data_dir)
        ]


@dataclass(kw_only=True)
class Unit(RunStatus):
    """One task for one database (or, for backups, for the bucket): scheduled, stored and
    pushed on its own."""

    task: str
    database: str | None
    interval: float
    deadline: float
    run: Callable[[], Awaitable[list[Metric]]]
    families: list[Metric] = field(default_factory=list)

    @property
    def labels(self) -> dict[str, str]:
        return {"task": self.task, "database": self.database or ""}


@dataclass(eq=False)  # registered as a collector: hashed by identity
class GraphExporter:
    settings: GraphExporterSettings
    units: list[Unit]
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    generation: int = 0

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.settings.max_concurrency)

    @classmethod
    def build(cls, settings: GraphExporterSettings) -> "GraphExporter":
        units = [
            unit for url in settings.database_urls() for unit in _database_units(settings, url)
        ]
        if settings.backups.enabled and settings.s3 is not None:
            units.append(_backup_unit(settings.backups, settings.s3))
        return cls(settings, units)

    async def run_all(self) -> list[Unit]:
        """Run every unit once; returns the ones that failed."""
        await asyncio.gather(*(self.run(unit) for unit in self.units))
        return [unit for unit in self.units if unit.last_error is not None]

    async def run_forever(self) -> None:
        async with asyncio.TaskGroup() as group:
            for unit in self.units:
                action = functools.partial(self.run, unit)
                group.create_task(repeat(action, unit.interval, self.settings.jitter, self.rng))

    async def run(self, unit: Unit) -> None:
        async with self._slots:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(unit.deadline):
                    unit.families = await unit.run()
            except Exception as error:  # a task's failure must never stop the others
                message = " ".join(str(error).split()) or type(error).__name__
                if isinstance(error, TimeoutError):
                    message = f"task exceeded its deadline of {unit.deadline:g}s"
                log.warning(
                    "event=task_failed task=%s database=%s error=%s",
                    unit.task, unit.database, message,
                )  # fmt: skip
                unit.record(time.perf_counter() - started, self.clock(), message)
            else:
                unit.record(time.perf_counter() - started, self.clock())
                log.info(
                    "event=task_done task=%s database=%s seconds=%.3f",
                    unit.task, unit.database, unit.last_duration,
                )  # fmt: skip
            finally:
                self.generation += 1

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from merge(family for unit in self.units for family in unit.families)
        yield from self_metrics(self.units)

    def push(self) -> list[str]:
        """Push every unit that succeeded under its own grouping key; returns push errors."""
        assert self.settings.push is not None
        failures = []
        for unit in self.units:
            if unit.last_error is not None:
                continue
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Fixed([*unit.families, *self_metrics([unit], pushed=True)]))
            try:
                push_to_gateway(
                    self.settings.push,
                    job=self.settings.job,
                    registry=registry,
                    grouping_key={k: v for k, v in unit.labels.items() if v},
                    timeout=self.settings.push_timeout,
                )
            except OSError as error:
                failures.append(f"push of {unit.task} ({unit.database or '-'}) failed: {error}")
        return failures

    def app(self) -> web.Application:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        app = web.Application()
        app.router.add_get("/metrics", make_metrics_handler(registry, lambda: self.generation))
        app.router.add_get("/healthz", _ok)
        return app


class _Fixed:
    """A collector yielding a fixed list of families (one push)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> list[Metric]:
        return self.families


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def self_metrics(units: list[Unit], pushed: bool = False) -> Iterator[Metric]:
    labels = ["task", "database"]
    success = GaugeMetricFamily(
        f"{SELF}_task_last_success_timestamp_seconds",
        "Unix time each task last succeeded; its metrics are as of then.",
        labels=labels,
    )
    duration = GaugeMetricFamily(
        f"{SELF}_task_duration_seconds", "Wall time of each task's last run.", labels=labels
    )
    for unit in units:
        key = [unit.task, unit.database or ""]
        if unit.last_success is not None:
            success.add_metric(key, unit.last_success)
        if unit.last_duration is not None:
            duration.add_metric(key, unit.last_duration)
    yield from (success, duration)
    if pushed:
        return  # a push is one run: counters and up flags would only say "it worked"
    errors = CounterMetricFamily(f"{SELF}_task_errors", "Failed runs per task.", labels=labels)
    up = GaugeMetricFamily(
        f"{SELF}_task_up", "1 if the task's last run succeeded, else 0.", labels=labels
    )
    for unit in units:
        key = [unit.task, unit.database or ""]
        errors.add_metric(key, unit.errors_total)
        if unit.attempted:
            up.add_metric(key, int(unit.last_error is None))
    build = GaugeMetricFamily(
        f"{SELF}_build_info", "Version of the exporter; always 1.", labels=["version"]
    )
    build.add_metric([package_version("thoth-monitoring")], 1)
    yield from (errors, up, build)


def _database_units(settings: GraphExporterSettings, url: str) -> Iterator[Unit]:
    database = database_name(url)

    def unit(
        task: str, options: DatabaseTaskSettings, work: Callable[..., Awaitable[list[Metric]]]
    ) -> Unit:
        limits = Limits(options.statement_timeout, options.lock_timeout)

        async def run() -> list[Metric]:
            async with read_only(url, limits) as conn:
                return await work(conn)

        return Unit(task=task, database=database, interval=options.interval,
                    deadline=options.deadline, run=run)  # fmt: skip

    if settings.tables.enabled:
        oldest = settings.tables.oldest_tables
        yield unit("tables", settings.tables,
                   lambda conn: tables.table_metrics(conn, database, oldest))  # fmt: skip
    if settings.bloat.enabled:
        exact = bloat.ExactRequest(
            frozenset(settings.bloat.exact_tables), settings.bloat.exact_max_bytes
        )
        yield unit("bloat", settings.bloat,
                   lambda conn: bloat.bloat_metrics(conn, database, exact))  # fmt: skip
    if settings.amcheck.enabled:
        limit, timeout = settings.amcheck.max_index_bytes, settings.amcheck.index_timeout

        async def check(conn: psycopg.AsyncConnection[Any]) -> list[Metric]:
            outcomes = await amcheck.check_indexes(conn, database, limit, timeout)
            return amcheck.amcheck_metrics(database, outcomes)

        yield unit("amcheck", settings.amcheck, check)


def _backup_unit(options: TaskSettings, s3: S3Settings) -> Unit:
    client = make_client(s3)
    folder = s3.folder(backups.FOLDER)

    def listing() -> list[Metric]:
        objects = [item for page in list_pages(client, s3.bucket, folder) for item in page]
        return backups.backup_metrics(objects, folder)

    async def run() -> list[Metric]:
        return await asyncio.to_thread(listing)

    return Unit(task="backups", database=None, interval=options.interval,
                deadline=options.deadline, run=run)  # fmt: skip


async def serve(settings: GraphExporterSettings) -> None:
    exporter = GraphExporter.build(settings)
    async with http_server(exporter.app(), settings.listen):
        log.info("event=listening address=%s tasks=%d", settings.listen, len(exporter.units))
        await exporter.run_forever()


async def run_once(settings: GraphExporterSettings) -> int:
    """Run every task once; print the exposition, or push it. 1 if anything failed."""
    exporter = GraphExporter.build(settings)
    failed = await exporter.run_all()
    problems = [f"task {u.task} ({u.database or '-'}) failed: {u.last_error}" for u in failed]
    if settings.push is not None:
        problems += await asyncio.to_thread(exporter.push)
    else:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(exporter)
        sys.stdout.write(generate_latest(registry).decode())
    for problem in problems:
        print(f"graph-exporter: {problem}", file=sys.stderr)
    return 1 if problems else 0
