"""Prometheus exposition of the collected results.

Families are rebuilt from the in-memory results on each scrape (a label set that vanished from
a query result vanishes here too); the encoded body is cached until a collection changes it, so
a scrape costs a dictionary lookup however many Prometheus replicas scrape.
"""

import platform
from collections.abc import Hashable, Iterator

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from thoth_monitoring.exporters.metrics.collection import Collector, MetricStatus
from thoth_monitoring.exporters.metrics.documents import DocumentCounter
from thoth_monitoring.exporters.metrics.kafka import GROUP_STATES, KafkaSnapshot, KafkaSource

SELF = "thoth_metrics_exporter"


class ContentMetrics:
    """A prometheus_client custom collector over a ``Collector`` (and the optional Ceph
    counts and Kafka source)."""

    def __init__(
        self,
        collector: Collector,
        documents: DocumentCounter | None,
        version: str,
        kafka: KafkaSource | None = None,
    ) -> None:
        self.collector = collector
        self.documents = documents
        self.version = version
        self.kafka = kafka

    def describe(self) -> list[Metric]:
        return []  # registering must never run a query

    def collect(self) -> Iterator[Metric]:
        for status in self.collector.statuses.values():
            yield _family(status)
        yield from self._self_metrics()
        if self.documents is not None:
            yield from _document_metrics(self.documents)
        if self.kafka is not None:
            yield from kafka_metrics(self.kafka)

    def state(self) -> Hashable:
        """Changes whenever the exposition would."""
        documents = None if self.documents is None else self.documents.generation
        kafka = None if self.kafka is None else self.kafka.generation
        return self.collector.generation, documents, kafka

    def _self_metrics(self) -> Iterator[Metric]:
        build = GaugeMetricFamily(
            f"{SELF}_build_info",
            "Version of the exporter and of Python it runs on; always 1.",
            labels=["version", "python_version"],
        )
        build.add_metric([self.version, platform.python_version()], 1)
        yield build
        yield GaugeMetricFamily(
            f"{SELF}_database_up",
            "1 if the last probe of the database (SELECT 1) succeeded, else 0.",
            value=int(self.collector.database_up),
        )
        duration = GaugeMetricFamily(
            f"{SELF}_collection_duration_seconds",
            "Wall time of the last collection of each metric, including waits for a connection.",
            labels=["metric"],
        )
        errors = CounterMetricFamily(
            f"{SELF}_collection_errors",
            "Failed collections per metric (query error, timeout, or rows not fitting the metric).",
            labels=["metric"],
        )
        success = GaugeMetricFamily(
            f"{SELF}_last_success_timestamp_seconds",
            "Unix time of each metric's last successful collection; its values are served "
            "from memory until the next one.",
            labels=["metric"],
        )
        for name, status in self.collector.statuses.items():
            errors.add_metric([name], status.errors_total)
            if status.last_duration is not None:
                duration.add_metric([name], status.last_duration)
            if status.last_success is not None:
                success.add_metric([name], status.last_success)
        yield from (duration, errors, success)


def _family(status: MetricStatus) -> Metric:
    definition = status.definition
    family: Metric
    labels = list(definition.labels)
    if definition.type == "counter":
        family = CounterMetricFamily(definition.name, definition.help, labels=labels)
    elif definition.type == "info":
        name = definition.name.removesuffix("_info")
        family = InfoMetricFamily(name, definition.help, labels=[])
        for sample in status.samples:
            family.add_metric([], dict(zip(labels, sample.labels, strict=True)))
        return family
    else:
        family = GaugeMetricFamily(definition.name, definition.help, labels=labels)
    for sample in status.samples:
        family.add_metric(list(sample.labels), sample.value)
    return family


def _document_metrics(documents: DocumentCounter) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "thoth_ceph_up",
        "1 if the last request to the Ceph/S3 bucket succeeded, else 0.",
        value=int(documents.up),
    )
    counts = GaugeMetricFamily(
        "thoth_ceph_documents",
        "Documents stored per result type; refreshed incrementally, recounted in full "
        "periodically.",
        labels=["result_type"],
    )
    for kind, count in sorted(documents.counts().items()):
        counts.add_metric([kind], count)
    yield counts
    requests = GaugeMetricFamily(
        "thoth_ceph_requests",
        "Requests stored per result type (<id>.request objects beside the documents).",
        labels=["result_type"],
    )
    waiting = GaugeMetricFamily(
        "thoth_ceph_requests_without_result",
        "Stored requests whose result document is not there (yet) per result type.",
        labels=["result_type"],
    )
    for kind, (stored, without_result) in sorted(documents.requests().items()):
        requests.add_metric([kind], stored)
        waiting.add_metric([kind], without_result)
    yield requests
    yield waiting
    yield CounterMetricFamily(
        f"{SELF}_ceph_list_requests",
        "ListObjectsV2 requests sent to Ceph/S3.",
        value=documents.list_requests,
    )
    if documents.last_refresh is not None:
        yield GaugeMetricFamily(
            f"{SELF}_ceph_last_refresh_timestamp_seconds",
            "Unix time of the last successful refresh of the document counts.",
            value=documents.last_refresh,
        )


