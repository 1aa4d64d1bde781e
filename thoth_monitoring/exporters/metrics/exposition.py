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

SELF = "thoth_metrics_exporter"


class ContentMetrics:
    """A prometheus_client custom collector over a ``Collector`` (and optional Ceph counts)."""

    def __init__(
        self, collector: Collector, documents: DocumentCounter | None, version: str
    ) -> None:
        self.collector = collector
        self.documents = documents
        self.version = version

    def describe(self) -> list[Metric]:
        return []  # registering must never run a query

    def collect(self) -> Iterator[Metric]:
        for status in self.collector.statuses.values():
            yield _family(status)
        yield from self._self_metrics()
        if self.documents is not None:
            yield from _document_metrics(self.documents)

    def state(self) -> Hashable:
        """Changes whenever the exposition would."""
        documents = None if self.documents is None else self.documents.generation
        return self.collector.generation, documents

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
