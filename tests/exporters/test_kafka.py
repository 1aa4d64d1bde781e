"""The Kafka source against a real broker (Tansu, in memory): offsets and lag as produced and
consumed, filters, outages and recovery, silent brokers, config errors, ``--once``."""

import asyncio
import logging
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.cli import run
from tests.support.kafka import consume, create_topic, kafka_registry, produce
from thoth_monitoring.core.config import ConfigError, load_yaml, validate
from thoth_monitoring.demo.kafka import TansuBroker, free_port
from thoth_monitoring.exporters.metrics.collection import Collector
from thoth_monitoring.exporters.metrics.exposition import ContentMetrics
from thoth_monitoring.exporters.metrics.kafka import (
    KafkaCollectionError,
    KafkaSettings,
    KafkaSource,
)
from thoth_monitoring.exporters.metrics.metricset import RESERVED_PREFIXES
from thoth_monitoring.exporters.metrics.service import MetricsExporter, MetricsExporterSettings


def unique(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


def source(bootstrap: str, **options: object) -> KafkaSource:
    return KafkaSource(KafkaSettings.model_validate({"bootstrap_servers": [bootstrap], **options}))


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_offsets_and_lag_are_what_was_produced_and_consumed(kafka_broker: TansuBroker) -> None:
    bootstrap = kafka_broker.bootstrap
    topic, group = unique("orders"), unique("billing")
    create_topic(bootstrap, topic, partitions=2)
    produce(bootstrap, topic, 0, 5)
    produce(bootstrap, topic, 1, 3)
    consume(bootstrap, group, topic, 0, 2)
    consume(bootstrap, group, topic, 1, 3)
    kafka = source(bootstrap, topics={"include": [topic]}, consumer_groups={"include": [group]})
    kafka.refresh()
    registry = kafka_registry(kafka)
    assert value(registry, "thoth_kafka_up") == 1
    assert value(registry, "kafka_brokers") == 1
    assert value(registry, "kafka_topic_partitions", topic=topic) == 2
    newest = {p: value(registry, "kafka_topic_partition_current_offset", topic=topic, partition=p)
              for p in ("0", "1")}  # fmt: skip
    assert newest == {"0": 5, "1": 3}
    assert value(registry, "kafka_topic_partition_oldest_offset", topic=topic, partition="0") == 0
    at = {"consumergroup": group, "topic": topic}
    assert value(registry, "kafka_consumergroup_current_offset", **at, partition="0") == 2
    assert value(registry, "kafka_consumergroup_current_offset", **at, partition="1") == 3
    assert value(registry, "kafka_consumergroup_lag", **at, partition="0") == 3
    assert value(registry, "kafka_consumergroup_lag", **at, partition="1") == 0
    assert value(registry, "thoth_kafka_consumergroup_topic_current_offset", **at) == 5
    assert value(registry, "thoth_kafka_consumergroup_topic_lag", **at) == 3
    assert (
        value(registry, "thoth_kafka_consumergroup_state", consumergroup=group, state="Empty") == 1
    )
    assert (
        value(registry, "thoth_kafka_consumergroup_state", consumergroup=group, state="Stable") == 0
    )
    assert value(registry, "thoth_metrics_exporter_kafka_collection_errors_total") == 0
    assert value(registry, "thoth_kafka_last_success_timestamp_seconds") is not None


def test_a_stopped_consumer_keeps_its_offset_while_lag_grows(kafka_broker: TansuBroker) -> None:
    bootstrap = kafka_broker.bootstrap
    topic, group = unique("events"), unique("indexer")
    create_topic(bootstrap, topic)
    produce(bootstrap, topic, 0, 3)
    consume(bootstrap, group, topic, 0, 3)
    kafka = source(bootstrap, topics={"include": [topic]}, per_partition_lag=False)
    registry = kafka_registry(kafka)
    at = {"consumergroup": group, "topic": topic}
    kafka.refresh()
    assert value(registry, "thoth_kafka_consumergroup_topic_lag", **at) == 0
    produce(bootstrap, topic, 0, 4)
    kafka.refresh()
    assert value(registry, "thoth_kafka_consumergroup_topic_current_offset", **at) == 3
    assert value(registry, "thoth_kafka_consumergroup_topic_lag", **at) == 4
    # per_partition_lag: false leaves out the per-partition series, never the sums
    assert value(registry, "kafka_consumergroup_lag", **at, partition="0") is None


def test_a_live_consumer_makes_its_group_stable(kafka_broker: TansuBroker) -> None:
    bootstrap = kafka_broker.bootstrap
    topic, group = unique("jobs"), unique("worker")
    create_topic(bootstrap, topic)
    produce(bootstrap, topic, 0, 1)
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "session.timeout.ms": 6000,
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })  # fmt: skip
    try:
        consumer.subscribe([topic])
        message = None
        for _ in range(30):  # joining takes session.timeout.ms / 2 on Tansu
            message = consumer.poll(1)
            if message is not None:
                break
        assert message is not None and message.error() is None
        consumer.commit(asynchronous=False)
        kafka = source(bootstrap, consumer_groups={"include": [group]})
        kafka.refresh()
    finally:
        consumer.close()
    registry = kafka_registry(kafka)
    states = {state: value(registry, "thoth_kafka_consumergroup_state", consumergroup=group,
                           state=state) for state in ("Stable", "Empty", "Dead")}  # fmt: skip
    assert states == {"Stable": 1, "Empty": 0, "Dead": 0}


