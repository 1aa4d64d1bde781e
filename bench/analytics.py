"""bench/analytics: what ``thoth-monitoring analytics`` asks of Ceph/S3 — a backfill, then a
daily run that reads only the new day — against the original approach (Thoth's reporter: list
every adviser document and read every one on each run) in the same run.

A moto S3 server (in this process) holds 90 days x 1 000 adviser documents (--short: 10 x 200):
our generator's documents re-dated over each day (the ids carry the time, as tests/analytics
does), uploaded with 8 threads straight to moto. Every measured client reaches moto through an
HTTP proxy in this process that counts requests by kind (ListObjectsV2, GetObject, other).
Measured, the analytics command run as a subprocess against the embedded PostgreSQL:

(1) backfill: ``analytics --once --days <days + 1>`` (the history days and today, still empty):
    wall time, S3 requests, rows written;
(2) one new day (today) uploaded, then the daily ``analytics --once`` (default --days 2:
    yesterday unchanged, today new): its S3 requests and rows written;
(3) baseline, for the same daily run: list every key under the adviser folder and GET and parse
    each (boto3, 8 threads, through the same proxy): its requests and time.

Targets (PASS/FAIL): the daily run's GETs <= 1.1 x one day's documents and its LISTs <= 3 per
day loaded; every document of the history (then of the new day) is a row. Run with
``make bench`` (or ``python -m bench.analytics --help``). Results: bench/results/analytics.json.
"""

import argparse
import http.client
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import yaml
from moto.server import ThreadedMotoServer

from bench.common import print_table, write_result
from thoth_monitoring.analytics.documents import DocumentError, parse_document
from thoth_monitoring.core.database import DEFAULT_DATA_DIR, embedded_url
from thoth_monitoring.core.s3 import S3Settings, list_pages, make_client
from thoth_monitoring.exporters.knowledge_graph.documents import (
    adviser_documents,
    upload_adviser_documents,
)
from thoth_monitoring.exporters.knowledge_graph.seed import build_dataset

COMMAND = str(Path(sys.executable).with_name("thoth-monitoring"))
SCHEMA = "bench_analytics"
WORKERS = 8  # the analytics default, for the baseline too
DAILY_DAYS = 2  # the analytics default --days: yesterday and today
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__)
    parser.add_argument("--short", action="store_true", help="10 days x 200 documents")
    parser.add_argument("--days", type=int, help="history days (default 90, --short 10)")
    parser.add_argument("--per-day", type=int, help="documents a day (default 1000, --short 200)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR.parent / "bench-pg")
    args = parser.parse_args(argv)
    days = args.days or (10 if args.short else 90)
    per_day = args.per_day or (200 if args.short else 1000)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")  # moto accepts any; boto3 signs
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    today = datetime.now(UTC).date()
    result: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "history_days": days,
                              "documents_per_day": per_day, "today": today}  # fmt: skip
    database = embedded_url(args.data_dir)
    with psycopg.connect(database, connect_timeout=10) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    with moto() as endpoint, CountingProxy(endpoint) as proxy:
        direct = S3Settings(endpoint_url=endpoint, bucket="thoth", deployment="ocp4-stage")
        counted = direct.model_copy(update={"endpoint_url": proxy.url})
        make_client(direct).create_bucket(Bucket=direct.bucket)
        templates = list(adviser_documents(build_dataset(3000, datetime(2026, 1, 1)), "ocp4"))
        history = [today - timedelta(days=back) for back in range(days, 0, -1)]
        result["upload_history"] = upload(direct, templates, history, per_day)
        with tempfile.TemporaryDirectory(prefix="bench-analytics-") as workdir:
            config = write_config(Path(workdir), counted, database)
            result["backfill"] = measure(proxy, lambda: analytics(config, days + 1))
            result["backfill"]["rows_in_table"] = rows_in_table(database)
            result["upload_new_day"] = upload(direct, templates, [today], per_day)
            result["daily"] = measure(proxy, lambda: analytics(config, None))
            result["daily"]["rows_in_table"] = rows_in_table(database)
        result["baseline_daily"] = measure(proxy, lambda: read_everything(counted))
    with psycopg.connect(database, connect_timeout=10) as conn:
        conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    report(result)
    print(f"\nwritten to {write_result('analytics', result)}")
    return 0 if all(result["targets"].values()) else 1


@contextmanager
def moto() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class CountingProxy:
    """An HTTP/1.1 proxy in front of moto that counts requests by S3 operation: a GET of a
    bucket with ``list-type=2`` is ListObjectsV2, a GET of a key is GetObject."""

    def __init__(self, upstream: str) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        target = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.upstream = http.client.HTTPConnection(
                    target.hostname or "127.0.0.1", target.port, timeout=60
                )

            def finish(self) -> None:
                self.upstream.close()
                super().finish()

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    proxy.counts[operation(self.command, self.path)] += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                self.upstream.request(self.command, self.path, body, headers)
                response = self.upstream.getresponse()
                data = response.read()
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "CountingProxy":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)


def operation(method: str, path: str) -> str:
    """The S3 operation of a path-style request (the kinds the readers send by name)."""
    parts = urlsplit(path)
    on_key = "/" in parts.path.strip("/")
    if method == "GET" and on_key:
        return "GetObject"
    if method == "GET" and parse_qs(parts.query).get("list-type") == ["2"]:
        return "ListObjectsV2"
    return f"{method} {'object' if on_key else 'bucket'}"


