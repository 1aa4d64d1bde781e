"""analytics as a command: its settings, one run over the last days (oldest first), and the
``--once`` and ``serve`` ways of running it."""

import asyncio
import logging
import re
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from pathlib import Path
from typing import Any

import psycopg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from pydantic import Field, field_validator
from tqdm import tqdm

from thoth_monitoring.analytics.command import DEFAULT_LISTEN
from thoth_monitoring.analytics.documents import adviser_keys, read_keys
from thoth_monitoring.analytics.store import AnalyticsStore
from thoth_monitoring.core import service
from thoth_monitoring.core.config import Duration
from thoth_monitoring.core.database import DEFAULT_DATA_DIR, DatabaseUrl, resolve_url
from thoth_monitoring.core.s3 import S3Settings, make_client
from thoth_monitoring.core.settings import CommandSettings

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class AnalyticsSettings(CommandSettings):
    """Every option of ``analytics``; the ``ceph`` section comes from the config file."""

    ceph: S3Settings
    database_url: DatabaseUrl | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    schema_name: str = "thoth_analytics"
    days: int = Field(2, ge=1, le=3660)
    schedule: str = "30 0 * * *"
    listen: str = DEFAULT_LISTEN
    workers: int = Field(8, ge=1, le=64)
    statement_timeout: Duration = 60.0

    @field_validator("schema_name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(
                f"{value!r} is not a plain schema name (lower-case letters, digits, _)"
            )
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value, timezone=UTC)
        except ValueError as error:
            raise ValueError(f"{value!r} is not a cron expression: {error}") from None
        return value

    def store(self) -> AnalyticsStore:
        url = None if self.database_url is None else self.database_url.get_secret_value()
        return AnalyticsStore(resolve_url(url, self.data_dir), self.schema_name,
                              self.statement_timeout)  # fmt: skip

    def describe(self) -> str:
        where = "the embedded PostgreSQL" if self.database_url is None else "--database-url"
        folder = self.ceph.folder("adviser")
        return f"adviser documents of {folder} into {where}, schema {self.schema_name}"


class AnalyticsMetrics:
    """What ``analytics serve`` exposes (and ``--once`` prints) for ThothAnalyticsStale."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.last_success = Gauge(
            "thoth_analytics_last_success_timestamp_seconds",
            "End of the last run that loaded every day it was asked for.",
            registry=self.registry,
        )
        self.rows = Counter(
            "thoth_analytics_rows_written",
            "adviser_runs rows written (a day reloaded counts its rows again).",
            registry=self.registry,
        )
        self.unreadable = Counter(
            "thoth_analytics_documents_unreadable",
            "Adviser documents that could not be read (not JSON, a field missing or mistyped).",
            registry=self.registry,
        )
        self.runs = Counter(
            "thoth_analytics_runs", "Runs by outcome.", ["outcome"], registry=self.registry
        )
        self.duration = Gauge(
            "thoth_analytics_run_duration_seconds",
            "How long the last run took.",
            registry=self.registry,
        )
        for outcome in ("success", "failure"):
            self.runs.labels(outcome)


def run(
    settings: AnalyticsSettings,
    store: AnalyticsStore,
    metrics: AnalyticsMetrics,
    today: date,
    progress: bool = False,
) -> bool:
    """Load the ``days`` days ending ``today``, oldest first; True when every day loaded.

    A day whose keys are those of its last load (same last key, same count) is left as it is;
    any other is read again in full and replaced. An S3 or database failure stops the run: the
    day under way stays as it was, the days before it are loaded."""
    started = time.monotonic()
    days = [today - timedelta(days=back) for back in reversed(range(settings.days))]
    day: date | None = None  # the day under way
    try:
        store.create()
        client = make_client(settings.ceph)
        for day in tqdm(days, desc="days", unit="day", disable=not progress):
            rows, unreadable = load_day(settings, store, client, day)
            metrics.rows.inc(rows)
            metrics.unreadable.inc(unreadable)
    except (psycopg.Error, BotoCoreError, ClientError, OSError) as error:
        metrics.runs.labels("failure").inc()
        log.error("run_failed", extra={"day": day, "error": str(error) or repr(error)})
        return False
    finally:
        metrics.duration.set(time.monotonic() - started)
    metrics.runs.labels("success").inc()
    metrics.last_success.set(time.time())
    log.info("run_done", extra={"days": len(days), "first": days[0], "last": days[-1]})
    return True


def load_day(
    settings: AnalyticsSettings, store: AnalyticsStore, client: Any, day: date
) -> tuple[int, int]:
    """One day: the rows written and the documents unreadable (none when it is unchanged)."""
    start = datetime.combine(day, day_start(), tzinfo=UTC)
    keys = adviser_keys(client, settings.ceph, start, start + timedelta(days=1))
    loaded = store.loaded(day)
    if loaded is not None and (loaded.last_key, loaded.documents) == (
        keys[-1] if keys else None,
        len(keys),
    ):
        log.info("day_unchanged", extra={"day": day, "documents": len(keys)})
        return 0, 0
    documents = read_keys(client, settings.ceph, keys, settings.workers)
    for item in documents.unreadable:
        log.warning("document_unreadable", extra={"key": item.key, "reason": item.reason})
    rows = store.replace_day(day, documents)
    log.info(
        "day_loaded",
        extra={"day": day, "rows": rows, "unreadable": len(documents.unreadable)},
    )
    return rows, len(documents.unreadable)


def run_once(settings: AnalyticsSettings, progress: bool) -> int:
    """``--once``: load the days, print the exposition; 1 if the run failed."""
    metrics = AnalyticsMetrics()
    ok = run(settings, settings.store(), metrics, datetime.now(UTC).date(), progress)
    print(generate_latest(metrics.registry).decode(), end="")
    return 0 if ok else 1


async def serve(settings: AnalyticsSettings) -> None:
    """Load the days on the cron schedule (UTC) and serve ``/metrics``."""
    metrics = AnalyticsMetrics()
    store = await asyncio.to_thread(settings.store)
    scheduler = AsyncIOScheduler(timezone=UTC)

    async def scheduled() -> None:
        await asyncio.to_thread(run, settings, store, metrics, datetime.now(UTC).date())

    trigger = CronTrigger.from_crontab(settings.schedule, timezone=UTC)
    scheduler.add_job(scheduled, trigger, id="analytics", max_instances=1, coalesce=True,
                      misfire_grace_time=3600, next_run_time=datetime.now(UTC))  # fmt: skip
    app = service.Service("analytics", metrics.registry).app()
    scheduler.start()
    try:
        await service.serve(app, settings.listen, schedule=settings.schedule)
    finally:
        scheduler.shutdown(wait=False)
