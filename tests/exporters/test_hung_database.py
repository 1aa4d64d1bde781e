"""A hung database (every server process SIGSTOPped): a query's deadline is kept, the connection
is thrown away without waiting on the frozen server, nothing piles up across repeated hangs, and
collection recovers once the server resumes."""

import contextlib
import gc
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tests.support.metrics import build, metric_file
from thoth_monitoring.core.database import Limits, read_only
from thoth_monitoring.demo.debian_postgres import DebianPostgres, debian_cluster, frozen
from thoth_monitoring.exporters.health.service import GraphExporter, GraphExporterSettings, Unit
from thoth_monitoring.exporters.metrics import collection
from thoth_monitoring.exporters.metrics.service import MetricsExporter

pytestmark = pytest.mark.e2e  # a Debian cluster of its own, frozen

TIMEOUT = 0.5
GRACE = 0.5
# The deadline contract: a query is answered or given up at its timeout plus the client's grace;
# a second's margin for a busy machine. psycopg's own cancellation waits 5s, then 5s more.
BOUND = TIMEOUT + GRACE + 1
HANGS = 3


@pytest.fixture(scope="module")
def server() -> Iterator[DebianPostgres]:
    """A cluster of its own: freezing the shared test server would stall the other tests."""
    with debian_cluster() as server:
        yield server


def durations(exporter: MetricsExporter) -> dict[str, float]:
    """The exporter's own collection_duration_seconds, per metric."""
    text = generate_latest(exporter.registry).decode()
    return {
        sample.labels["metric"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "thoth_metrics_exporter_collection_duration_seconds"
    }


def open_files() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


async def test_a_hung_database_fails_each_collection_at_its_deadline(
    server: DebianPostgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A captured log record keeps its error, and so the socket of the connection attempt the
    # deadline interrupted, alive until the test ends: the count of open files would lie.
    caplog.set_level(logging.ERROR, logger="thoth_monitoring.exporters.metrics.collection")
    monkeypatch.setattr(collection, "CLIENT_GRACE_SECONDS", GRACE)
    monkeypatch.setattr(collection, "PROBE_TIMEOUT_SECONDS", GRACE)
    metrics = metric_file(tmp_path, "  hung_rows:\n    type: gauge\n    help: Rows.\n"
                          "    sql: SELECT count(*) AS value FROM fault_table\n")  # fmt: skip
    exporter = build(server.url(), metrics, timeout=TIMEOUT, max_concurrency=1)
    collector = exporter.collector
    try:
        assert await collector.collect_all() == {}
        files = open_files()
        with frozen(server):
            for _ in range(HANGS):  # the first waits on a pooled connection, the others connect
                await collector.collect("hung_rows")
                status = collector.statuses["hung_rows"]
                assert status.last_error == "no answer within 1s; connection discarded"
                assert durations(exporter)["hung_rows"] <= BOUND
            assert not await collector.probe()
        assert collector.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert await collector.probe()
        assert await collector.collect_all() == {}
        assert collector.statuses["hung_rows"].errors_total == HANGS
        assert open_files() <= files  # no socket left behind by the hangs
    finally:
        await collector.engine.dispose()


async def test_a_hung_database_fails_a_graph_task_at_its_deadline(server: DebianPostgres) -> None:
    stack = contextlib.ExitStack()

    async def run() -> list[Metric]:
        async with read_only(server.url(), Limits(TIMEOUT, TIMEOUT)) as conn:
            stack.enter_context(frozen(server))  # connected, then the server hangs
            await conn.execute("SELECT 1")
        return []

    unit = Unit(task="tables", database="postgres", interval=60, deadline=TIMEOUT + GRACE, run=run)
    exporter = GraphExporter(GraphExporterSettings(), [unit])
    with stack:
        await exporter.run(unit)
    assert unit.last_error == "task exceeded its deadline of 1s"
    assert unit.last_duration is not None and unit.last_duration <= BOUND
    with psycopg.connect(server.url(), connect_timeout=10) as conn:  # the server is back
        assert conn.execute("SELECT 1").fetchone() == (1,)
