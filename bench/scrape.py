"""bench/scrape: what scraping the metrics exporter costs, against the same metric set run as
custom queries of Debian's prometheus-postgres-exporter, all measured in one run.

(a) full collection cycle time at --scale and the five costliest metrics;
(b) /metrics latency p50/p99 with 1, 10 and 50 concurrent scrapers;
(c) database work (transactions and rows read per minute, from pg_stat_database) of both
    exporters while Prometheus-like clients scrape at 1 and 10 scrapes/s, and
    postgres_exporter's scrape latency;
(d) Ceph: list requests of an incremental refresh after 1 000 new documents.

Run with ``make bench`` (or ``python -m bench.scrape --help``). Results: bench/results/scrape.json.
"""

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml

from bench.common import (
    database_counters,
    free_port,
    paced_scrapes,
    percentile,
    print_table,
    stop,
    wait_for_http,
    write_result,
)
from thoth_monitoring.core.database import (
    DEFAULT_DATA_DIR,
    embedded_url,
    psycopg_url,
    with_database,
)
from thoth_monitoring.exporters.knowledge_graph.seed import seed
from thoth_monitoring.exporters.metrics.metricset import MetricDefinition
from thoth_monitoring.exporters.metrics.service import MetricsExporter, MetricsExporterSettings

