"""`thoth-monitoring demo` end to end, as a newcomer runs it (from a fresh folder with the default
``--out``, with free ports and short timers): Prometheus loaded every rule group, every printed
URL answers, the scripted fault becomes a GitHub issue that is closed once the fault is over,
Prometheus sees the Kafka broker up, the halted consumer group's lag growing (its alert becomes
an issue) and the healthy group keeping up, Prometheus scrapes repo-metrics, which counts the
stand-in's Kebechet history found through the demo database's installations, the report is
written and mailed, the analytics tables hold one row per adviser document uploaded (and
Prometheus scrapes analytics serve), Superset's absence is one line, every dashboard query
parses and (but for a few that have nothing to show in a fresh demo) returns data, and Ctrl-C
leaves no process and no port behind.
A demo whose rules did not load says so, stops everything and exits 1."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import boto3
import psycopg

from tests.support.cli import COMMAND
from tests.support.demo import (
    DEMO_FLAGS,
    assert_dashboard_queries_answer,
    assert_rules_loaded,
    assert_stopped_cleanly,
    get,
    interrupt,
    rule_groups,
    start_demo,
    wait_for,
    wait_for_urls,
)
from tests.support.screenshots import keep_for_readme, screenshot
from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.demo.github_standin.records import Records
from thoth_monitoring.demo.kebechet_history import lay_out
from thoth_monitoring.demo.pipeline import HALTED_GROUP, HALTED_TOPIC, HEALTHY_GROUP, TOPICS
from thoth_monitoring.demo.stack import BUCKET, DEPLOYMENT, REPO
from thoth_monitoring.demo.superset import ENV_VAR
from thoth_monitoring.repo_metrics.kebechet import classify

# The old mistake brought back: rule files named relative to the working directory, which
# Prometheus resolves against its configuration's folder, so that they match nothing.
RELATIVE_RULES = """
import sys
from pathlib import Path
from thoth_monitoring.cli import main
from thoth_monitoring.demo import stack
written = stack.shortened_rules
stack.shortened_rules = lambda *args: written(*args).relative_to(Path.cwd())
sys.exit(main(["demo", *sys.argv[1:]]))
"""


def test_demo_without_its_rules_says_so_stops_everything_and_exits_one(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", RELATIVE_RULES, *DEMO_FLAGS], cwd=tmp_path,
                            capture_output=True, text=True, timeout=180)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    config = tmp_path / "demo-out" / "prometheus.yml"
    assert (
        f"demo: Prometheus loaded 0 rule groups but {rule_groups()} were written; "
        f"check rule_files in {config}\n"
    ) in result.stderr, result.stderr
    assert "stopped everything; no ports left" in result.stdout, result.stdout


def children_of(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def query(prometheus: str, expr: str, *labels: str) -> dict[tuple[str, ...], float]:
    """An instant query's samples: the values of ``labels`` -> the sample's value."""
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    result: list[dict[str, Any]] = json.loads(get(url))["data"]["result"]
    return {tuple(r["metric"][name] for name in labels): float(r["value"][1]) for r in result}


def assert_repo_metrics_counts_the_kebechet_history(prometheus: str, github: str) -> None:
    """Prometheus scrapes repo-metrics; its pull request counts are those of the demo's
    generator laid out again for the repositories the stand-in serves (all but one of the
    active installations: that one is "gone")."""
    served = sorted(repo for repo in json.loads(get(github + "/issues.json")) if repo != REPO)
    assert len(served) >= 10, served
    records = Records(repos=set())
    lay_out(records, served, datetime.now(UTC))
    expected = Counter(
        (*classify(pull["title"]), "merged" if pull["merged_at"] else pull["state"])
        for pulls in records.issues.values() for pull in pulls if "pull_request" in pull
    )  # fmt: skip
    assert {state for _, _, state in expected} == {"merged", "closed", "open"}
    assert query(prometheus, 'up{job="repo-metrics"}', "job") == {("repo-metrics",): 1.0}
    counted = query(prometheus, "sum by (manager, kind, state) (thoth_kebechet_pull_requests)",
                    "manager", "kind", "state")  # fmt: skip
    assert counted == {key: float(count) for key, count in expected.items()}
    assert query(prometheus, "sum by (state) (thoth_repo_metrics_repositories)", "state") == {
        ("collected",): len(served),
        ("gone",): 1.0,
    }


def assert_consumer_group_halted(prometheus: str) -> None:
    """Prometheus scrapes the broker's state through metrics-exporter: Kafka is up, the halted
    group's lag on its topic is above 0 and growing, the healthy group keeps up on every topic."""
    up = 'thoth_kafka_up{job="thoth-metrics-exporter"}'
    wait_for(lambda: query(prometheus, up) == {(): 1.0}, 60, "thoth_kafka_up == 1")
    halted = ("thoth_kafka_consumergroup_topic_lag"
              f'{{consumergroup="{HALTED_GROUP}", topic="{HALTED_TOPIC}"}}')  # fmt: skip
    first = query(prometheus, halted)[()]
    assert first > 0
    wait_for(lambda: query(prometheus, halted)[()] > first, 60, "the halted group's lag to grow")
    healthy = query(prometheus, "thoth_kafka_consumergroup_topic_lag"
                    f'{{consumergroup="{HEALTHY_GROUP}"}}', "topic")  # fmt: skip
    assert set(healthy) == {(topic,) for topic in TOPICS}, healthy
    assert max(healthy.values()) <= 10, healthy