def kafka_metrics(source: KafkaSource) -> Iterator[Metric]:
    """kafka_exporter's names (so its dashboards work) for the broker's data; ours for health.
    Values are the last successful collection's, held while the brokers are unreachable."""
    yield GaugeMetricFamily(
        "thoth_kafka_up",
        "1 if the last collection reached the Kafka brokers, else 0 (the kafka_* values are "
        "then the last successful collection's).",
        value=int(source.up),
    )
    if source.last_success is not None:
        yield GaugeMetricFamily(
            "thoth_kafka_last_success_timestamp_seconds",
            "Unix time of the last successful Kafka collection.",
            value=source.last_success,
        )
    if source.last_duration is not None:
        yield GaugeMetricFamily(
            f"{SELF}_kafka_collection_duration_seconds",
            "Wall time of the last Kafka collection, successful or not.",
            value=source.last_duration,
        )
    yield CounterMetricFamily(
        f"{SELF}_kafka_collection_errors",
        "Failed Kafka collections (unreachable brokers, timeout, refused request).",
        value=source.errors_total,
    )
    snapshot = source.snapshot
    if snapshot is None:
        return
    yield GaugeMetricFamily(
        "kafka_brokers", "Brokers in the Kafka cluster.", value=snapshot.brokers
    )
    partitions = GaugeMetricFamily(
        "kafka_topic_partitions", "Partitions of the topic.", labels=["topic"]
    )
    newest = GaugeMetricFamily(
        "kafka_topic_partition_current_offset",
        "Newest offset of the partition (the offset the next record will get).",
        labels=["topic", "partition"],
    )
    oldest = GaugeMetricFamily(
        "kafka_topic_partition_oldest_offset",
        "Oldest offset still stored in the partition.",
        labels=["topic", "partition"],
    )
    counts: dict[str, int] = {}
    for (topic, partition), offset in snapshot.newest.items():
        counts[topic] = counts.get(topic, 0) + 1
        newest.add_metric([topic, str(partition)], offset)
    for (topic, partition), offset in snapshot.oldest.items():
        oldest.add_metric([topic, str(partition)], offset)
    for topic, count in counts.items():
        partitions.add_metric([topic], count)
    yield from (partitions, newest, oldest)
    yield from _group_metrics(source, snapshot)


def _group_metrics(source: KafkaSource, snapshot: KafkaSnapshot) -> Iterator[Metric]:
    per_partition = ["consumergroup", "topic", "partition"]
    current = GaugeMetricFamily(
        "kafka_consumergroup_current_offset",
        "Committed offset of the consumer group in the partition (partitions with a commit).",
        labels=per_partition,
    )
    topic_offset = GaugeMetricFamily(
        "thoth_kafka_consumergroup_topic_current_offset",
        "Committed offsets of the consumer group summed over the topic's partitions.",
        labels=["consumergroup", "topic"],
    )
    lag = GaugeMetricFamily(
        "kafka_consumergroup_lag",
        "Newest offset minus the group's committed offset (partitions with a commit).",
        labels=per_partition,
    )
    topic_lag = GaugeMetricFamily(
        "thoth_kafka_consumergroup_topic_lag",
        "Lag of the consumer group summed over the topic's partitions with a commit.",
        labels=["consumergroup", "topic"],
    )
    members = GaugeMetricFamily(
        "kafka_consumergroup_members", "Members of the consumer group.", labels=["consumergroup"]
    )
    state = GaugeMetricFamily(
        "thoth_kafka_consumergroup_state",
        "1 for the consumer group's current state, 0 for the others.",
        labels=["consumergroup", "state"],
    )
    for group, offsets in snapshot.groups.items():
        members.add_metric([group], offsets.members)
        for known in GROUP_STATES:
            state.add_metric([group, known], int(known == offsets.state))
        sums: dict[str, tuple[int, int]] = {}
        for (topic, partition), committed in offsets.committed.items():
            behind = max(snapshot.newest[topic, partition] - committed, 0)
            if source.settings.per_partition_lag:
                current.add_metric([group, topic, str(partition)], committed)
                lag.add_metric([group, topic, str(partition)], behind)
            total, total_lag = sums.get(topic, (0, 0))
            sums[topic] = (total + committed, total_lag + behind)
        for topic, (total, total_lag) in sums.items():
            topic_offset.add_metric([group, topic], total)
            topic_lag.add_metric([group, topic], total_lag)
    yield from (members, state, topic_offset, topic_lag)
    if source.settings.per_partition_lag:
        yield from (current, lag)