def day_documents(templates: list[dict[str, Any]], day: date, count: int) -> list[dict[str, Any]]:
    """``count`` documents spread evenly over ``day``, cycling through the generator's."""
    start = datetime.combine(day, day_start())
    documents = []
    for n in range(count):
        template = templates[n % len(templates)]
        when = start + timedelta(seconds=n * 86_400 // count)
        metadata = {**template["metadata"], "datetime": when.isoformat() + "Z",
                    "document_id": f"adviser-{when:%y%m%d%H%M%S}-b{n:05d}"}  # fmt: skip
        documents.append({**template, "metadata": metadata})
    return documents


def upload(
    settings: S3Settings, templates: list[dict[str, Any]], days: list[date], per_day: int
) -> dict[str, Any]:
    documents = [d for day in days for d in day_documents(templates, day, per_day)]
    started = time.perf_counter()
    upload_adviser_documents(make_client(settings), settings.bucket, settings.folder("adviser"),
                             documents, progress=False)  # fmt: skip
    seconds = time.perf_counter() - started
    print(f"uploaded {len(documents)} documents in {seconds:.1f} s", flush=True)
    return {"documents": len(documents), "seconds": seconds}


def write_config(folder: Path, settings: S3Settings, database: str) -> Path:
    path = folder / "analytics.yaml"
    path.write_text(yaml.safe_dump({
        "ceph": {"endpoint_url": settings.endpoint_url, "bucket": settings.bucket,
                 "deployment": settings.deployment},
        "database_url": database, "schema_name": SCHEMA,
    }))  # fmt: skip
    return path


def analytics(config: Path, days: int | None) -> dict[str, Any]:
    """One ``analytics --once`` (the default --days when None): what its metrics say."""
    more = [] if days is None else ["--days", str(days)]
    done = subprocess.run([COMMAND, "analytics", "--config", str(config), *more, "--once"],
                          capture_output=True, text=True, timeout=3600)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"analytics failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {
        "rows_written": metric(done.stdout, "thoth_analytics_rows_written_total"),
        "unreadable": metric(done.stdout, "thoth_analytics_documents_unreadable_total"),
    }


def metric(exposition: str, name: str) -> int:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise SystemExit(f"{name} missing from analytics' output")


def read_everything(settings: S3Settings) -> dict[str, Any]:
    """The original approach: list every adviser document, read and parse each one."""
    client = make_client(settings)
    folder = settings.folder("adviser")
    keys = [item["Key"] for page in list_pages(client, settings.bucket, folder + "adviser-")
            for item in page]  # fmt: skip

    def read(key: str) -> bool:
        body = client.get_object(Bucket=settings.bucket, Key=key)["Body"].read()
        try:
            parse_document(body, key[len(folder) :])
        except DocumentError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        readable = sum(pool.map(read, keys))
    return {"rows_written": readable, "unreadable": len(keys) - readable}


def measure(proxy: CountingProxy, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Wall time and S3 requests by operation of ``action()``, merged with what it returns."""
    before = proxy.snapshot()
    started = time.perf_counter()
    outcome = action()
    seconds = time.perf_counter() - started
    requests = proxy.snapshot() - before
    print(f"  {seconds:.1f} s, requests {dict(requests)}", flush=True)
    return {"seconds": seconds, "requests": dict(requests), **outcome}


def rows_in_table(database: str) -> int:
    with psycopg.connect(database, connect_timeout=10) as conn:
        row = conn.execute(f"SELECT count(*) FROM {SCHEMA}.adviser_runs").fetchone()
    return int(row[0]) if row else 0


def report(result: dict[str, Any]) -> None:
    days, per_day = result["history_days"], result["documents_per_day"]
    rows = [[name, result[name]["seconds"], "", "", "", result[name]["documents"]]
            for name in ("upload_history", "upload_new_day")]  # fmt: skip
    for name in ("backfill", "daily", "baseline_daily"):
        phase = result[name]
        requests = Counter(phase["requests"])
        other = sum(requests.values()) - requests["ListObjectsV2"] - requests["GetObject"]
        rows.append([name, phase["seconds"], requests["ListObjectsV2"], requests["GetObject"],
                     other, phase["rows_written"]])  # fmt: skip
    print_table(f"analytics: {days} days x {per_day} documents, then one new day",
                ["phase", "seconds", "LIST", "GET", "other", "documents / rows"], rows)  # fmt: skip
    daily, baseline = result["daily"]["requests"], result["baseline_daily"]["requests"]
    ours = sum(daily.values())
    result["ratios_baseline_over_ours"] = {
        "requests": sum(baseline.values()) / ours,
        "get_object": baseline.get("GetObject", 0) / max(1, daily.get("GetObject", 0)),
        "seconds": result["baseline_daily"]["seconds"] / result["daily"]["seconds"],
    }
    result["targets"] = {
        "daily_gets_at_most_1.1_x_one_day": daily.get("GetObject", 0) <= 1.1 * per_day,
        "daily_lists_at_most_3_per_day_loaded": daily.get("ListObjectsV2", 0) <= 3 * DAILY_DAYS,
        "backfill_rows_are_the_history": result["backfill"]["rows_in_table"] == days * per_day,
        "daily_rows_add_the_new_day": result["daily"]["rows_in_table"] == (days + 1) * per_day,
    }
    for name, ratio in result["ratios_baseline_over_ours"].items():
        print(f"  baseline / ours, daily run {name}: {ratio:.1f}x")
    for name, passed in result["targets"].items():
        print(f"  {'PASS' if passed else 'FAIL'} {name}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