def assert_analytics_holds_every_adviser_document(urls: dict[str, str], printed: str) -> None:
    """analytics loaded one row per adviser document in the demo's S3 (all readable), said so
    in its step line, and Prometheus scrapes analytics serve (ThothAnalyticsStale's source)."""
    s3 = S3Settings(endpoint_url=urls["S3 (moto)"].rsplit("/", 1)[0], bucket=BUCKET,
                    deployment=DEPLOYMENT)  # fmt: skip
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name=s3.region,
                          aws_access_key_id="demo", aws_secret_access_key="demo")  # fmt: skip
    listing = client.get_paginator("list_objects_v2")
    pages = listing.paginate(Bucket=BUCKET, Prefix=s3.folder("adviser"))
    documents = sum(page.get("KeyCount", 0) for page in pages)
    assert documents > 0
    with psycopg.connect(urls["PostgreSQL"], connect_timeout=10) as connection:
        counts = connection.execute(
            "SELECT (SELECT count(*) FROM thoth_analytics.adviser_runs),"
            " (SELECT sum(unreadable) FROM thoth_analytics.ingest_days),"
            " (SELECT sum(runs) FROM thoth_analytics.adviser_daily)"
        ).fetchone()
    assert counts == (documents, 0, documents)
    line = re.search(r"analytics: (\d+) adviser runs of \d+ days written to schema "
                     r"thoth_analytics .*; SQL: postgresql://", printed)  # fmt: skip
    assert line is not None and int(line.group(1)) == documents, printed
    assert "analytics: runs per integration: " in printed, printed
    prometheus = urls["Prometheus"].rsplit("/classic", 1)[0]
    wait_for(lambda: query(prometheus, 'thoth_analytics_last_success_timestamp_seconds{job='
                           '"analytics"} > 0'), 60, "Prometheus to scrape analytics")  # fmt: skip


