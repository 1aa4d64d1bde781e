"""What Prometheus sees: golden exposition, promtool's linter, content negotiation, endpoints."""

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.exposition import generate_latest

from thoth_monitoring.core.database import psycopg_url
from thoth_monitoring.demo.probes import database_counters
from thoth_monitoring.exporters.metrics.service import MetricsExporter, MetricsExporterSettings

Client = TestClient[web.Request, web.Application]
GOLDEN = Path(__file__).with_name("golden") / "thoth_metrics.prom"
# Samples that change from run to run or server to server (durations, times, versions, sizes).
VOLATILE = re.compile(
    r"^(thoth_metrics_exporter_(collection_duration_seconds|last_success_timestamp_seconds|build_info)"
    r"|thoth_graphdb_database_size_bytes )"
)


async def collected(url: str) -> MetricsExporter:
    exporter = MetricsExporter.build(MetricsExporterSettings.model_validate({"database_url": url}))
    await exporter.collect_once()
    await exporter.collector.engine.dispose()
    return exporter


def stable_lines(exposition: str) -> str:
    return "".join(line + "\n" for line in exposition.splitlines() if not VOLATILE.match(line))


async def test_exposition_matches_the_golden_file(seeded_url: str) -> None:
    text = stable_lines(generate_latest((await collected(seeded_url)).registry).decode())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


async def test_promtool_check_metrics_is_clean(seeded_url: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run .ci/system-deps (Debian package prometheus)"
    exposition = generate_latest((await collected(seeded_url)).registry)
    result = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, b"")


@pytest.fixture
async def client(seeded_url: str) -> AsyncIterator[Client]:
    exporter = await collected(seeded_url)
    async with TestClient(TestServer(exporter.app())) as client:
        yield client


async def test_metrics_endpoint_negotiates_openmetrics(client: Client) -> None:
    plain = await client.get("/metrics")
    assert plain.status == 200
    assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    openmetrics = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    body = await openmetrics.text()
    assert body.endswith("# EOF\n")
    assert "\nthoth_graphdb_cves 30.0\n" in body


async def test_landing_health_and_readiness(client: Client) -> None:
    landing = await client.get("/")
    assert "thoth_graphdb_cves" in await landing.text()
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200


async def test_readiness_waits_for_the_first_collection(seeded_url: str) -> None:
    exporter = MetricsExporter.build(
        MetricsExporterSettings.model_validate({"database_url": seeded_url})
    )
    async with TestClient(TestServer(exporter.app())) as client:
        assert (await client.get("/readyz")).status == 503
    await exporter.collector.engine.dispose()


def pause_autovacuum(url: str) -> None:
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        tables = conn.execute(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        for (table,) in tables:
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        conn.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
            "WHERE backend_type = 'autovacuum worker' AND datname = current_database()"
        )


async def test_concurrent_scrapes_never_touch_the_database(
    seeded_url: str, client: Client, run_slow: bool
) -> None:
    scrapes, concurrency = (20_000, 50) if run_slow else (1_000, 20)
    await asyncio.to_thread(pause_autovacuum, seeded_url)  # its transactions would count too
    before = (await asyncio.to_thread(database_counters, seeded_url, 1.2))[0]

    async def scrape(count: int) -> set[str]:
        bodies = set()
        for _ in range(count):
            response = await client.get("/metrics")
            assert response.status == 200
            bodies.add(await response.text())
        return bodies

    results = await asyncio.gather(*(scrape(scrapes // concurrency) for _ in range(concurrency)))
    after = (await asyncio.to_thread(database_counters, seeded_url, 1.2))[0]
    assert len(set().union(*results)) == 1  # every scrape saw the same, complete exposition
    assert after - before <= 2  # only this test's own two statistics reads
