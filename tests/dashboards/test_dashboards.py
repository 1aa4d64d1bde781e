"""The generated dashboards: committed and current, importable into Grafana 10+ through the
DS_PROMETHEUS input, linked, every panel with a unit and a description, every query valid PromQL
over metrics that something in the stack really produces."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.postgres import MakeDatabase, scrape
from tests.support.produced import EXTERNAL_PREFIXES, exposed, metric_names, produced_metrics
from tests.support.repository import REPOSITORY
from thoth_monitoring.dashboards.build import panel_queries, render_all, write_all
from thoth_monitoring.repo_metrics.metrics import DURATION_BUCKETS
from thoth_monitoring.slo_reporter.definitions import load_slos

UIDS = {
    "knowledge-graph.json": "thoth-knowledge-graph",
    "database-health.json": "thoth-database-health",
    "slos.json": "thoth-slos",
    "stack-health.json": "thoth-stack-health",
    "kebechet.json": "thoth-kebechet",
    "request-pipeline.json": "thoth-request-pipeline",
}
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def models() -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in render_all().items()}


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but the rows."""
    return [panel for panel in model["panels"] if panel["type"] != "row"]


def test_committed_dashboards_are_current() -> None:
    rendered = render_all()
    assert rendered, "no dashboards rendered"
    committed = REPOSITORY / "thoth_monitoring" / "dashboards"
    assert sorted(path.name for path in committed.glob("*.json")) == sorted(rendered)
    for name, text in rendered.items():
        assert (committed / name).read_text() == text, (
            f"thoth_monitoring/dashboards/{name} is stale: run `thoth-monitoring dashboards`"
        )


def test_write_all_writes_what_render_all_returns(tmp_path: Path) -> None:
    paths = write_all(tmp_path)
    assert {path.name: path.read_text() for path in paths} == render_all()


def test_every_dashboard_imports_through_the_prometheus_input() -> None:
    for name, model in models().items():
        assert [(i["name"], i["type"], i["pluginId"]) for i in model["__inputs"]] == [
            ("DS_PROMETHEUS", "datasource", "prometheus")
        ], name
        for panel in panels(model):
            assert panel["datasource"] == DATASOURCE, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == DATASOURCE, (name, panel["title"])
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert len(set(ref_ids)) == len(ref_ids) and all(ref_ids), (name, panel["title"])
        for variable in model["templating"].get("list", []):
            if variable["type"] == "query":
                assert variable["datasource"] == DATASOURCE, (name, variable["name"])