def test_demo_comes_up_files_an_issue_mails_the_report_and_stops_cleanly(tmp_path: Path) -> None:
    folder, log_path = tmp_path / "user", tmp_path / "demo.log"
    folder.mkdir()
    out = folder / "demo-out"
    log = log_path.open("wb")
    without_superset = {name: value for name, value in os.environ.items() if name != ENV_VAR}
    process = start_demo(COMMAND, folder, log, without_superset)
    started = time.monotonic()
    try:
        urls = wait_for_urls(process, out, log_path)
        ready = time.monotonic() - started
        prometheus = urls["Prometheus"].rsplit("/classic", 1)[0]
        assert_rules_loaded(prometheus)
        for url in urls.values():
            if url.startswith("http"):
                get(url)
        children = children_of(process.pid)
        assert len(children) >= 6, children  # the services it started
        printed = log_path.read_text()
        assert "Prometheus: Kebechet pull requests by manager: " in printed, printed
        assert f"Superset: not installed; for the adviser dashboard set {ENV_VAR}" in printed
        assert_analytics_holds_every_adviser_document(urls, printed)
        assert_repo_metrics_counts_the_kebechet_history(
            prometheus, urls["GitHub stand-in (issues)"]
        )
        assert re.search(r"Prometheus: Kafka lag: .*investigator/thoth.package-release=[1-9]",
                         printed), printed  # fmt: skip
        assert_consumer_group_halted(prometheus)

        # the report, written and mailed (html + text + inline charts)
        assert "Thoth SLO report" in (out / "report.html").read_text()
        stored = json.loads(next(out.glob("slo-reports/*/report.json")).read_text())
        statuses = {(row["slo"], row["group"]): row["status"] for row in stored["slos"]}
        assert statuses[("workflows-success", "kebechet")] == "breached"  # the demo's story
        assert statuses[("workflows-latency", "solver")] == "breached"
        assert statuses[("user-api-availability", "")] == "at_risk"
        assert statuses[("metrics-exporter-freshness", "")] == "met"
        assert stored["adviser"]["runs"] > 0
        managers = {row["manager"] for row in stored["kebechet"]["managers"]}
        assert "update" in managers, stored["kebechet"]  # from repo-metrics' store
        assert "Kebechet delivery" in (out / "report.html").read_text()
        mails = sorted((out / "mail").glob("*.eml"))
        assert len(mails) == 1
        mail = message_from_bytes(mails[0].read_bytes(), policy=policy.default)
        assert mail["Subject"].startswith("Thoth SLO report ")
        assert {p.get_content_type() for p in mail.walk()} >= {"text/plain", "text/html",
                                                               "image/png"}  # fmt: skip

        # the scripted fault becomes an issue, closed when the graph-exporter is back
        github = urls["GitHub stand-in (issues)"]

        def issue_state(alertname: str) -> str | None:
            issues = json.loads(get(github + "/issues.json"))
            states = [i["state"] for repo in issues.values() for i in repo
                      if alertname in i["title"]]  # fmt: skip
            return states[0] if states else None

        def fault_issue_state() -> str | None:
            return issue_state("ThothGraphExporterDown")

        wait_for(fault_issue_state, 150, "the ThothGraphExporterDown issue")
        assert b"ThothGraphExporterDown" in get(github)
        keep_for_readme(screenshot(github, tmp_path / "issues.png", 1000), "github-issues.png")
        keep_for_readme(screenshot((out / "report.html").as_uri(), tmp_path / "report.png"),
                        "slo-report.png")  # fmt: skip
        wait_for(lambda: fault_issue_state() == "closed", 150, "the issue to be closed")
        wait_for(lambda: issue_state("ThothKafkaConsumerGroupHalted") == "open", 60,
                 "the ThothKafkaConsumerGroupHalted issue")  # fmt: skip
        assert_dashboard_queries_answer(prometheus)
    finally:
        interrupt(process)
        log.close()
    assert_stopped_cleanly(process, log_path)
    assert ready < 90, f"ready after {ready:.0f}s"
    leftovers = {pid for pid in children if Path(f"/proc/{pid}").exists()}
    assert not leftovers, leftovers
    for url in urls.values():
        if url.startswith("http"):
            port = int(url.split(":")[2].split("/")[0])
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", port)) != 0, f"{url} still open"
    assert os.path.exists(out / "report.html")
