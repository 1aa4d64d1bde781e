"""Producing and consuming on the test broker (Tansu), and a registry over a Kafka source."""

from collections.abc import Iterator

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from thoth_monitoring.exporters.metrics.exposition import kafka_metrics
from thoth_monitoring.exporters.metrics.kafka import KafkaSource


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=10)


def produce(bootstrap: str, topic: str, partition: int, count: int) -> None:
    """``count`` records, one per batch (Tansu's newest offset is exact only then)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for _ in range(count):
        producer.produce(topic, b"record", partition=partition)
        assert producer.flush(10) == 0


def consume(bootstrap: str, group: str, topic: str, partition: int, count: int) -> None:
    """Read ``count`` records of one partition as ``group`` from its committed offset (or the
    start), commit, and leave."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "session.timeout.ms": 6000,
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })  # fmt: skip
    try:
        consumer.assign([TopicPartition(topic, partition)])
        read = 0
        while read < count:
            message = consumer.poll(10)
            assert message is not None and message.error() is None, message
            read += 1
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()


class _Families:
    def __init__(self, source: KafkaSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        return kafka_metrics(self.source)


def kafka_registry(source: KafkaSource) -> CollectorRegistry:
    """A registry exposing just the Kafka families of ``source``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(source))
    return registry