def test_include_and_exclude_patterns_select_topics_and_groups(kafka_broker: TansuBroker) -> None:
    bootstrap = kafka_broker.bootstrap
    prefix = unique("team")
    for topic in (f"{prefix}-a", f"{prefix}-b", f"{prefix}-skip"):
        create_topic(bootstrap, topic)
        produce(bootstrap, topic, 0, 1)
        consume(bootstrap, f"{topic}-group", topic, 0, 1)
    kafka = source(
        bootstrap,
        topics={"include": [f"{prefix}-.*"], "exclude": [".*-skip"]},
        consumer_groups={"include": [f"{prefix}-a-group", f"{prefix}-skip-group"]},
    )
    kafka.refresh()
    assert kafka.snapshot is not None
    assert sorted(topic for topic, _ in kafka.snapshot.newest) == [f"{prefix}-a", f"{prefix}-b"]
    assert sorted(kafka.snapshot.groups) == [f"{prefix}-a-group", f"{prefix}-skip-group"]
    # a group's commits on an excluded topic are not reported
    assert kafka.snapshot.groups[f"{prefix}-skip-group"].committed == {}


def test_internal_topics_are_excluded_by_default() -> None:
    settings = KafkaSettings(bootstrap_servers=["kafka:9092"])
    assert not settings.topics("__consumer_offsets")
    assert settings.topics("orders") and settings.consumer_groups("__anything")


def test_outage_keeps_the_last_values_and_recovers_without_restart() -> None:
    broker = TansuBroker()
    broker.start()
    try:
        topic = unique("audit")
        create_topic(broker.bootstrap, topic)
        produce(broker.bootstrap, topic, 0, 2)
        kafka = source(broker.bootstrap, timeout="2s")
        registry = kafka_registry(kafka)
        kafka.refresh()
        succeeded = value(registry, "thoth_kafka_last_success_timestamp_seconds")
        broker.stop()
        with pytest.raises(KafkaCollectionError):
            kafka.refresh()
        assert value(registry, "thoth_kafka_up") == 0
        assert value(registry, "kafka_topic_partition_current_offset", topic=topic,
                     partition="0") == 2  # fmt: skip
        assert value(registry, "thoth_kafka_last_success_timestamp_seconds") == succeeded
        assert value(registry, "thoth_metrics_exporter_kafka_collection_errors_total") == 1
        broker.start()  # same port; the in-memory broker comes back empty
        kafka.refresh()
        assert value(registry, "thoth_kafka_up") == 1
        assert value(registry, "kafka_topic_partitions", topic=topic) is None  # vanished
        fresh = unique("audit")
        create_topic(broker.bootstrap, fresh)
        produce(broker.bootstrap, fresh, 0, 1)
        kafka.refresh()
        assert value(registry, "kafka_topic_partitions", topic=fresh) == 1
    finally:
        broker.stop()


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A TCP listener that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for connection in (*accepted, server):
        connection.close()


@pytest.mark.parametrize("broker", ["unreachable", "silent"])
def test_a_dead_or_silent_broker_is_an_error_line_and_up_zero(
    broker: str, silent_broker: str, caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap = silent_broker if broker == "silent" else f"127.0.0.1:{free_port()}"
    settings = MetricsExporterSettings.model_validate({
        "database_url": "postgresql://nobody@127.0.0.1:9/nothing",
        "kafka": {"bootstrap_servers": [bootstrap], "timeout": "1s"},
    })  # fmt: skip
    exporter = MetricsExporter.build(settings)
    assert exporter.kafka is not None
    kafka = exporter.kafka

    with caplog.at_level(logging.INFO):
        error = asyncio.run(exporter.refresh_kafka())
    assert error is not None and not kafka.up
    assert [r.getMessage() for r in caplog.records if r.name.startswith("thoth_monitoring")] == [
        "kafka_collection_failed"  # one line, not one per reconnection attempt
    ]
    [record] = caplog.records
    assert record.__dict__["bootstrap_servers"] == bootstrap
    assert record.__dict__["error"] == error
    assert "Broker transport failure" in error  # librdkafka's words, one line
    assert exporter.registry.get_sample_value("thoth_kafka_up") == 0


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exporter.yaml"
    path.write_text(text)
    return path


def test_config_errors_are_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kafka:\n"
        "  bootstrap_servers: [kafka]\n"
        "  topics: {include: ['(']}\n"
        "  security: {sasl_mechanism: PLAIN, sasl_username: thoth}\n"
        "  lag: true\n",
    )
    with pytest.raises(ConfigError) as caught:
        validate(MetricsExporterSettings, load_yaml(path), str(path))
    located = dict(caught.value.problems)
    assert set(located) == {
        "kafka.bootstrap_servers",
        "kafka.topics.include.0",
        "kafka.security",
        "kafka.lag",
    }
    assert "'kafka' is not host:port" in located["kafka.bootstrap_servers"]
    assert "regular expression" in located["kafka.topics.include.0"]
    assert "exactly one of sasl_password or sasl_password_file" in located["kafka.security"]
    assert str(caught.value).startswith(f"{path}: kafka.")


