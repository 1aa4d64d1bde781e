"""bench/kafka: what the metrics exporter's Kafka source costs the broker, and that scraping
faster does not cost it more, against a per-scrape collector (kafka_exporter's default way,
bench/kafka_per_scrape.py) in the same run.

A real Tansu broker holds 500 topics x 3 partitions (one record in each) and 50 consumer groups
with committed offsets on 10 topics each (--short: 50 topics, 10 groups). Every client reaches
it through a TCP proxy in this process that counts Kafka request frames per API (the broker
advertises the proxy's address, so no connection goes around it). Measured:

(a) our collection: its duration (the exporter's own
    thoth_metrics_exporter_kafka_collection_duration_seconds) against its interval, and broker
    requests per cycle;
(b) broker requests per minute and /metrics latency p50/p99 while scraping at 1/s and then
    10/s for the same wall time, ours and the per-scrape baseline's.

Targets (PASS/FAIL): our requests per minute at 10/s / at 1/s <= 1.2; a cycle < interval / 2.
Run with ``make bench`` (or ``python -m bench.kafka --help``). Results: bench/results/kafka.json.
"""

import argparse
import asyncio
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.common import free_port, paced_scrapes, print_table, stop, wait_for_http, write_result
from thoth_monitoring.core.database import DEFAULT_DATA_DIR, embedded_url
from thoth_monitoring.demo.kafka import TansuBroker

COMMAND = str(Path(sys.executable).with_name("thoth-monitoring"))
PARTITIONS = 3
TOPICS_PER_GROUP = 10
# Kafka API keys (the protocol's numbering) of the requests the collectors send.
API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
             9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
             13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
             18: "ApiVersions", 19: "CreateTopics", 60: "DescribeCluster",
             69: "ConsumerGroupDescribe", 71: "GetTelemetrySubscriptions",
             72: "PushTelemetry"}  # fmt: skip
METADATA, LIST_GROUPS = 3, 16
DURATION = re.compile(rb"^thoth_metrics_exporter_kafka_collection_duration_seconds (\S+)$", re.M)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kafka", description=__doc__)
    parser.add_argument("--short", action="store_true", help="50 topics, 10 groups")
    parser.add_argument("--interval", type=float, default=10, help="our kafka.interval (s)")
    parser.add_argument("--window", type=float, default=30, help="seconds per scrape rate")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR.parent / "bench-pg")
    args = parser.parse_args(argv)
    topics, groups = (50, 10) if args.short else (500, 50)
    result: dict[str, Any] = {
        "started": datetime.now().isoformat(),
        "topics": topics, "partitions": topics * PARTITIONS, "groups": groups,
        "interval_seconds": args.interval, "window_seconds": args.window,
    }  # fmt: skip
    wall = time.perf_counter()
    proxy = CountingProxy()
    broker = TansuBroker(advertised_port=proxy.port)
    proxy.start(broker.port)
    broker.start()
    try:
        started = time.perf_counter()
        populate(proxy.bootstrap, topics, groups)
        result["setup_seconds"] = time.perf_counter() - started
        print(f"broker populated in {result['setup_seconds']:.1f} s", flush=True)
        # The command needs a database even with only the Kafka source: the embedded one.
        database = embedded_url(args.data_dir)
        with tempfile.TemporaryDirectory(prefix="bench-kafka-") as workdir:
            result["ours"] = measure_ours(proxy, database, Path(workdir), args)
        result["per_scrape"] = measure_baseline(proxy, args.window)
    finally:
        broker.stop()
        proxy.close()
    result["wall_seconds"] = time.perf_counter() - wall
    report(result, args.interval)
    print(f"\nwritten to {write_result('kafka', result)}")
    return 0 if all(result["targets"].values()) else 1