def test_uids_are_stable_and_panels_are_numbered() -> None:
    loaded = models()
    assert {name: model["uid"] for name, model in loaded.items()} == UIDS
    for name, model in loaded.items():
        ids = [panel["id"] for panel in model["panels"]]
        assert len(set(ids)) == len(ids), name
        for panel in model["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])


def test_every_panel_has_a_unit_and_a_description() -> None:
    for name, model in models().items():
        for panel in panels(model):
            assert panel["fieldConfig"]["defaults"]["unit"], (name, panel["title"])
            assert panel["description"].strip(), (name, panel["title"])
        assert model["description"], name


def test_every_dashboard_links_to_all_the_others() -> None:
    loaded = models()
    for name, model in loaded.items():
        assert "thoth" in model["tags"], name
        reachable = {
            other["uid"]
            for link in model["links"]
            if link["type"] == "dashboards"
            for other in loaded.values()
            if set(link["tags"]) <= set(other["tags"])
        }
        assert reachable == set(UIDS.values()), name


def test_slo_dashboard_answers_the_weekly_e_mail_link() -> None:
    """The e-mail links to /d/thoth-slos/slos?var-slo=<slo id>: the variable must list every id
    and every SLO panel must filter by it."""
    model = models()["slos.json"]
    assert model["title"] == "SLOs"
    (variable,) = [v for v in model["templating"]["list"] if v["name"] == "slo"]
    assert variable["type"] == "custom"
    assert variable["query"].split(",") == [slo.id for slo in load_slos()]
    repeated = [panel for panel in model["panels"] if panel.get("repeat") == "slo"]
    assert len(repeated) == 1 and repeated[0]["type"] == "row"
    for panel in panels(model):
        for target in panel["targets"]:
            assert 'slo_id=~"$slo"' in target["expr"], panel["title"]


def test_panel_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule; no Grafana variable is left in them."""
    queries = panel_queries()
    assert {uid for uid, _, _ in queries} == set(UIDS.values())
    for uid, title, expr in queries:
        assert "$" not in expr, (uid, title, expr)
    rules = [
        {"record": f"dashboard_query_{number}", "expr": expr}
        for number, (_, _, expr) in enumerate(queries)
    ]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run .ci/system-deps"
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


async def test_every_panel_query_uses_only_metrics_the_stack_produces(
    seeded_url: str, s3_endpoint: str, make_database: MakeDatabase
) -> None:
    """Our exporters and rules, plus postgres_exporter's built-ins (pg_locks_count, ...) from
    the real binary scraping a real server, and the external names (Argo's)."""
    exposition, _ = scrape(make_database() + "?sslmode=disable")
    produced = await produced_metrics(seeded_url, s3_endpoint, make_database) | exposed(exposition)
    used = {
        (uid, title, name) for uid, title, expr in panel_queries() for name in metric_names(expr)
    }
    for model in models().values():
        for variable in model["templating"].get("list", []):
            if variable["type"] == "query":
                metric = re.fullmatch(r"label_values\((\w+), *\w+\)", variable["query"])
                assert metric, variable["query"]
                used.add((model["uid"], f"variable {variable['name']}", metric.group(1)))
    unknown = {entry for entry in used if entry[2] not in produced}
    assert {entry for entry in unknown if not entry[2].startswith(EXTERNAL_PREFIXES)} == set()


def test_kebechet_weekly_figures_on_a_week_of_gauges(tmp_path: Path) -> None:
    """promtool's PromQL engine evaluates the Kebechet panels over gauges that change once in
    the week before t=8d: update goes from 5 open, 10 merged, 2 rejected to 6, 14, 3 (6 opened,
    4 merged, 1 rejected), version from 1 open, 3 merged to 2 open (1 opened, nothing closed).
    Update's 4 merges took under a day (2) and under two days (2); 30 of 40 requests were 304.
    Two pods serve the same indicators: the figures are one store's, not twice as many."""
    before_after = {
        ("update", "open"): (5, 6), ("update", "merged"): (10, 14),
        ("update", "closed"): (2, 3), ("version", "open"): (1, 2),
        ("version", "merged"): (3, 3), ("version", "closed"): (0, 0),
    }  # fmt: skip
    series = [
        (f'thoth_kebechet_pull_requests{{manager="{m}", kind="k", state="{s}"}}', f"{a}x24 {b}x168")
        for (m, s), (a, b) in before_after.items()
    ]
    bucket = (
        'thoth_kebechet_pull_request_merge_duration_seconds_bucket{{manager="update", le="{}"}}'
    )
    under_two_days = {3600.0: (0, 0), 21600.0: (0, 0), 86400.0: (10, 12)}  # larger: (10, 14)
    for le in DURATION_BUCKETS:
        before, after = under_two_days.get(le, (10, 14))
        series.append((bucket.format(f"{le:.1f}"), f"{before}x24 {after}x168"))
    series.append((bucket.format("+Inf"), "10x24 14x168"))
    series = [
        (name.replace("{", f'{{instance="{pod}:9707", pod="{pod}", ', 1), values)
        for pod in ("rm-a", "rm-b")
        for name, values in series
    ]
    series += [
        ('thoth_repo_metrics_github_requests_total{operation="o", status="304"}', "0+30x192"),
        ('thoth_repo_metrics_github_requests_total{operation="o", status="200"}', "0+10x192"),
    ]
    queries: dict[str, list[str]] = {}
    for uid, title, expr in panel_queries():
        if uid == "thoth-kebechet":
            queries.setdefault(title, []).append(expr)
    update, version = '{manager="update"}', '{manager="version"}'
    expected: dict[tuple[str, int], list[tuple[str, float]]] = {
        ("Opened in 7 days", 0): [("{}", 7)],
        ("Merged in 7 days", 0): [("{}", 4)],
        ("Delivery ratio (7 days)", 0): [("{}", 0.8)],
        ("Opened per week", 0): [(update, 6), (version, 1)],
        ("Merged per week", 0): [(update, 4), (version, 0)],
        ("Rejected per week", 0): [(update, 1), (version, 0)],
        ("Delivery ratio per week", 0): [(update, 0.8)],  # version closed nothing: no point
        ("Open pull requests per manager", 0): [(update, 6), (version, 2)],
        ("Time to merge", 0): [(update, 86400)],  # median: the 2nd of 4, top of the 1d bucket
        ("Time to merge", 1): [(update, 155520)],  # p90: 1d + 1d * (3.6 - 2) / (4 - 2)
        ("Not modified (304) share", 0): [("{}", 0.75)],
    }
    test = {
        "rule_files": [],
        "evaluation_interval": "1h",
        "tests": [{
            "interval": "1h",
            "input_series": [{"series": name, "values": values} for name, values in series],
            "promql_expr_test": [
                {"expr": queries[title][number], "eval_time": "8d",
                 "exp_samples": [{"labels": labels, "value": value} for labels, value in samples]}
                for (title, number), samples in expected.items()
            ],
        }],
    }  # fmt: skip
    promtool_test(tmp_path / "kebechet.test.yaml", test)


def test_request_pipeline_panels_on_an_hour_of_kafka_and_argo(tmp_path: Path) -> None:
    """promtool's PromQL engine evaluates the Request pipeline panels over an hour: topic
    adviser's two partitions take 60 and 120 messages a minute (3/s); group investigator has
    50 messages waiting on topic solver and commits nothing (halted), 10 on adviser and
    commits every minute; adviser workflows took under 300 s (5 in 10), under 900 s (9 in
    10). While Kafka is unreachable the held values count no halted group, as in the alert."""
    group = 'consumergroup="investigator", topic="{}"'.format
    durations = 'argo_workflows_duration_seconds_histogram_bucket{{name="adviser", le="{}"}}'
    kafka = [
        ('kafka_topic_partition_current_offset{topic="adviser", partition="0"}', "0+60x60"),
        ('kafka_topic_partition_current_offset{topic="adviser", partition="1"}', "0+120x60"),
        (f"thoth_kafka_consumergroup_topic_lag{{{group('solver')}}}", "50x60"),
        (f"thoth_kafka_consumergroup_topic_current_offset{{{group('solver')}}}", "7x60"),
        (f"thoth_kafka_consumergroup_topic_lag{{{group('adviser')}}}", "10x60"),
        (f"thoth_kafka_consumergroup_topic_current_offset{{{group('adviser')}}}", "0+5x60"),
    ]
    argo = [(durations.format(le), f"0+{n}x60") for le, n in (("300", 5), ("900", 9), ("+Inf", 10))]
    queries: dict[str, list[str]] = {}
    for uid, title, expr in panel_queries():
        if uid == "thoth-request-pipeline":
            queries.setdefault(title, []).append(expr)
    adviser = '{name="adviser"}'
    expected: dict[tuple[str, int], list[tuple[str, float]]] = {
        ("Messages per topic", 0): [('{topic="adviser"}', 3)],
        ("Halted consumer groups", 0): [("{}", 1)],
        ("Workflow duration", 0): [(adviser, 300)],  # median: the 5th of 10, top of 300 s
        ("Workflow duration", 1): [(adviser, 900)],  # p90: the 9th, top of the 900 s bucket
    }

    def case(series: list[tuple[str, str]], exprs: list[dict[str, Any]]) -> dict[str, Any]:
        inputs = [{"series": name, "values": values} for name, values in series]
        return {"interval": "1m", "input_series": inputs, "promql_expr_test": exprs}

    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            case([*kafka, *argo, ("thoth_kafka_up", "1x60")], [
                {"expr": queries[title][number], "eval_time": "1h",
                 "exp_samples": [{"labels": labels, "value": value} for labels, value in samples]}
                for (title, number), samples in expected.items()
            ]),
            case([*kafka, ("thoth_kafka_up", "0x60")], [
                {"expr": queries["Halted consumer groups"][0], "eval_time": "1h",
                 "exp_samples": [{"labels": "{}", "value": 0}]}]),
        ],
    }  # fmt: skip
    promtool_test(tmp_path / "request-pipeline.test.yaml", test)


def promtool_test(path: Path, test: dict[str, Any]) -> None:
    """Write a ``promtool test rules`` file and run it."""
    path.write_text(yaml.safe_dump(test))
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run .ci/system-deps"
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
