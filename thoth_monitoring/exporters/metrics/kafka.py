"""Kafka topic offsets and consumer-group lag, read with confluent-kafka's AdminClient.

The AdminClient speaks the plain Kafka protocol (any Kafka >= 2.x, and Tansu in the tests; the
pure-Python clients cannot decode Tansu's describe-groups answer). Its calls are blocking
futures: the exporter runs ``KafkaSource.refresh`` in a worker thread, and every call waits at
most until one deadline per collection, so a dead or silent broker costs ``timeout``, never a
hang. The last good snapshot is kept while the broker is unreachable.
"""

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from thoth_monitoring.core.config import Duration

# Kafka's own spelling of group states; each is exported, 1 for the current one.
GROUP_STATES = ("Stable", "Empty", "PreparingRebalance", "CompletingRebalance", "Dead",
                "Unknown")  # fmt: skip
_NEWEST = OffsetSpec.latest()  # type: ignore[no-untyped-call]  # (untyped in the library)
_OLDEST = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
_STATE_NAMES = {
    "STABLE": "Stable",
    "EMPTY": "Empty",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "DEAD": "Dead",
}


class NameFilter(BaseModel):
    """Names that match (whole name) one ``include`` pattern and no ``exclude`` pattern."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    include: tuple[re.Pattern[str], ...] = (re.compile(".*"),)
    exclude: tuple[re.Pattern[str], ...] = ()

    def __call__(self, name: str) -> bool:
        return any(p.fullmatch(name) for p in self.include) and not any(
            p.fullmatch(name) for p in self.exclude
        )


class KafkaSecurity(BaseModel):
    """SASL and TLS towards the brokers (both off by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    tls: bool = False
    tls_ca_file: Path | None = None
    tls_verify: bool = True

    @model_validator(mode="after")
    def _complete(self) -> "KafkaSecurity":
        passwords = (self.sasl_password is not None) + (self.sasl_password_file is not None)
        if self.sasl_mechanism is None:
            if self.sasl_username is not None or passwords:
                raise ValueError("sasl_username/sasl_password need sasl_mechanism")
        elif self.sasl_username is None or passwords != 1:
            raise ValueError(
                f"sasl_mechanism {self.sasl_mechanism} needs sasl_username and exactly one of "
                "sasl_password or sasl_password_file"
            )
        if self.sasl_password_file is not None and not self.sasl_password_file.is_file():
            raise ValueError(f"sasl_password_file {self.sasl_password_file} is not a file")
        if self.tls_ca_file is not None and not self.tls_ca_file.is_file():
            raise ValueError(f"tls_ca_file {self.tls_ca_file} is not a file")
        return self

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings; the password is read from its file here, at start."""
        config: dict[str, Any] = {}
        tls = self.tls or self.tls_ca_file is not None
        if self.sasl_mechanism is not None:
            config["security.protocol"] = "SASL_SSL" if tls else "SASL_PLAINTEXT"
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = (
                self.sasl_password.get_secret_value()
                if self.sasl_password is not None
                else Path(str(self.sasl_password_file)).read_text().strip()
            )
        elif tls:
            config["security.protocol"] = "SSL"
        if tls:
            config["enable.ssl.certificate.verification"] = self.tls_verify
            if self.tls_ca_file is not None:
                config["ssl.ca.location"] = str(self.tls_ca_file)
        return config


class KafkaSettings(BaseModel):
    """The ``kafka:`` section of the metrics-exporter config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: list[str] = Field(min_length=1)
    security: KafkaSecurity = KafkaSecurity()
    topics: NameFilter = NameFilter(exclude=(re.compile("__.*"),))  # internal topics
    consumer_groups: NameFilter = NameFilter()
    per_partition_lag: bool = True
    interval: Duration = 30.0
    timeout: Duration = 10.0

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port(cls, servers: list[str]) -> list[str]:
        for server in servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return servers


@dataclass(frozen=True)
class GroupOffsets:
    """One consumer group: its state, members, and committed offset per (topic, partition)."""

    state: str
    members: int
    committed: dict[tuple[str, int], int]


@dataclass(frozen=True)
class KafkaSnapshot:
    """What one successful collection saw."""

    brokers: int
    newest: dict[tuple[str, int], int]  # (topic, partition) -> offset of the next record
    oldest: dict[tuple[str, int], int]
    groups: dict[str, GroupOffsets]


class _Deadline:
    """Seconds left until one point in time, for each blocking call of a collection."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline exceeded")
        return left

    def results(self, futures: Iterable[tuple[Any, Any]]) -> dict[Any, Any]:
        return {key: future.result(timeout=self.left()) for key, future in futures}


def make_admin(settings: KafkaSettings) -> AdminClient:
    """An AdminClient whose own log lines go to our logger (drained by ``poll``). Only its
    critical ones: while a broker is down it logs every reconnection attempt, and the one
    ``kafka_collection_failed`` line per collection already carries the cause."""
    config: dict[str, Any] = {
        "bootstrap.servers": ",".join(settings.bootstrap_servers),
        "client.id": "thoth-metrics-exporter",
        "socket.timeout.ms": int(settings.timeout * 1000),
        "socket.connection.setup.timeout.ms": int(settings.timeout * 1000),
        "reconnect.backoff.ms": 500,
        "reconnect.backoff.max.ms": 5000,
        "log_level": 2,
        "logger": logging.getLogger("thoth_monitoring.librdkafka"),
        **settings.security.client_config(),
    }
    return AdminClient(config)


def read_snapshot(admin: AdminClient, settings: KafkaSettings) -> KafkaSnapshot:
    """One collection; raises on any failure (nothing partial is returned)."""
    deadline = _Deadline(settings.timeout)
    metadata = admin.list_topics(timeout=deadline.left())
    partitions = [
        TopicPartition(name, number)
        for name, topic in sorted(metadata.topics.items())
        if topic.error is None and settings.topics(name)
        for number in sorted(topic.partitions)
    ]
    newest: dict[tuple[str, int], int] = {}
    oldest: dict[tuple[str, int], int] = {}
    if partitions:  # (an empty request is refused by the client)
        newest = _offsets(admin, partitions, _NEWEST, deadline)
        oldest = _offsets(admin, partitions, _OLDEST, deadline)
    listing = admin.list_consumer_groups(request_timeout=deadline.left()).result(deadline.left())
    names = sorted(g.group_id for g in listing.valid if settings.consumer_groups(g.group_id))
    if not names:
        return KafkaSnapshot(len(metadata.brokers), newest, oldest, {})
    described = deadline.results(
        admin.describe_consumer_groups(names, request_timeout=deadline.left()).items()
    )
    # The client takes one group per offsets request; all are sent before any is awaited.
    pending = [
        (name, future)
        for name in names
        for future in admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(name)], request_timeout=deadline.left()
        ).values()
    ]
    groups = {
        name: GroupOffsets(
            state=_STATE_NAMES.get(described[name].state.name, "Unknown"),
            members=len(described[name].members),
            committed={
                (tp.topic, tp.partition): tp.offset
                for tp in answer.topic_partitions
                if tp.error is None and tp.offset >= 0 and (tp.topic, tp.partition) in newest
            },
        )
        for name, answer in deadline.results(pending).items()
    }
    return KafkaSnapshot(len(metadata.brokers), newest, oldest, groups)


def _offsets(
    admin: AdminClient, partitions: list[TopicPartition], spec: OffsetSpec, deadline: _Deadline
) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets(
        {tp: spec for tp in partitions}, request_timeout=deadline.left()
    ).items()
    return {(tp.topic, tp.partition): info.offset for tp, info in deadline.results(futures).items()}


class KafkaCollectionError(Exception):
    """A collection failed; the message names the cause in one line."""


@dataclass
class KafkaSource:
    """The latest snapshot plus the health of its collection. ``refresh`` blocks (run it in a
    worker thread); the exposition reads the rest from any thread."""

    settings: KafkaSettings
    admin_factory: Callable[[KafkaSettings], AdminClient] = make_admin
    clock: Callable[[], float] = time.time
    up: bool = False
    snapshot: KafkaSnapshot | None = None
    last_success: float | None = None
    last_duration: float | None = None
    errors_total: int = 0
    generation: int = 0
    _admin: AdminClient | None = None

    def refresh(self) -> None:
        """Collect once; on failure keep the last snapshot, count the error and raise
        ``KafkaCollectionError``. The snapshot is immutable and replaced whole: readers need
        no lock."""
        started = time.monotonic()
        try:
            if self._admin is None:
                self._admin = self.admin_factory(self.settings)
            snapshot = read_snapshot(self._admin, self.settings)
        except Exception as error:
            self.up = False
            self.errors_total += 1
            raise KafkaCollectionError(_cause(error, self.settings.timeout)) from error
        else:
            self.snapshot = snapshot
            self.up = True
            self.last_success = self.clock()
        finally:
            self.last_duration = time.monotonic() - started
            self.generation += 1
            if self._admin is not None:
                self._admin.poll(0)  # hand librdkafka's queued log lines to our logger


def _cause(error: Exception, timeout: float) -> str:
    """One line: librdkafka's own text for its errors, a plain sentence for the deadline."""
    if isinstance(error, TimeoutError):
        return f"no complete answer from the brokers within {timeout:g}s"
    if isinstance(error, KafkaException) and isinstance(error.args[0], KafkaError):
        return f"{error.args[0].str()} ({error.args[0].name()})"
    return " ".join(f"{type(error).__name__}: {error}".split())