class CountingProxy:
    """A TCP proxy to the broker that counts client request frames (4-byte size, then the
    request header's int16 api_key) per API; it runs its own event loop in a thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.upstream = 0
        self.counts: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, upstream: int) -> None:
        self.upstream = upstream
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the counting proxy did not start")

    def snapshot(self) -> Counter[int]:
        with self.lock:
            return Counter(self.counts)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        try:
            broker, to_broker = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.upstream), 10
            )
        except (OSError, TimeoutError):
            to_client.close()
            return
        await asyncio.gather(
            self._requests(client, to_broker), self._copy(broker, to_client),
            return_exceptions=True,
        )  # fmt: skip

    async def _requests(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = await source.readexactly(4)
                frame = await source.readexactly(struct.unpack(">i", size)[0])
                with self.lock:
                    self.counts[struct.unpack_from(">h", frame)[0]] += 1
                sink.write(size + frame)
                await sink.drain()
        finally:
            sink.close()

    @staticmethod
    async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        finally:
            sink.close()


def populate(bootstrap: str, topics: int, groups: int) -> None:
    """Topics with one record in every partition (one record per batch: Tansu's newest offset is
    exact only then), and groups committing offsets 0 or 1 (lag 1 or 0) on 10 topics each."""
    names = [f"bench-{n:03d}" for n in range(topics)]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    created = admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in names])
    for future in created.values():
        future.result(timeout=60)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for name in names:
        for partition in range(PARTITIONS):
            producer.produce(name, b"record", partition=partition)
            if producer.flush(10) != 0:
                raise RuntimeError(f"record to {name}[{partition}] not delivered within 10 s")
    for group in range(groups):
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-group-{group:02d}",
                             "enable.auto.commit": False})  # fmt: skip
        try:
            offsets = [
                TopicPartition(names[(group * TOPICS_PER_GROUP + n) % topics], partition, group % 2)
                for n in range(TOPICS_PER_GROUP)
                for partition in range(PARTITIONS)
            ]
            consumer.commit(offsets=offsets, asynchronous=False)
        finally:
            consumer.close()


def measure_ours(
    proxy: CountingProxy, database: str, workdir: Path, args: argparse.Namespace
) -> dict[int, dict[str, Any]]:
    """The real metrics-exporter with the Kafka source and one trivial hourly metric (the
    command wants at least one database metric)."""
    port = free_port()
    metrics = workdir / "metrics.yaml"
    metrics.write_text(yaml.safe_dump({"metrics": {"bench_database_alive": {
        "type": "gauge", "help": "1", "interval": "1h", "sql": "SELECT 1 AS value",
    }}}))  # fmt: skip
    config = workdir / "exporter.yaml"
    config.write_text(yaml.safe_dump({
        "listen": f"127.0.0.1:{port}", "database_url": database,
        "include_default_metrics": False, "metrics": [str(metrics)],
        "kafka": {"bootstrap_servers": [proxy.bootstrap], "interval": f"{args.interval:g}s"},
    }))  # fmt: skip
    process = subprocess.Popen(
        [COMMAND, "metrics-exporter", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=(workdir / "stderr.log").open("wb"),
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/readyz", 60, process)
        wait_for_first_collection(f"http://127.0.0.1:{port}/metrics", 60)
        windows = {}
        for rate in (1, 10):
            before = wait_for_cycle_start(proxy, args.interval * 3)
            windows[rate] = asyncio.run(
                scrape_window(proxy, before, f"http://127.0.0.1:{port}/metrics", rate, args.window)
            )
    finally:
        stop(process)
    return windows


def measure_baseline(proxy: CountingProxy, window: float) -> dict[int, dict[str, Any]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.kafka_per_scrape", proxy.bootstrap, str(port)],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_for_http(url, 120, process)  # (its first scrape is a collection too)
        return {
            rate: asyncio.run(scrape_window(proxy, proxy.snapshot(), url, rate, window))
            for rate in (1, 10)
        }
    finally:
        stop(process)


def wait_for_first_collection(url: str, seconds: float) -> None:
    """Wait until the exporter reports a collection duration: the windows then see warm cycles
    only (the first one also connects and finds the group coordinator)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=10) as response:
            if DURATION.search(response.read()):
                return
        time.sleep(0.2)
    raise RuntimeError(f"no Kafka collection finished within {seconds:g} s")


