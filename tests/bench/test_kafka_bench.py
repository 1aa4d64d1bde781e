"""bench/kafka's instruments against a real Tansu broker: the counting proxy sees every request
(the broker advertises the proxy, so no client goes around it), and the per-scrape baseline
collects once per scrape."""

from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka.admin import AdminClient

from bench.kafka import LIST_GROUPS, METADATA, CountingProxy, populate
from bench.kafka_per_scrape import PerScrape
from thoth_monitoring.demo.kafka import TansuBroker
from thoth_monitoring.exporters.metrics.kafka import KafkaSettings, KafkaSource


@pytest.fixture
def proxied() -> Iterator[CountingProxy]:
    proxy = CountingProxy()
    broker = TansuBroker(advertised_port=proxy.port)
    proxy.start(broker.port)
    broker.start()
    try:
        yield proxy
    finally:
        broker.stop()
        proxy.close()


def test_proxy_counts_requests_and_is_the_advertised_broker(proxied: CountingProxy) -> None:
    populate(proxied.bootstrap, topics=2, groups=1)
    before = proxied.snapshot()
    metadata = AdminClient({"bootstrap.servers": proxied.bootstrap}).list_topics(timeout=10)
    assert sorted(metadata.topics) == ["bench-000", "bench-001"]
    assert [b.port for b in metadata.brokers.values()] == [proxied.port]
    assert (proxied.snapshot() - before)[METADATA] >= 1


async def test_per_scrape_baseline_collects_on_every_scrape(proxied: CountingProxy) -> None:
    populate(proxied.bootstrap, topics=2, groups=2)
    collector = PerScrape(KafkaSource(KafkaSettings(bootstrap_servers=[proxied.bootstrap])))
    app = web.Application()
    app.router.add_get("/metrics", collector.metrics)
    before = proxied.snapshot()
    async with TestClient(TestServer(app)) as client:
        for _ in range(3):
            response = await client.get("/metrics")
            body = await response.text()
            assert response.status == 200
            assert "kafka_consumergroup_lag{" in body
    assert (proxied.snapshot() - before)[LIST_GROUPS] == 3
