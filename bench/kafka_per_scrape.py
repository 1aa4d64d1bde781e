"""The Kafka bench's baseline: a collector that asks the broker on every scrape, the way
kafka_exporter works by default (its scrapes that arrive while a collection runs share that
collection's result; no background refresh). It reuses our source's ``KafkaSource.refresh``
(``read_snapshot``: the same AdminClient calls) and ``kafka_metrics``, so the two differ only in
*when* they collect.

``python -m bench.kafka_per_scrape BOOTSTRAP PORT`` serves /metrics on 127.0.0.1:PORT.
"""

import argparse
import asyncio
import contextlib
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from thoth_monitoring.exporters.metrics.exposition import kafka_metrics
from thoth_monitoring.exporters.metrics.kafka import (
    KafkaCollectionError,
    KafkaSettings,
    KafkaSource,
)


class PerScrape:
    """One collection per scrape; concurrent scrapes wait for the one in flight."""

    def __init__(self, source: KafkaSource) -> None:
        self.source = source
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        self.in_flight: asyncio.Task[None] | None = None

    def collect(self) -> Iterator[Metric]:
        return kafka_metrics(self.source)

    async def metrics(self, request: web.Request) -> web.Response:
        if self.in_flight is None or self.in_flight.done():
            self.in_flight = asyncio.create_task(asyncio.to_thread(self.source.refresh))
        # A failure is counted in the source's error counter, which the scrape exposes.
        with contextlib.suppress(KafkaCollectionError):
            await asyncio.shield(self.in_flight)
        return web.Response(body=generate_latest(self.registry), content_type="text/plain")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kafka_per_scrape", description=__doc__)
    parser.add_argument("bootstrap")
    parser.add_argument("port", type=int)
    args = parser.parse_args(argv)
    collector = PerScrape(KafkaSource(KafkaSettings(bootstrap_servers=[args.bootstrap])))
    app = web.Application()
    app.router.add_get("/metrics", collector.metrics)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
