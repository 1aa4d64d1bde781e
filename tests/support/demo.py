"""Starting, watching and stopping ``thoth-monitoring demo`` (the demo and wheel tests)."""

import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

import yaml

from thoth_monitoring.dashboards.build import panel_queries
from thoth_monitoring.demo.stack import rule_files

# Short timers; the output goes to the default ``demo-out`` in the working directory.
DEMO_FLAGS = ["--random-ports", "--scrape-interval", "2s", "--alert-for", "5s",
              "--fault-after", "2"]  # fmt: skip


def get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            body: bytes = answer.read()
            return body
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{url} answered {error.code}") from None


def wait_for(condition: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {seconds:g}s waiting for {what}")


# Panels with nothing to show in a fresh demo, and why.
MAY_BE_EMPTY = {
    "Slowest statements": "the embedded PostgreSQL has no pg_stat_statements",
    "Replica replay lag": "the demo database has no standby",
    "Replica replay lag in bytes": "the demo database has no standby",
    "GitHub errors": "the GitHub stand-in answers every request",
    "Corrupted indexes": "no index is corrupted",
    "Relations without a bloat estimate": "every relation has one",
    "Unanalysed backlog change per hour": "a delta of a metric collected every 5 min: needs two",
    "Error budget remaining": "averages the 1h recording rule over 5-minute steps: needs minutes",
    "Error budget remaining per SLO": "as above",
    "Delivery ratio (7 days)": "nothing of Kebechet's closed since the demo started: no ratio",
    "Delivery ratio per week": "as above",
    "Workflows by phase": "no Argo controller in the demo: only the workflows' own metrics",
}


def assert_dashboard_queries_answer(prometheus: str) -> None:
    """Every query parses; every panel shows something (one of its queries returns data).

    Waits until every rule group has been evaluated once first: Prometheus starts a group at
    an offset within its interval that depends on the rule file's path, so a 1m group of
    recording rules may first run a minute after start."""
    wait_for(lambda: all_rule_groups_evaluated(prometheus), 90, "every rule group to run once")
    answered: dict[tuple[str, str], bool] = {}
    for uid, title, expr in panel_queries():
        url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        answer = json.loads(get(url))  # a query that does not parse answers 400
        answered[(uid, title)] = answered.get((uid, title), False) or bool(answer["data"]["result"])
    empty = [f"{uid}: {title}" for (uid, title), shown in answered.items() if not shown]
    unexpected = [panel for panel in empty if panel.split(": ", 1)[1] not in MAY_BE_EMPTY]
    assert unexpected == [], unexpected


def all_rule_groups_evaluated(prometheus: str) -> bool:
    groups = json.loads(get(f"{prometheus}/api/v1/rules"))["data"]["groups"]
    return all(not group["lastEvaluation"].startswith("0001-") for group in groups)


def rule_groups() -> int:
    """The rule groups in the rule files we ship."""
    assert rule_files(), "no rule files"
    return sum(len(yaml.safe_load(path.read_text())["groups"]) for path in rule_files())


def assert_rules_loaded(prometheus: str) -> None:
    loaded = json.loads(get(f"{prometheus}/api/v1/rules"))["data"]["groups"]
    assert len(loaded) == rule_groups() > 0, [group["file"] for group in loaded]


def start_demo(
    command: str, folder: Path, log: IO[bytes], env: dict[str, str] | None = None
) -> "subprocess.Popen[bytes]":
    """The demo run as a user does: from ``folder``, output in its default ``demo-out``."""
    return subprocess.Popen([command, "demo", *DEMO_FLAGS], cwd=folder, env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def wait_for_urls(process: "subprocess.Popen[bytes]", out: Path, log: Path) -> dict[str, str]:
    """The table of URLs the demo printed (it writes it to urls.json too)."""
    wait_for(lambda: (out / "urls.json").exists() or process.poll() is not None, 120,
             "the table of URLs")  # fmt: skip
    assert process.poll() is None, log.read_text()
    urls: dict[str, str] = json.loads((out / "urls.json").read_text())
    return urls


def interrupt(process: "subprocess.Popen[bytes]") -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=90)


def assert_stopped_cleanly(process: "subprocess.Popen[bytes]", log: Path) -> None:
    """After Ctrl-C: everything the demo started is stopped and no port is left open."""
    output = log.read_text()
    assert process.returncode == 0, output
    assert "stopped everything; no ports left" in output, output