def wait_for_cycle_start(proxy: CountingProxy, seconds: float) -> Counter[int]:
    """Wait until a collection cycle begins (its first request is Metadata) and return the
    counts from just before it: every window then starts with a cycle and holds as many."""
    before = proxy.snapshot()
    deadline = time.monotonic() + seconds
    while (now := proxy.snapshot())[METADATA] == before[METADATA]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no collection cycle began within {seconds:g} s")
        before = now
        time.sleep(0.005)
    return before


async def scrape_window(
    proxy: CountingProxy,
    before: Counter[int],
    url: str,
    rate: float,
    window: float,
    cap: int = 50,
) -> dict[str, Any]:
    """Open-loop scrapes at ``rate``/s for ``window`` s (at most ``cap`` in flight); the broker
    requests sent since ``before`` was counted, until the window ends."""
    outcome, requests = await paced_scrapes(
        url, rate, window, lambda: proxy.snapshot() - before, cap=cap, timeout_seconds=60,
        cancel_late=False,
    )  # fmt: skip
    durations = {float(m) for body in outcome.bodies for m in DURATION.findall(body)}
    cycles = requests[LIST_GROUPS]  # one ListGroups per collection
    total = sum(requests.values())
    return outcome.row(rate) | {
        "collections": cycles,
        "requests": total,
        "requests_per_minute": total * 60 / window,
        "requests_per_collection": total / cycles if cycles else float("nan"),
        "requests_by_api": {API_NAMES.get(k, str(k)): v for k, v in sorted(requests.items())},
        "collection_seconds_seen": sorted(durations),
    }


def report(result: dict[str, Any], interval: float) -> None:
    rows = [
        [who, rate, w["scrapes_completed"], w["scrapes_failed"], w["p50_ms"], w["p99_ms"],
         w["collections"], w["requests_per_collection"], w["requests_per_minute"],
         max(w["collection_seconds_seen"], default=float("nan"))]
        for who, key in (("metrics-exporter", "ours"), ("per-scrape", "per_scrape"))
        for rate, w in result[key].items()
    ]  # fmt: skip
    print_table(
        f"{result['topics']} topics x {PARTITIONS} partitions, {result['groups']} groups, "
        f"{result['window_seconds']:g} s per rate",
        ["collector", "scrapes/s", "done", "failed", "p50 ms", "p99 ms", "collections",
         "requests/collection", "requests/min", "max collection s"],
        rows,
    )  # fmt: skip
    ours, baseline = result["ours"], result["per_scrape"]
    seen = [s for w in ours.values() for s in w["collection_seconds_seen"]]
    result["ratio_requests_10_over_1"] = {
        "ours": ours[10]["requests_per_minute"] / ours[1]["requests_per_minute"],
        "per_scrape": baseline[10]["requests_per_minute"] / baseline[1]["requests_per_minute"],
    }
    result["our_collection_seconds_max"] = max(seen, default=float("nan"))
    result["targets"] = {
        "requests_independent_of_scrape_rate": result["ratio_requests_10_over_1"]["ours"] <= 1.2,
        "cycle_under_half_the_interval": result["our_collection_seconds_max"] < interval / 2,
    }
    ratio = result["ratio_requests_10_over_1"]
    print(
        f"  requests/min at 10/s / at 1/s: ours {ratio['ours']:.2f}, "
        f"per-scrape {ratio['per_scrape']:.2f}; wall time {result['wall_seconds']:.0f} s"
    )
    for target, met in result["targets"].items():
        print(f"  {'PASS' if met else 'FAIL'} {target}")


if __name__ == "__main__":
    sys.exit(main())
