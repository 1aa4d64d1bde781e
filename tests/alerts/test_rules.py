"""The alert rules and the Alertmanager configuration: promtool and amtool are clean, every
alert has a promtool test case (silent and firing), a runbook section, and uses only metrics
that something in this stack really produces."""

import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.postgres import MakeDatabase
from tests.support.produced import (
    EXTERNAL_PREFIXES,
    RULE_FILES,
    metric_names,
    produced_metrics,
    rules,
)
from tests.support.repository import REPOSITORY
from thoth_monitoring.slo_reporter.definitions import load_slos
from thoth_monitoring.slo_reporter.rules import render

ALERTS = REPOSITORY / "thoth_monitoring" / "alerts"
TEST_FILES = sorted((ALERTS / "tests").glob("*.test.yaml"))


def run(*command: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which(command[0])
    assert binary, f"{command[0]} missing: run .ci/system-deps"
    return subprocess.run(
        [binary, *command[1:]], capture_output=True, text=True, timeout=120, cwd=ALERTS
    )


def test_promtool_check_rules_is_clean() -> None:
    assert RULE_FILES, "no rule files"
    result = run("promtool", "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.e2e  # promtool evaluates every rule test
def test_promtool_rule_tests_pass() -> None:
    result = run("promtool", "test", "rules", *map(str, TEST_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_silent_and_a_firing_test_case() -> None:
    silent: set[str] = set()
    firing: set[str] = set()
    assert TEST_FILES, "no promtool test files"
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


async def test_every_metric_a_rule_uses_is_produced_by_the_stack(
    seeded_url: str, s3_endpoint: str, make_database: MakeDatabase
) -> None:
    produced = await produced_metrics(seeded_url, s3_endpoint, make_database)
    used = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert {name for name in used - produced if not name.startswith(EXTERNAL_PREFIXES)} == set()


def test_metric_name_extraction() -> None:
    assert metric_names(
        'time() - a_seconds{task="x"} > 3 * 3600 or b_ratio > 0.5 and on (db, t) c_bytes > 1e9'
    ) == {"a_seconds", "b_ratio", "c_bytes"}
    assert metric_names("sum by (job) (delta(d_total[1h]))") == {"d_total"}
    assert metric_names("x > 1e9 and y < 2.5E-3") == {"x", "y"}
    assert metric_names("min_over_time(e[2h]) - min_over_time(e[2h] offset 2h)") == {"e"}


def test_generated_slo_rules_are_current() -> None:
    assert render(load_slos()) == (ALERTS / "rules" / "slo.yaml").read_text(), (
        "thoth_monitoring/alerts/rules/slo.yaml is stale: run `thoth-monitoring slo-report rules`"
    )
