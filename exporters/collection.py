"""Background collection: runs every metric's query on its own schedule and keeps the latest
result in memory, so that serving ``/metrics`` never touches the database.

Each query runs in a read-only transaction with a server-side ``statement_timeout``; at most
``max_concurrency`` run at once; a client-side deadline a little past the server timeout
discards a connection that stopped answering. A probe checks the database every cycle; while it
is down, metrics keep their last values and the probe retries with exponential backoff.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exporters.metricset import MetricDefinition
from exporters.runs import RunStatus, repeat

log = logging.getLogger(__name__)

CLIENT_GRACE_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 60.0

Labels = tuple[str, ...]


@dataclass(frozen=True)
class Sample:
    labels: Labels
    value: float


@dataclass(kw_only=True)
class MetricStatus(RunStatus):
    """What is known about one metric: the last good samples and how collection went."""

    definition: MetricDefinition
    samples: tuple[Sample, ...] = ()


class QueryError(Exception):
    """A metric's query failed or returned rows that do not fit its definition."""


@dataclass
class Collector:
    """Runs the metric set against ``engine``; ``statuses`` is what ``/metrics`` reads."""

    engine: AsyncEngine
    metrics: Mapping[str, MetricDefinition]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    max_concurrency: int = 2
    jitter: float = 0.1
    probe_interval: float = 15.0
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    statuses: dict[str, MetricStatus] = field(init=False)
    database_up: bool = field(init=False, default=False)
    generation: int = field(init=False, default=0)
    _logged_up: bool | None = field(init=False, default=None)  # the state the logs last told

    def __post_init__(self) -> None:
        self.statuses = {name: MetricStatus(definition=d) for name, d in self.metrics.items()}
        self._slots = asyncio.Semaphore(self.max_concurrency)
        self._available = asyncio.Event()

    @property
    def ready(self) -> bool:
        """True once every metric has been attempted at least once."""
        return all(status.attempted for status in self.statuses.values())

    async def collect_all(self) -> dict[str, str]:
        """Probe, then run every metric once; returns ``{metric: error}`` for failures."""
        await self.probe()
        await asyncio.gather(*(self.collect(name) for name in self.statuses))
        return {
            name: status.last_error
            for name, status in self.statuses.items()
            if status.last_error is not None
        }

    async def run_forever(self) -> None:
        """Probe on a schedule and run each metric on its interval (with jitter) until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._probe_loop())
            for name in self.statuses:
                group.create_task(self._metric_loop(name))

    async def probe(self) -> bool:
        """A real round trip to the database; updates ``database_up``. The first outcome and
        every change after it are logged (a database down from the start included)."""
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            up = True
        except (TimeoutError, OSError, SQLAlchemyError) as error:
            if self._logged_up is not False:
                log.warning("event=database_down error=%s", _one_line(error))
            up = False
        if up and self._logged_up is not True:
            log.info("event=database_up")
        self._logged_up = up
        self._set_database_up(up)
        return up

    async def collect(self, name: str) -> None:
        """Run one metric's query now and record the outcome."""
        status = self.statuses[name]
        definition = status.definition
        async with self._slots:
            started = time.perf_counter()
            try:
                status.samples = samples_from_rows(
                    definition, await self._execute(definition, definition.sql)
                )
            except QueryError as error:
                log.warning("event=collection_failed metric=%s error=%s", name, error)
                status.record(time.perf_counter() - started, self.clock(), str(error))
            else:
                status.record(time.perf_counter() - started, self.clock())
            finally:
                self.generation += 1

    async def check_queries(self) -> dict[str, str | None]:
        """Plan every metric's query with EXPLAIN (which runs nothing), under the same
        read-only transaction and timeouts as collection; ``{metric: error or None}``."""

        async def check(definition: MetricDefinition) -> str | None:
            async with self._slots:
                try:
                    await self._execute(definition, f"EXPLAIN {definition.sql}")
                except QueryError as error:
                    return str(error)
            return None

        definitions = [status.definition for status in self.statuses.values()]
        outcomes = await asyncio.gather(*(check(definition) for definition in definitions))
        return {d.name: outcome for d, outcome in zip(definitions, outcomes, strict=True)}

    async def _probe_loop(self) -> None:
        backoff = 1.0
        while True:
            if await self.probe():
                backoff = 1.0
                await asyncio.sleep(self.probe_interval)
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS, self.probe_interval)

    async def _metric_loop(self, name: str) -> None:
        interval = self.statuses[name].definition.interval
        await repeat(
            lambda: self.collect(name), interval, self.jitter, self.rng, self._available.wait
        )

    def _set_database_up(self, up: bool) -> None:
        if up != self.database_up:
            self.generation += 1
        self.database_up = up
        if up:
            self._available.set()
        else:
            self._available.clear()

    async def _execute(
        self, definition: MetricDefinition, sql: str
    ) -> tuple[Sequence[str], list[Sequence[Any]]]:
        """Run ``sql`` (the metric's query, or EXPLAIN of it) with the metric's parameters
        and timeouts; every failure becomes a QueryError."""
        parameters = {name: self.parameters.get(name) for name in definition.parameters}
        deadline = definition.timeout + CLIENT_GRACE_SECONDS
        conn: AsyncConnection | None = None
        try:
            try:
                async with asyncio.timeout(deadline):
                    conn = await self.engine.connect()
                    return await _read_only(conn, sql, definition.timeout, parameters)
            except TimeoutError:
                if conn is not None:
                    await conn.invalidate()
                raise QueryError(f"no answer within {deadline:g}s; connection discarded") from None
            finally:
                if conn is not None:
                    await conn.close()
        except DBAPIError as error:
            if error.connection_invalidated:
                self._set_database_up(False)
            raise QueryError(_one_line(error.orig or error)) from None
        except (OSError, SQLAlchemyError) as error:
            raise QueryError(_one_line(error)) from None


