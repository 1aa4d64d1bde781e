"""The alert rules and the Alertmanager configuration: promtool and amtool are clean, every
alert has a promtool test case (silent and firing), a runbook section, and uses only metrics
that something in this stack really produces."""

import re
import shutil
import subprocess
from typing import Any

import boto3
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from alerts.receiver import ReceiverMetrics
from exporters.graph_exporter import GraphExporter, GraphExporterSettings
from exporters.metrics_exporter import MetricsExporter, MetricsExporterSettings
from slo_reporter.definitions import load_slos
from slo_reporter.job import ReporterMetrics
from slo_reporter.rules import render
from tests.conftest import REPOSITORY
from tests.exporters.health.conftest import MakeDatabase, execute
from tests.exporters.test_postgres_queries import defined_metrics

ALERTS = REPOSITORY / "alerts"
RULE_FILES = sorted((ALERTS / "rules").glob("*.yaml"))
TEST_FILES = sorted((ALERTS / "tests").glob("*.test.yaml"))
# Produced outside this project: Prometheus itself, postgres_exporter's own metrics, and the
# services the SLOs watch (Argo workflow metrics, the User API's Flask exporter).
EXTERNAL_METRICS = {"up", "pg_up"}
EXTERNAL_PREFIXES = ("argo_workflows_", "flask_http_")
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which(command[0])
    assert binary, f"{command[0]} missing: run .ci/system-deps"
    return subprocess.run(
        [binary, *command[1:]], capture_output=True, text=True, timeout=120, cwd=ALERTS
    )


def test_promtool_check_rules_is_clean() -> None:
    result = run("promtool", "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_promtool_rule_tests_pass() -> None:
    result = run("promtool", "test", "rules", *map(str, TEST_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_silent_and_a_firing_test_case() -> None:
    silent: set[str] = set()
    firing: set[str] = set()
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts - firing == set(), "alerts without a firing case"
    assert alerts - silent == set(), "alerts without a silent case"


def test_every_alert_follows_the_conventions() -> None:
    runbook = (ALERTS / "runbook.md").read_text()
    for rule in rules():
        if "alert" not in rule:
            assert re.match(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$", rule["record"]), rule["record"]
            continue
        name = rule["alert"]
        assert re.match(r"^Thoth[A-Z][A-Za-z]+$", name)
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["labels"]["repo"], name
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}, name
        anchor = name.lower()
        assert rule["annotations"]["runbook_url"].endswith(f"runbook.md#{anchor}"), name
        assert f"\n## {name}\n" in runbook, f"no runbook section for {name}"


def test_alertmanager_config_is_valid() -> None:
    result = run("amtool", "check-config", "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def metric_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers, grouping clauses and function
    names removed)."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "", expression)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
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


async def test_every_metric_a_rule_uses_is_produced_by_the_stack(
    seeded_url: str, s3_endpoint: str, health_database: MakeDatabase
) -> None:
    s3 = {"endpoint_url": s3_endpoint, "bucket": "alerts-check", "deployment": "test"}
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="alerts-check")
    client.put_object(Bucket="alerts-check", Key="data/test/graph-backup/pg_dump-26-11-20-01-00-00")
    content = MetricsExporter.build(
        MetricsExporterSettings.model_validate({"database_url": seeded_url, "s3": s3})
    )
    await content.collect_once()
    await content.collector.engine.dispose()
    watched = health_database("amcheck")
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
    produced = (
        exposed(generate_latest(ReceiverMetrics().registry).decode())
        | exposed(generate_latest(ReporterMetrics().registry).decode())
        | exposed(generate_latest(content.registry).decode())
        | exposed(generate_latest(registry).decode())
        | set().union(*defined_metrics().values())
        | {rule["record"] for rule in rules() if "record" in rule}
        | EXTERNAL_METRICS
    )
    used = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert {name for name in used - produced if not name.startswith(EXTERNAL_PREFIXES)} == set()


def test_metric_name_extraction() -> None:
    assert metric_names(
        'time() - a_seconds{task="x"} > 3 * 3600 or b_ratio > 0.5 and on (db, t) c_bytes > 1e9'
    ) == {"a_seconds", "b_ratio", "c_bytes"}
    assert metric_names("sum by (job) (delta(d_total[1h]))") == {"d_total"}
    assert metric_names("x > 1e9 and y < 2.5E-3") == {"x", "y"}


def test_generated_slo_rules_are_current() -> None:
    assert render(load_slos()) == (ALERTS / "rules" / "slo.yaml").read_text(), (
        "alerts/rules/slo.yaml is stale: run `thoth-monitoring slo-report rules`"
    )
