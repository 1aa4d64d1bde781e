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
from tests.support.produced import exposed, metric_names, produced_metrics
from tests.support.repository import REPOSITORY
from thoth_monitoring.dashboards.build import panel_queries, render_all, write_all
from thoth_monitoring.slo_reporter.definitions import load_slos

UIDS = {
    "knowledge-graph.json": "thoth-knowledge-graph",
    "database-health.json": "thoth-database-health",
    "slos.json": "thoth-slos",
    "stack-health.json": "thoth-stack-health",
    "kebechet.json": "thoth-kebechet",
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
    the real binary scraping a real server."""
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
    assert {entry for entry in used if entry[2] not in produced} == set()
