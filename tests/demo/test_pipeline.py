"""The demo's Kafka pipeline against a real broker (Tansu): the halted group stops committing on
its topic while the producer goes on, the healthy group keeps up, and everything stops."""

import time
from collections.abc import Callable

import pytest

from tests.support.kafka import kafka_registry
from thoth_monitoring.demo.kafka import tansu_broker
from thoth_monitoring.demo.pipeline import (
    HALTED_GROUP,
    HALTED_TOPIC,
    HEALTHY_GROUP,
    TOPICS,
    Pipeline,
)
from thoth_monitoring.exporters.metrics.kafka import KafkaSettings, KafkaSource

LAG, COMMITTED = (
    "thoth_kafka_consumergroup_topic_lag",
    "thoth_kafka_consumergroup_topic_current_offset",
)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_halted_group_stops_committing_while_the_healthy_group_keeps_up() -> None:
    with tansu_broker() as broker:
        pipeline = Pipeline(broker.bootstrap, interval=0.05, halt_after=3)
        pipeline.start()
        try:
            kafka = KafkaSource(KafkaSettings(bootstrap_servers=[broker.bootstrap]))
            registry = kafka_registry(kafka)

            def sample(name: str, group: str, topic: str = HALTED_TOPIC) -> float:
                kafka.refresh()
                found = registry.get_sample_value(name, {"consumergroup": group, "topic": topic})
                return found or 0.0

            wait_for(pipeline.halted.is_set, "the halt")
            time.sleep(0.5)  # the halting group's last commit is done
            committed = sample(COMMITTED, HALTED_GROUP)
            lag = sample(LAG, HALTED_GROUP)
            wait_for(lambda: sample(LAG, HALTED_GROUP) >= lag + 10, "the halted lag to grow")
            assert sample(COMMITTED, HALTED_GROUP) == committed >= 3
            assert registry.get_sample_value("thoth_kafka_up") == 1
            for topic in TOPICS:  # one message per 50 ms per topic: a few at most in flight
                assert sample(LAG, HEALTHY_GROUP, topic) <= 5, topic
                assert sample(COMMITTED, HEALTHY_GROUP, topic) > committed, topic
            assert pipeline.errors == []
        finally:
            pipeline.stop()
        assert not any(thread.is_alive() for thread in pipeline.threads)


def test_pipeline_stops_quietly_after_the_broker_died(capfd: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C reaches Tansu with the demo, so the clients stop after their broker is gone."""
    with tansu_broker() as broker:
        pipeline = Pipeline(broker.bootstrap, interval=0.05)
        pipeline.start()
        wait_for(pipeline.halted.is_set, "the halt")
    time.sleep(1)  # the clients try to reconnect
    pipeline.stop()
    assert not any(thread.is_alive() for thread in pipeline.threads)
    assert "Connection refused" not in capfd.readouterr().err
