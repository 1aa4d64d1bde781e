"""Collection behaviour against a real server: failures, timeouts, outages, vanishing labels."""

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.support.logs import logged
from tests.support.metrics import build, metric_file
from thoth_monitoring.core.database import embedded_url, psycopg_url, stop_embedded


async def eventually(condition: Callable[[], object], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_slow_query_is_cancelled_server_side_and_does_not_delay_others(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    url = make_database()
    metrics = metric_file(
        tmp_path,
        """
  test_slow:
    type: gauge
    help: Sleeps past its timeout.
    timeout: 500ms
    sql: SELECT 1 AS value FROM pg_sleep(30)
  test_quick:
    type: gauge
    help: Answers at once.
    sql: SELECT 7 AS value
""",
    )
    exporter = build(url, metrics)
    started = time.monotonic()
    failures = await exporter.collect_once()
    elapsed = time.monotonic() - started
    await exporter.collector.engine.dispose()
    assert set(failures) == {"test_slow"}
    assert "statement timeout" in failures["test_slow"]
    statuses = exporter.collector.statuses
    assert statuses["test_slow"].errors_total == 1
    assert statuses["test_quick"].samples[0].value == 7
    assert statuses["test_quick"].last_duration is not None
    assert statuses["test_quick"].last_duration < 0.5
    assert elapsed < 5
    with psycopg.connect(psycopg_url(url)) as conn:
        running = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' "
            "AND state = 'active' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert running == (0,)


async def test_vanished_label_set_vanishes_from_metrics(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    url = make_database()
    with psycopg.connect(psycopg_url(url)) as conn:
        conn.execute("CREATE TABLE fruit (name text)")
        conn.execute("INSERT INTO fruit VALUES ('apple'), ('pear'), ('pear')")
    metrics = metric_file(
        tmp_path,
        """
  test_fruit:
    type: gauge
    help: Fruit by name.
    labels: [name]
    sql: SELECT name, count(*) AS value FROM fruit GROUP BY name
""",
    )
    exporter = build(url, metrics)
    async with TestClient(TestServer(exporter.app())) as client:
        await exporter.collect_once()
        body = await (await client.get("/metrics")).text()
        assert 'test_fruit{name="pear"} 2.0' in body
        with psycopg.connect(psycopg_url(url)) as conn:
            conn.execute("DELETE FROM fruit WHERE name = 'pear'")
        await exporter.collect_once()
        body = await (await client.get("/metrics")).text()
    await exporter.collector.engine.dispose()
    assert 'test_fruit{name="apple"} 1.0' in body
    assert "pear" not in body


async def test_rows_that_do_not_fit_the_metric_are_an_error_not_a_crash(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    metrics = metric_file(
        tmp_path,
        """
  test_wrong_columns:
    type: gauge
    help: Returns no value column.
    labels: [name]
    sql: SELECT 'a' AS name, 1 AS amount
  test_duplicate_labels:
    type: gauge
    help: Returns the same label set twice.
    labels: [name]
    sql: SELECT 'a' AS name, 1 AS value UNION ALL SELECT 'a', 2
""",
    )
    exporter = build(make_database(), metrics)
    failures = await exporter.collect_once()
    await exporter.collector.engine.dispose()
    assert "missing ['value']" in failures["test_wrong_columns"]
    assert "more than once" in failures["test_duplicate_labels"]


BAD_VALUES = """
  test_timestamp:
    type: gauge
    help: A timestamp is not a sample value.
    interval: 200ms
    sql: SELECT now() AS value
  test_text:
    type: gauge
    help: Text is refused even when it looks like a number.
    labels: [name]
    sql: SELECT 'a' AS name, '5' AS value
  test_good:
    type: gauge
    help: Fits.
    interval: 200ms
    sql: SELECT 3 AS value
"""


async def test_a_value_that_is_not_a_number_fails_that_metric_only(
    make_database: Callable[[], str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = build(make_database(), metric_file(tmp_path, BAD_VALUES))
    failures = await exporter.collect_once()
    await exporter.collector.engine.dispose()
    assert failures == {
        "test_timestamp": "column 'value' holds datetime values, expected a number",
        "test_text": "column 'value' holds str values, expected a number",
    }
    assert exporter.collector.statuses["test_good"].samples[0].value == 3
    [line] = [line for line in logged(caplog, "collection_failed") if "test_timestamp" in line]
    assert "metric=test_timestamp error=\"column 'value' holds datetime values," in line


async def test_serving_survives_values_that_are_not_numbers(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    exporter = build(make_database(), metric_file(tmp_path, BAD_VALUES), probe_interval=0.2)
    statuses = exporter.collector.statuses
    running = asyncio.create_task(exporter.collector.run_forever())
    try:
        async with TestClient(TestServer(exporter.app())) as client:
            await eventually(
                lambda: (
                    running.done()
                    or (
                        statuses["test_timestamp"].errors_total >= 2
                        and statuses["test_good"].samples
                    )
                )
            )
            assert not running.done(), running.exception()
            response = await client.get("/metrics")
            body = await response.text()
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await exporter.collector.engine.dispose()
    assert response.status == 200
    assert "\ntest_good 3.0\n" in body
    assert 'thoth_metrics_exporter_collection_errors_total{metric="test_timestamp"} 0.0' not in body
    assert 'thoth_metrics_exporter_collection_errors_total{metric="test_timestamp"}' in body


async def test_writes_are_refused_because_collection_is_read_only(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    metrics = metric_file(
        tmp_path,
        """
  test_writer:
    type: gauge
    help: Tries to write.
    sql: CREATE TABLE sneaky AS SELECT 1 AS value
""",
    )
    exporter = build(make_database(), metrics)
    failures = await exporter.collect_once()
    await exporter.collector.engine.dispose()
    assert "read-only transaction" in failures["test_writer"]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A server of this test's own, so the test may stop and start it."""
    data_dir = tmp_path / "pg"
    url = embedded_url(data_dir)
    yield data_dir, url
    stop_embedded(data_dir)


async def test_database_outage_keeps_serving_last_values_then_recovers(
    own_server: tuple[Path, str], tmp_path: Path
) -> None:
    data_dir, url = own_server
    with psycopg.connect(psycopg_url(url)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS jobs (id int)")
        conn.execute("INSERT INTO jobs VALUES (1), (2)")
    metrics = metric_file(
        tmp_path,
        """
  test_jobs:
    type: gauge
    help: Jobs.
    interval: 300ms
    sql: SELECT count(*) AS value FROM jobs
""",
    )
    exporter = build(url, metrics, probe_interval=0.2)
    collector = exporter.collector
    status = collector.statuses["test_jobs"]
    running = asyncio.create_task(collector.run_forever())
    try:
        async with TestClient(TestServer(exporter.app())) as client:
            await eventually(lambda: status.samples and collector.database_up)
            await asyncio.to_thread(stop_embedded, data_dir)
            await eventually(lambda: not collector.database_up)
            response = await client.get("/metrics")
            body = await response.text()
            assert response.status == 200
            assert "thoth_metrics_exporter_database_up 0.0" in body
            assert "test_jobs 2.0" in body

            await asyncio.to_thread(embedded_url, data_dir)
            with psycopg.connect(psycopg_url(url)) as conn:
                conn.execute("INSERT INTO jobs VALUES (3)")
            await eventually(lambda: status.samples and status.samples[0].value == 3)
            body = await (await client.get("/metrics")).text()
            assert "thoth_metrics_exporter_database_up 1.0" in body
            assert "test_jobs 3.0" in body
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await collector.engine.dispose()


async def test_database_down_from_the_start_is_logged_once_then_each_change(
    own_server: tuple[Path, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="thoth_monitoring.exporters.metrics.collection")
    data_dir, url = own_server
    metrics = metric_file(
        tmp_path, "  test_one:\n    type: gauge\n    help: One.\n    sql: SELECT 1 AS value\n"
    )
    await asyncio.to_thread(stop_embedded, data_dir)
    collector = build(url, metrics).collector
    try:
        assert not await collector.probe()
        assert not await collector.probe()
        await asyncio.to_thread(embedded_url, data_dir)
        assert await collector.probe()
        assert await collector.probe()
    finally:
        await collector.engine.dispose()
    events = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.getMessage().startswith("database_")
    ]
    assert events == [("WARNING", "database_down"), ("INFO", "database_up")]