async def _read_only(
    conn: AsyncConnection, sql: str, statement_timeout: float, parameters: Mapping[str, Any]
) -> tuple[Sequence[str], list[Sequence[Any]]]:
    async with conn.begin():
        await conn.execute(text("SET TRANSACTION READ ONLY"))
        await conn.execute(
            text("SELECT set_config('statement_timeout', :ms, true)"),
            {"ms": str(int(statement_timeout * 1000))},
        )
        result = await conn.execute(text(sql), parameters)
        return list(result.keys()), [tuple(row) for row in result.fetchall()]


def samples_from_rows(
    definition: MetricDefinition, result: tuple[Sequence[str], list[Sequence[Any]]]
) -> tuple[Sample, ...]:
    """Turn query rows into samples (sorted by labels), checking them against the definition."""
    columns, rows = result
    expected = [*definition.labels] + (
        [] if definition.type == "info" else [definition.value_column]
    )
    missing = [column for column in expected if column not in columns]
    if missing:
        raise QueryError(
            f"query returned columns {list(columns)}, missing {missing} "
            f"(labels {list(definition.labels)}, value column {definition.value_column!r})"
        )
    positions = [columns.index(label) for label in definition.labels]
    value_position = None if definition.type == "info" else columns.index(definition.value_column)
    samples: dict[Labels, Sample] = {}
    for row in rows:
        labels = tuple("" if row[i] is None else str(row[i]) for i in positions)
        if labels in samples:
            raise QueryError(f"query returned the label set {labels} more than once")
        if value_position is None:
            samples[labels] = Sample(labels, 1.0)
        elif row[value_position] is not None:
            value = _number(row[value_position], definition.value_column)
            samples[labels] = Sample(labels, value)
    return tuple(sorted(samples.values(), key=lambda sample: sample.labels))


def _number(value: object, column: str) -> float:
    """A sample value from a numeric column (booleans count as 1 and 0). Text is refused even
    when it looks like a number, so that whether a metric works depends on the column's type,
    not on the rows of the day; the error names the type only, never the value."""
    if isinstance(value, int | float | Decimal):
        return float(value)
    raise QueryError(f"column {column!r} holds {type(value).__name__} values, expected a number")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
