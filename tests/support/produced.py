"""What the stack really produces, for the tests that check alert rules and dashboards use only
metrics that exist: every exporter of ours run for real (a seeded knowledge graph, a watched
database, an S3 bucket with a backup), the recording rules, and the few names from outside."""

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric

from tests.support.postgres import MakeDatabase, defined_metrics, execute
from tests.support.repository import REPOSITORY
from thoth_monitoring.alert_receiver.receiver import ReceiverMetrics
from thoth_monitoring.analytics.service import AnalyticsMetrics
from thoth_monitoring.exporters.health.service import GraphExporter, GraphExporterSettings
from thoth_monitoring.exporters.metrics.exposition import kafka_metrics
from thoth_monitoring.exporters.metrics.kafka import (
    GroupOffsets,
    KafkaSettings,
    KafkaSnapshot,
    KafkaSource,
)
from thoth_monitoring.exporters.metrics.service import MetricsExporter, MetricsExporterSettings
from thoth_monitoring.repo_metrics.knowledge import Issue, Knowledge, PullRequest
from thoth_monitoring.repo_metrics.metrics import indicator_families
from thoth_monitoring.repo_metrics.service import Health
from thoth_monitoring.slo_reporter.job import ReporterMetrics

RULE_FILES: list[Path] = sorted(
    (REPOSITORY / "thoth_monitoring" / "alerts" / "rules").glob("*.yaml")
)
# Produced outside this project: Prometheus itself, postgres_exporter's own metrics, and the
# services the SLOs watch (Argo workflow metrics, the User API's Flask exporter).
EXTERNAL_METRICS = {"up", "pg_up"}
EXTERNAL_PREFIXES = ("argo_workflows_", "flask_http_")
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def rules() -> list[dict[str, Any]]:
    """Every rule of the shipped rule files (which must exist: an empty list would pass)."""
    assert RULE_FILES, "no rule files"
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def metric_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers, grouping clauses and function
    names removed)."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "", expression)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\boffset\s+-?[0-9a-z]+", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        function_call = text[match.end() :].lstrip().startswith("(")
        if not (word[0].isdigit() or function_call or word.lower() in PROMQL_WORDS):
            names.add(word)
    return names


def exposed(text: str) -> set[str]:
    """Sample names, and the names every declared family may have (empty ones included)."""
    names = {
        match.group(1)
        for match in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.MULTILINE)
    }
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        names |= {name, f"{name}_total"} if kind == "counter" else {name}
    return names


async def produced_metrics(
    seeded_url: str, s3_endpoint: str, make_database: MakeDatabase
) -> set[str]:
    """Run both exporters once, take every name the stack's components expose, and add
    repo-metrics' indicators, the postgres_exporter queries, the recording rules and
    ``EXTERNAL_METRICS``."""
    bucket = f"produced-{uuid.uuid4().hex[:8]}"  # one per call: callers share the S3 server
    s3 = {"endpoint_url": s3_endpoint, "bucket": bucket, "deployment": "test"}
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="data/test/graph-backup/pg_dump-26-11-20-01-00-00")
    content = MetricsExporter.build(
        MetricsExporterSettings.model_validate({"database_url": seeded_url, "s3": s3})
    )
    await content.collect_once()
    await content.collector.engine.dispose()
    watched = make_database("amcheck")
    execute(
        watched,
        "CREATE TABLE t (id int PRIMARY KEY)",
        "INSERT INTO t SELECT generate_series(1, 1000)",
        "ANALYZE t",
    )
    health = GraphExporter.build(
        GraphExporterSettings.model_validate({"databases": [watched], "s3": s3})
    )
    await health.run_all()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(health)
    return (
        exposed(generate_latest(ReceiverMetrics().registry).decode())
        | exposed(generate_latest(ReporterMetrics().registry).decode())
        | exposed(generate_latest(AnalyticsMetrics().registry).decode())
        | exposed(generate_latest(content.registry).decode())
        | exposed(generate_latest(registry).decode())
        | repo_metrics_indicators()
        | exposed(generate_latest(_Families(list(Health().families(0)))).decode())
        | set().union(*defined_metrics().values())
        | {rule["record"] for rule in rules() if "record" in rule}
        | EXTERNAL_METRICS
        | exposed(generate_latest(_Families(list(kafka_metrics(_kafka_seen())))).decode())
    )


class _Families(CollectorRegistry):
    """A registry exposing fixed families (repo-metrics' self metrics before any run)."""

    def __init__(self, families: list[Metric]) -> None:
        super().__init__(auto_describe=False)
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def _kafka_seen() -> KafkaSource:
    """The Kafka source as after one collection of a topic and a group that committed on it
    (its exposition, without a broker)."""
    source = KafkaSource(KafkaSettings(bootstrap_servers=["127.0.0.1:9092"]))
    group = GroupOffsets(state="Stable", members=1, committed={("thoth.adviser-trigger", 0): 5})
    source.snapshot = KafkaSnapshot(
        brokers=1, newest={("thoth.adviser-trigger", 0): 8},
        oldest={("thoth.adviser-trigger", 0): 0}, groups={"investigator": group},
    )  # fmt: skip
    source.up, source.last_success, source.last_duration = True, 1.0, 0.1
    return source


def repo_metrics_indicators() -> set[str]:
    """Sample names of repo-metrics' indicators over one repository holding a merged, reviewed
    Kebechet pull request and an answered issue, so that every histogram has its samples."""
    day = "2026-11-0{}T00:00:00Z".format
    pull = PullRequest(
        number=1, title="Automatic dependency re-locking", author="khebhut[bot]",
        author_is_bot=True, labels=[], state="closed", created_at=day(1), updated_at=day(3),
        closed_at=day(3), merged_at=day(3), first_review_at=day(2),
    )  # fmt: skip
    issue = Issue(
        number=2, title="A question", author="someone", author_is_bot=False, state="open",
        created_at=day(1), updated_at=day(2), comments=1, first_response_at=day(2),
    )  # fmt: skip
    knowledge = Knowledge("thoth-station/adviser", pull_requests={1: pull}, issues={2: issue})
    families = indicator_families([knowledge], frozenset({"khebhut[bot]"}), 5, Counter([True]))
    return {sample.name for family in families for sample in family.samples}