def test_sasl_password_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text("from-file\n")
    security = {"sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "thoth"}
    from_file = KafkaSettings.model_validate({
        "bootstrap_servers": ["kafka:9093"],
        "security": {**security, "sasl_password_file": str(secret), "tls": True},
    })  # fmt: skip
    config = from_file.security.client_config()
    assert config["sasl.password"] == "from-file"
    assert config["security.protocol"] == "SASL_SSL"
    monkeypatch.setenv("KAFKA_PASSWORD", "from-env")
    path = write(
        tmp_path,
        "kafka:\n  bootstrap_servers: ['kafka:9093']\n"
        "  security: {sasl_mechanism: PLAIN, sasl_username: thoth, "
        "sasl_password: '${KAFKA_PASSWORD}'}\n",
    )
    settings = validate(MetricsExporterSettings, load_yaml(path), str(path))
    assert settings.kafka is not None
    assert settings.kafka.security.client_config()["sasl.password"] == "from-env"
    assert "from-env" not in repr(settings)


def test_once_prints_the_kafka_families(kafka_broker: TansuBroker, tmp_path: Path) -> None:
    topic = unique("once")
    create_topic(kafka_broker.bootstrap, topic)
    produce(kafka_broker.bootstrap, topic, 0, 2)
    path = write(
        tmp_path,
        f"kafka:\n  bootstrap_servers: ['{kafka_broker.bootstrap}']\n"
        f"  topics: {{include: ['{topic}']}}\n",
    )
    url = "postgresql://nobody@127.0.0.1:9/nothing"
    result = run("metrics-exporter", "--once", "--config", str(path), "--database-url", url)
    assert result.returncode == 1  # the database is unreachable; Kafka is not
    assert "kafka failed" not in result.stderr
    assert "thoth_kafka_up 1.0" in result.stdout
    assert f'kafka_topic_partition_current_offset{{partition="0",topic="{topic}"}} 2.0' in (
        result.stdout
    )


def test_every_kafka_health_metric_has_a_reserved_prefix(kafka_broker: TansuBroker) -> None:
    kafka = source(kafka_broker.bootstrap)
    kafka.refresh()
    engine = create_async_engine("postgresql+psycopg://")
    names = [family.name for family in ContentMetrics(Collector(engine, {}), None, "0", kafka)
             .collect()]  # fmt: skip
    assert "thoth_kafka_up" in names
    assert [name for name in names if not name.startswith(RESERVED_PREFIXES)] == []


def test_promtool_check_metrics_is_clean(kafka_broker: TansuBroker) -> None:
    topic, group = unique("lint"), unique("linter")
    create_topic(kafka_broker.bootstrap, topic)
    produce(kafka_broker.bootstrap, topic, 0, 2)
    consume(kafka_broker.bootstrap, group, topic, 0, 1)
    kafka = source(kafka_broker.bootstrap, consumer_groups={"include": [group]})
    kafka.refresh()
    exposition = generate_latest(kafka_registry(kafka))
    assert b"kafka_consumergroup_lag{" in exposition  # every family is there to be checked
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run .ci/system-deps (Debian package prometheus)"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, b"")


def test_the_readme_example_config_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("```yaml\n# exporter.yaml\n", 1)[1].split("```", 1)[0]
    path = write(tmp_path, example)
    names = ("THOTH_METRICS_PASSWORD", "THOTH_CEPH_KEY_ID", "THOTH_CEPH_SECRET_KEY",
             "THOTH_KAFKA_PASSWORD")  # fmt: skip
    environ = dict.fromkeys(names, "secret")
    settings = validate(MetricsExporterSettings, load_yaml(path, environ), str(path))
    assert settings.kafka is not None
    assert settings.kafka.topics("thoth-advise") and not settings.kafka.topics("thoth-advise-retry")
    assert settings.kafka.security.client_config()["security.protocol"] == "SASL_SSL"