ANCHOR = datetime(2026, 11, 20, 12, 0)
BENCH_DATABASE = "bench_scrape"
COMMAND = str(Path(sys.executable).with_name("thoth-monitoring"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scrape", description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000_000, help="seed scale (default 1e6)")
    parser.add_argument("--database-url", help="server to use (default: embedded)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR.parent / "bench-pg")
    parser.add_argument("--latency-seconds", type=float, default=10, help="per concurrency level")
    parser.add_argument(
        "--window",
        type=float,
        default=300,
        help="seconds per database-work window of the metrics exporter (default 300: every "
        "metric's interval fits in it)",
    )
    parser.add_argument(
        "--theirs-window", type=float, default=60, help="the same for postgres_exporter"
    )
    parser.add_argument("--ceph-documents", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--skip-postgres-exporter", action="store_true")
    args = parser.parse_args(argv)

    server = args.database_url or embedded_url(args.data_dir)
    url = fresh_database(server)
    result: dict[str, Any] = {"scale": args.scale, "started": datetime.now().isoformat()}
    print(f"seeding {args.scale:,} package versions ...", flush=True)
    started = time.perf_counter()
    rows = seed(url, args.scale, ANCHOR)
    result["seed"] = {"rows": rows, "seconds": time.perf_counter() - started}
    print_table("seed", ["rows", "seconds"], [[rows, result["seed"]["seconds"]]])

    result["cycle"] = asyncio.run(measure_cycle(url))
    print_table(
        f"(a) full collection cycle: {result['cycle']['seconds']:.2f} s; costliest metrics",
        ["metric", "seconds"],
        result["cycle"]["costliest"],
    )
    ours = Exporter.ours(url)
    try:
        result["latency"] = measure_latency(ours.metrics_url, args.latency_seconds)
        with urllib.request.urlopen(ours.metrics_url, timeout=10) as response:
            ours_body = response.read()
        result["ours_work"] = {
            rate: asyncio.run(measure_work(url, ours.metrics_url, rate, args.window))
            for rate in (1, 10)
        }
    finally:
        ours.close()
    print_latency("(b) /metrics latency of the metrics exporter", result["latency"])
    floor = Exporter.constant_body(ours_body)
    try:
        result["latency_floor"] = measure_latency(floor.metrics_url, args.latency_seconds)
    finally:
        floor.close()
    print_latency(
        "(b') the same against a bare aiohttp server returning the same bytes (the floor)",
        result["latency_floor"],
    )
    if not args.skip_postgres_exporter:
        theirs = Exporter.postgres_exporter(url)
        try:
            result["postgres_exporter_single"] = measure_single_scrapes(url, theirs.metrics_url)
            result["postgres_exporter_work"] = {
                10: asyncio.run(
                    measure_work(url, theirs.metrics_url, 10, args.theirs_window, cap=10)
                )
            }
        finally:
            theirs.close()
    print_work(result)
    result["ceph"] = [measure_ceph(n) for n in args.ceph_documents]
    print_table(
        "(d) Ceph refresh after 1 000 new documents",
        ["bucket documents", "full recount requests", "recount s", "refresh requests", "refresh s"],
        [[c["documents"], c["recount_requests"], c["recount_seconds"], c["refresh_requests"],
          c["refresh_seconds"]] for c in result["ceph"]],
    )  # fmt: skip
    print(f"\nwritten to {write_result('scrape', result)}")
    return 0


def fresh_database(server: str) -> str:
    with psycopg.connect(psycopg_url(server), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    return with_database(server, BENCH_DATABASE)


async def measure_cycle(url: str) -> dict[str, Any]:
    """One full collection of the Thoth set, in-process, as the exporter runs it."""
    exporter = MetricsExporter.build(MetricsExporterSettings.model_validate({"database_url": url}))
    started = time.perf_counter()
    failures = await exporter.collect_once()
    seconds = time.perf_counter() - started
    await exporter.collector.engine.dispose()
    durations = sorted(
        ((name, s.last_duration or 0.0) for name, s in exporter.collector.statuses.items()),
        key=lambda item: -item[1],
    )
    return {"seconds": seconds, "failures": failures, "costliest": durations[:5]}


@dataclass
class Exporter:
    """An exporter process under test."""

    name: str
    process: subprocess.Popen[bytes]
    metrics_url: str
    workdir: Path | None = None

    @classmethod
    def ours(cls, url: str) -> "Exporter":
        port = free_port()
        process = subprocess.Popen(
            [COMMAND, "metrics-exporter", "--listen", f"127.0.0.1:{port}", "--database-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print("waiting for the metrics exporter's first collection ...", flush=True)
        wait_for_http(f"http://127.0.0.1:{port}/readyz", 900, process)
        return cls("metrics-exporter", process, f"http://127.0.0.1:{port}/metrics")

    @classmethod
    def postgres_exporter(cls, url: str) -> "Exporter":
        binary = shutil.which("prometheus-postgres-exporter")
        if binary is None:
            raise SystemExit("prometheus-postgres-exporter missing: run .ci/system-deps")
        workdir = Path(tempfile.mkdtemp(prefix="bench-pgexp-"))
        queries = workdir / "queries.yaml"
        settings = MetricsExporterSettings.model_validate({"database_url": url})
        converted = as_postgres_exporter_queries(settings.metric_set(), settings.sql_parameters())
        queries.write_text(yaml.safe_dump(converted))
        port = free_port()
        process = subprocess.Popen(
            [binary, f"--web.listen-address=127.0.0.1:{port}", f"--extend.query-path={queries}",
             "--disable-default-metrics", "--disable-settings-metrics",
             "--no-collector.database", "--no-collector.bgwriter"],
            env={**os.environ, "DATA_SOURCE_NAME": libpq_dsn(url)},
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "stderr.log").open("wb"),
        )  # fmt: skip
        wait_for_http(f"http://127.0.0.1:{port}/", 30, process)
        return cls("postgres_exporter", process, f"http://127.0.0.1:{port}/metrics", workdir)

    @classmethod
    def constant_body(cls, body: bytes) -> "Exporter":
        """A bare aiohttp server answering every request with ``body``: the HTTP floor."""
        workdir = Path(tempfile.mkdtemp(prefix="bench-floor-"))
        (workdir / "body").write_bytes(body)
        port = free_port()
        code = (
            "import sys\nfrom aiohttp import web\n"
            "body = open(sys.argv[1], 'rb').read()\n"
            "async def metrics(request):\n"
            "    return web.Response(body=body, content_type='text/plain')\n"
            "app = web.Application(); app.router.add_get('/metrics', metrics)\n"
            "web.run_app(app, host='127.0.0.1', port=int(sys.argv[2]), access_log=None, print=None)"
        )
        process = subprocess.Popen([sys.executable, "-c", code, str(workdir / "body"), str(port)])
        wait_for_http(f"http://127.0.0.1:{port}/metrics", 30, process)
        return cls("aiohttp floor", process, f"http://127.0.0.1:{port}/metrics", workdir)

    def close(self) -> None:
        stop(self.process)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def libpq_dsn(url: str) -> str:
    """postgres_exporter (lib/pq) wants sslmode spelled out; the socket host stays in the URL."""
    separator = "&" if "?" in url else "?"
    return f"{psycopg_url(url)}{separator}sslmode=disable"


def as_postgres_exporter_queries(
    metrics: dict[str, MetricDefinition], parameters: dict[str, Any]
) -> dict[str, Any]:
    """The metric set in postgres_exporter's queries.yaml format, parameters inlined."""
    queries: dict[str, Any] = {}
    for name, definition in metrics.items():
        sql = re.sub(
            r"(?<!:):([a-zA-Z_][a-zA-Z0-9_]*)",
            lambda match: sql_literal(parameters[match.group(1)]),
            definition.sql,
        )
        usage = "COUNTER" if definition.type == "counter" else "GAUGE"
        if definition.type == "info":
            sql = f"SELECT *, 1 AS value FROM ({sql}) AS info"
        columns = [{label: {"usage": "LABEL", "description": label}} for label in definition.labels]
        columns.append({definition.value_column: {"usage": usage, "description": definition.help}})
        queries[name] = {"query": sql, "metrics": columns}
    return queries


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(sql_literal(v) for v in value) + "]::text[]"
    return "'" + str(value).replace("'", "''") + "'"


def measure_latency(metrics_url: str, seconds: float) -> dict[int, dict[str, float]]:
    """Closed-loop scrapers (wrk: each connection sends its next request when the last one
    answered, so 50 scrapers means 50 requests always in flight)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk missing: run .ci/system-deps (Debian package wrk)")
    results = {}
    for scrapers in (1, 10, 50):
        output = subprocess.run(
            [wrk, "-t1", f"-c{scrapers}", f"-d{seconds:g}s", "--latency", metrics_url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
        requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
        results[scrapers] = {
            "requests": requests,
            "p50_ms": _wrk_milliseconds(output, "50%"),
            "p99_ms": _wrk_milliseconds(output, "99%"),
            "per_second": requests / seconds,
        }
    return results


def _wrk_milliseconds(output: str, quantile: str) -> float:
    match = re.search(rf"^\s*{quantile}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {quantile} latency in wrk output:\n{output}")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


def measure_single_scrapes(url: str, metrics_url: str, scrapes: int = 2) -> dict[str, float]:
    """Scrapes one at a time: latency and database work of a single scrape."""
    latencies = []
    before = database_counters(url)
    for _ in range(scrapes):
        started = time.perf_counter()
        with urllib.request.urlopen(metrics_url, timeout=900) as response:
            response.read()
        latencies.append(time.perf_counter() - started)
    after = database_counters(url)
    return {
        "scrapes": scrapes,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "max_ms": max(latencies) * 1000,
        "transactions_per_scrape": (after[0] - before[0]) / scrapes,
        "rows_read_per_scrape": (after[1] - before[1]) / scrapes,
    }


async def measure_work(
    url: str, metrics_url: str, rate: float, window: float, cap: int = 100
) -> dict[str, float]:
    """Open-loop scraping at ``rate``/s for ``window`` s (at most ``cap`` in flight), with the
    database's transactions and rows read over the same window."""
    before = database_counters(url)
    outcome, after = await paced_scrapes(
        metrics_url, rate, window, lambda: database_counters(url), cap=cap
    )
    minutes = window / 60
    return outcome.row(rate) | {
        "transactions_per_minute": (after[0] - before[0]) / minutes,
        "rows_read_per_minute": (after[1] - before[1]) / minutes,
    }


def print_latency(title: str, latency: dict[int, dict[str, float]]) -> None:
    print_table(
        title,
        ["scrapers", "requests", "p50 ms", "p99 ms", "requests/s"],
        [
            [scrapers, v["requests"], v["p50_ms"], v["p99_ms"], v["per_second"]]
            for scrapers, v in latency.items()
        ],
    )


def print_work(result: dict[str, Any]) -> None:
    rows = [["metrics-exporter", rate, *_work_cells(w)] for rate, w in result["ours_work"].items()]
    rows += [
        ["postgres_exporter", rate, *_work_cells(w)]
        for rate, w in result.get("postgres_exporter_work", {}).items()
    ]
    print_table(
        "(c) database work while scraping (pg_stat_database)",
        ["exporter", "scrapes/s", "done", "failed", "p50 ms", "p99 ms", "xacts/min", "rows/min"],
        rows,
    )
    single = result.get("postgres_exporter_single")
    if single:
        ours = result["ours_work"][10]
        demanded = {
            "transactions_per_minute": single["transactions_per_scrape"] * 600,
            "rows_read_per_minute": single["rows_read_per_scrape"] * 600,
        }
        demand_ratio = {key: value / max(ours[key], 1) for key, value in demanded.items()}
        result["ratio_postgres_exporter_demand_over_ours_at_10_per_second"] = demand_ratio
        print(
            f"  one postgres_exporter scrape alone: {single['p50_ms'] / 1000:.1f} s, "
            f"{single['transactions_per_scrape']:.0f} transactions, "
            f"{single['rows_read_per_scrape']:,.0f} rows read; 10 scrapes/s would ask "
            f"{demand_ratio['transactions_per_minute']:.0f}x our transactions and "
            f"{demand_ratio['rows_read_per_minute']:.0f}x our rows read per minute"
        )
    theirs = result.get("postgres_exporter_work", {}).get(10)
    if theirs:
        ours = result["ours_work"][10]
        ratio = {
            key: theirs[key] / max(ours[key], 1)
            for key in ("transactions_per_minute", "rows_read_per_minute")
        }
        result["ratio_postgres_exporter_over_ours_at_10_per_second"] = ratio
        print(
            f"  measured at 10 scrapes/s (database saturated): postgres_exporter did "
            f"{ratio['transactions_per_minute']:.0f}x the transactions and "
            f"{ratio['rows_read_per_minute']:.0f}x the rows read"
        )


def _work_cells(work: dict[str, float]) -> list[object]:
    return [
        work["scrapes_completed"], work["scrapes_failed"] + work["scrapes_skipped_at_cap"],
        work["p50_ms"], work["p99_ms"], work["transactions_per_minute"],
        work["rows_read_per_minute"],
    ]  # fmt: skip


def measure_ceph(documents: int) -> dict[str, Any]:
    """A bucket of ``documents`` adviser documents in moto (server mode, over HTTP): a full
    recount, then 1 000 new documents and an incremental refresh."""
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    from thoth_monitoring.core.s3 import make_client
    from thoth_monitoring.exporters.metrics.documents import DocumentCounter, DocumentCountSettings

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        settings = DocumentCountSettings(
            endpoint_url=f"http://{host}:{port}", bucket="thoth-bench", deployment="bench",
            document_types=("adviser",), timeout=60,
        )  # fmt: skip
        client = make_client(settings)
        client.create_bucket(Bucket=settings.bucket)
        # Filling a million objects over HTTP takes far longer than the refresh being measured;
        # the objects go straight into the server's store, the counter only talks HTTP.
        backend = s3_backends["123456789012"]["aws"]
        folder = settings.folder("adviser")

        def add(numbers: range) -> None:
            for n in numbers:
                key = f"{folder}adviser-{2000000000 + n * 7:012d}-{n:016x}"
                backend.put_object(settings.bucket, key, b"{}")

        add(range(documents))
        counter = DocumentCounter(client, settings)
        started = time.perf_counter()
        counter.refresh()
        recount = (counter.list_requests, time.perf_counter() - started)
        add(range(documents, documents + 1000))
        before = counter.list_requests
        started = time.perf_counter()
        counter.refresh()
        refreshed = time.perf_counter() - started
        assert counter.counts()["adviser"] == documents + 1000
        return {
            "documents": documents,
            "recount_requests": recount[0],
            "recount_seconds": recount[1],
            "refresh_requests": counter.list_requests - before,
            "refresh_seconds": refreshed,
        }
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
