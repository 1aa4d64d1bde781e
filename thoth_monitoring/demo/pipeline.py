"""The demo's request pipeline on Kafka: Thoth's topics, a producer sending to each of them and
two consumer groups reading them. ``investigator`` stops committing on one topic after a few
messages (halted: its lag grows, its committed offset stays); ``package-update`` keeps up.

Every client runs in its own thread; ``stop()`` joins them. One record per batch and a flush
after each, as Tansu's newest offset is exact only then."""

import logging
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

log = logging.getLogger(__name__)

TOPICS = ("thoth.investigator.adviser-trigger", "thoth.package-release",
          "thoth.cve-provided", "thoth.investigator.solved-package")  # fmt: skip
PARTITIONS = 2
HALTED_GROUP, HEALTHY_GROUP = "investigator", "package-update"
HALTED_TOPIC = "thoth.package-release"
TIMEOUT = 10.0  # seconds, for every call to the broker
# Every client's requests time out; and as Ctrl-C reaches Tansu with the demo, librdkafka's
# lines about every reconnection attempt until the clients stop would bury the demo's own
# (failures are reported through ``errors``).
CLIENT = {"socket.timeout.ms": int(TIMEOUT * 1000), "log_level": 2}


class Pipeline:
    """Producer and consumers against ``bootstrap``; the halted group stops committing on
    ``HALTED_TOPIC`` once it has committed ``halt_after`` messages of it."""

    def __init__(self, bootstrap: str, interval: float = 0.5, halt_after: int = 2) -> None:
        self.bootstrap, self.interval, self.halt_after = bootstrap, interval, halt_after
        self.stopping = threading.Event()
        self.halted = threading.Event()
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._produce, name="demo-producer", daemon=True),
            threading.Thread(target=self._consume, args=(HALTED_GROUP,), daemon=True),
            threading.Thread(target=self._consume, args=(HEALTHY_GROUP,), daemon=True),
        ]

    def start(self) -> None:
        """Create the topics (raises ``KafkaException`` if the broker refuses), then start the
        clients."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(topic, PARTITIONS, 1) for topic in TOPICS],
                                      request_timeout=TIMEOUT)  # fmt: skip
        for future in futures.values():
            future.result(timeout=TIMEOUT)
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=2 * TIMEOUT)

    def _produce(self) -> None:
        producer = Producer({**CLIENT, "bootstrap.servers": self.bootstrap, "linger.ms": 0,
                             "message.timeout.ms": int(TIMEOUT * 1000)})  # fmt: skip
        sent = 0
        while not self.stopping.wait(self.interval):
            for topic in TOPICS:
                producer.produce(topic, b'{"request": %d}' % sent, partition=sent % PARTITIONS)
                if not self._delivered(producer):
                    producer.purge()  # nothing left for the producer's destruction to wait for
                    if not self.stopping.is_set():
                        self._fail("kafka_produce_failed", topic=topic)
            sent += 1

    def _delivered(self, producer: Producer) -> bool:
        """Flush in short slices, so that a dead broker does not hold up ``stop()``."""
        deadline = time.monotonic() + TIMEOUT
        while producer.flush(0.2) != 0:
            if self.stopping.is_set() or time.monotonic() > deadline:
                return False
        return True

    def _consume(self, group: str) -> None:
        """Read every partition of every topic (assigned, so no group join to wait for) and
        commit each message; the halted group drops ``HALTED_TOPIC`` after ``halt_after``."""
        consumer = Consumer({**CLIENT, "bootstrap.servers": self.bootstrap, "group.id": group,
                             "auto.offset.reset": "earliest", "enable.auto.commit": False,
                             "session.timeout.ms": 6000})  # fmt: skip
        partitions = [TopicPartition(t, p) for t in TOPICS for p in range(PARTITIONS)]
        consumer.assign(partitions)
        committed = 0
        try:
            while not self.stopping.is_set():
                message = consumer.poll(0.5)
                if message is None:
                    continue
                if message.error() is not None:
                    self._fail("kafka_consume_failed", group=group, error=str(message.error()))
                    continue
                consumer.commit(message=message, asynchronous=False)
                if group == HALTED_GROUP and message.topic() == HALTED_TOPIC:
                    committed += 1
                    if committed == self.halt_after:
                        consumer.assign([tp for tp in partitions if tp.topic != HALTED_TOPIC])
                        self.halted.set()
        except KafkaException as error:
            self._fail("kafka_consume_failed", group=group, error=str(error))
        finally:
            consumer.close()

    def _fail(self, event: str, **fields: str) -> None:
        self.errors.append(" ".join([event, *(f"{k}={v}" for k, v in fields.items())]))
        log.warning(event, extra=fields)
