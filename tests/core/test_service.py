import gzip
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Gauge

from thoth_monitoring.core.service import Service


def registry() -> CollectorRegistry:
    made = CollectorRegistry()
    Gauge("thoth_a", "A.", registry=made).set(1)
    Gauge("thoth_b", "B.", registry=made).set(2)
    return made


async def test_every_service_has_landing_health_readiness_and_metrics() -> None:
    ready = [False]
    service = Service("demo thing", registry(), ready=lambda: ready[0], not_ready="warming",
                      status=lambda: [("task <x>", "ok")])  # fmt: skip
    async with TestClient(TestServer(service.app())) as client:
        landing = await (await client.get("/")).text()
        assert "thoth demo thing" in landing and "task &lt;x&gt;" in landing
        assert (await client.get("/healthz")).status == 200
        not_ready = await client.get("/readyz")
        assert (not_ready.status, await not_ready.text()) == (503, "warming\n")
        ready[0] = True
        assert (await client.get("/readyz")).status == 200
        assert "thoth_b 2.0" in await (await client.get("/metrics")).text()


async def test_metrics_filter_by_name_and_compress_with_and_without_a_cache() -> None:
    for state in (None, lambda: 1):
        service = Service("s", registry(), state=state)
        async with TestClient(TestServer(service.app())) as client:
            filtered = await (await client.get("/metrics", params={"name[]": "thoth_a"})).text()
            assert "thoth_a 1.0" in filtered and "thoth_b" not in filtered
            zipped = await client.get(
                "/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
            )
            assert zipped.headers["Content-Encoding"] == "gzip"
            assert b"thoth_b 2.0" in gzip.decompress(await zipped.read())


@pytest.mark.integration
def test_sigterm_stops_a_service_cleanly(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned-up"
    code = textwrap.dedent(f"""
        import asyncio, sys
        from thoth_monitoring.core.service import run_until_stopped

        async def main():
            try:
                print("started", flush=True)
                await asyncio.Event().wait()
            finally:
                open({str(marker)!r}, "w").close()

        sys.exit(run_until_stopped(main()))
    """)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "started\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert marker.exists()
