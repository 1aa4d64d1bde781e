"""analytics end to end on real servers: documents from our generator on moto's S3 server,
tables on Debian's PostgreSQL (and once on the embedded one)."""

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from tests.analytics.conftest import Ceph
from tests.support.cli import run
from thoth_monitoring.analytics.documents import error_class
from thoth_monitoring.analytics.service import AnalyticsMetrics, AnalyticsSettings, serve
from thoth_monitoring.analytics.service import run as run_days
from thoth_monitoring.core.database import embedded_url, psycopg_url, stop_embedded
from thoth_monitoring.demo.processes import free_port

DAYS = "32"  # every document the generator wrote (the 30 days before now), and today


def expected_runs(documents: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """adviser_runs as the documents say, worked out here from the generator's output."""
    rows: set[tuple[Any, ...]] = set()
    for document in documents:
        metadata, result = document["metadata"], document["result"]
        environment = result["parameters"]["project"]["runtime_environment"]
        integration = metadata["arguments"]["thoth-adviser"]["metadata"]["source_type"]
        created = datetime.fromisoformat(metadata["datetime"].replace("Z", "+00:00"))
        message = result["error_msg"] if result["error"] else None
        rows.add((
            metadata["document_id"], created.date(), created, integration or "unknown",
            result["parameters"]["recommendation_type"].upper(),
            "error" if result["error"] else "success",
            None if message is None else error_class(message), message,
            float(metadata["duration"]), environment["operating_system"]["name"],
            environment["operating_system"]["version"], environment["python_version"],
            integration == "KEBECHET",
        ))  # fmt: skip
    return rows


def daily(rows: set[tuple[Any, ...]]) -> dict[tuple[object, ...], int]:
    return dict(Counter((row[1], row[3], row[4], row[5]) for row in rows))


def table(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(psycopg_url(url)) as conn:
        return conn.execute(query).fetchall()


def runs_in(url: str, schema: str = "thoth_analytics") -> set[tuple[Any, ...]]:
    rows = table(url, f"SELECT * FROM {schema}.adviser_runs")
    return {(*row[:2], row[2].astimezone(UTC), *row[3:]) for row in rows}


def daily_in(url: str) -> dict[tuple[object, ...], int]:
    rows = table(url, "SELECT * FROM thoth_analytics.adviser_daily")
    return {tuple(row[:4]): row[4] for row in rows}


def metric(exposition: str, name: str, **labels: str) -> float:
    samples = [s for f in text_string_to_metric_families(exposition) for s in f.samples]
    return next(s.value for s in samples if s.name == name and s.labels == labels)


def test_once_loads_each_run_and_the_daily_aggregates_the_documents_hold(
    ceph: Ceph, make_database: Callable[[], str], tmp_path: Path
) -> None:
    url = make_database()
    config = ceph.config(tmp_path)
    done = run("analytics", "--config", str(config), "--database-url", url, "--days", DAYS,
               "--once")  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = expected_runs(ceph.documents)
    assert len(expected) == len(ceph.documents) == 60
    assert runs_in(url) == expected
    assert daily_in(url) == daily(expected)
    assert {row[5] for row in expected} == {"success", "error"}  # a mix, not one outcome
    # broken documents: counted, logged with their keys and reasons, their day loaded anyway
    assert metric(done.stdout, "thoth_analytics_documents_unreadable_total") == 3
    assert metric(done.stdout, "thoth_analytics_rows_written_total") == 60
    for key, reason in ceph.broken.items():
        logged = [line for line in done.stderr.splitlines() if "document_unreadable" in line]
        assert any(f"key={key}" in line and reason in line for line in logged), logged
    query = "SELECT day, last_key, documents, unreadable FROM thoth_analytics.ingest_days"
    days = {row[0]: row[1:] for row in table(url, query)}
    broken_day = datetime.strptime(next(iter(ceph.broken)).split("-")[-2][:6], "%y%m%d").date()
    runs_that_day = sum(1 for row in expected if row[1] == broken_day)
    assert days[broken_day][1:] == (runs_that_day + 3, 3)
    assert len(days) == int(DAYS)
    assert sum(row[1] for row in days.values()) == 63


def test_a_day_loaded_again_is_replaced_never_doubled(
    ceph: Ceph, make_database: Callable[[], str], tmp_path: Path
) -> None:
    url = make_database()
    arguments = ("analytics", "--config", str(ceph.config(tmp_path)), "--database-url", url,
                 "--days", DAYS, "--once")  # fmt: skip
    assert run(*arguments).returncode == 0
    unchanged = run(*arguments)
    assert metric(unchanged.stdout, "thoth_analytics_rows_written_total") == 0
    assert "day_unchanged" in unchanged.stderr
    # a document arrives late, with a key *before* the day's last one: the day is read again
    late = json.loads(json.dumps(ceph.documents[0]))
    stamp = late["metadata"]["document_id"].split("-")[1]
    late["metadata"]["document_id"] = name = f"adviser-{stamp}-late"
    ceph.put(name, json.dumps(late).encode())
    again = run(*arguments)
    assert again.returncode == 0, again.stderr
    expected = expected_runs([*ceph.documents, late])
    assert runs_in(url) == expected
    assert daily_in(url) == daily(expected)
    day = datetime.strptime(stamp[:6], "%y%m%d").date()
    assert metric(again.stdout, "thoth_analytics_rows_written_total") == sum(
        1 for row in expected if row[1] == day
    )


def test_a_day_failing_before_commit_is_absent_and_the_days_before_it_complete(
    ceph: Ceph, make_database: Callable[[], str]
) -> None:
    url = make_database()
    settings = AnalyticsSettings.model_validate(
        {"ceph": ceph.settings.model_dump(), "database_url": url, "days": int(DAYS)}
    )
    store, metrics = settings.store(), AnalyticsMetrics()
    store.create()
    days = sorted({datetime.fromisoformat(d["metadata"]["datetime"][:10]).date()
                   for d in ceph.documents})  # fmt: skip
    failing = days[len(days) // 2]
    # the database refuses the day's last statement, after its rows and aggregates were written
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute(f"""
            CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                IF NEW.day = '{failing}' THEN RAISE EXCEPTION 'disk full'; END IF;
                RETURN NEW; END $$;
            CREATE TRIGGER refuse BEFORE INSERT ON thoth_analytics.ingest_days
                FOR EACH ROW EXECUTE FUNCTION refuse();""")
    today = datetime.now(UTC).date()
    assert run_days(settings, store, metrics, today) is False
    expected = expected_runs(ceph.documents)
    before = {row for row in expected if row[1] < failing}
    assert runs_in(url) == before
    assert daily_in(url) == daily(before)
    assert (
        metrics.registry.get_sample_value("thoth_analytics_runs_total", {"outcome": "failure"}) == 1
    )
    assert metrics.registry.get_sample_value("thoth_analytics_last_success_timestamp_seconds") == 0
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute("DROP TRIGGER refuse ON thoth_analytics.ingest_days")
    assert run_days(settings, store, metrics, today) is True
    assert runs_in(url) == expected
    assert daily_in(url) == daily(expected)


def test_once_without_a_database_url_writes_to_the_embedded_server(
    ceph: Ceph, tmp_path: Path
) -> None:
    data_dir = tmp_path / "postgres"
    try:
        config = str(ceph.config(tmp_path))
        done = run("analytics", "--config", config, "--data-dir", str(data_dir),
                   "--schema", "superset_data", "--days", DAYS, "--once")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert runs_in(embedded_url(data_dir), "superset_data") == expected_runs(ceph.documents)
    finally:
        stop_embedded(data_dir)


def test_an_unreachable_database_fails_the_run_saying_why(ceph: Ceph, tmp_path: Path) -> None:
    with socket.socket() as unused:  # a free port nothing listens on
        unused.bind(("127.0.0.1", 0))
        url = f"postgresql://nobody@127.0.0.1:{unused.getsockname()[1]}/none"
    done = run("analytics", "--config", str(ceph.config(tmp_path)), "--database-url", url, "--once")
    assert done.returncode == 1
    assert "run_failed" in done.stderr and "Traceback" not in done.stderr
    assert metric(done.stdout, "thoth_analytics_runs_total", outcome="failure") == 1


async def test_serve_runs_when_started_and_serves_metrics_promtool_accepts(
    ceph: Ceph, make_database: Callable[[], str]
) -> None:
    port = free_port()
    settings = AnalyticsSettings.model_validate({
        "ceph": ceph.settings.model_dump(), "database_url": make_database(),
        "days": int(DAYS), "listen": f"127.0.0.1:{port}",
    })  # fmt: skip
    task = asyncio.create_task(serve(settings))
    exposition = ""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            for _ in range(300):  # until the first run has finished (or 30 s)
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
                        exposition = await answer.text()
                if exposition and metric(
                    exposition, "thoth_analytics_last_success_timestamp_seconds"
                ):
                    break
                await asyncio.sleep(0.1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert metric(exposition, "thoth_analytics_last_success_timestamp_seconds") > 0
    assert metric(exposition, "thoth_analytics_rows_written_total") == 60
    assert metric(exposition, "thoth_analytics_documents_unreadable_total") == 3
    assert metric(exposition, "thoth_analytics_runs_total", outcome="success") == 1
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run .ci/system-deps"
    check = await asyncio.to_thread(
        subprocess.run, [promtool, "check", "metrics"], input=exposition, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == 0 and not check.stdout + check.stderr, check.stdout + check.stderr
