"""`thoth-monitoring demo` end to end, as a newcomer runs it (from a fresh folder with the default
``--out``, with free ports and short timers): Prometheus loaded every rule group, every printed
URL answers, the scripted fault becomes a GitHub issue that is closed once the fault is over,
the report is written and mailed, every dashboard query parses and (but for a few that have
nothing to show in a fresh demo) returns data, and Ctrl-C leaves no process and no port behind.
A demo whose rules did not load says so, stops everything and exits 1."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path
from typing import IO, Any

import yaml

from dashboards.build import panel_queries
from exporters.demo.stack import rule_files
from tests.exporters.test_cli import COMMAND
from tests.screenshots import keep_for_readme, screenshot

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
}


def assert_dashboard_queries_answer(prometheus: str) -> None:
    """Every query parses; every panel shows something (one of its queries returns data)."""
    answered: dict[tuple[str, str], bool] = {}
    for uid, title, expr in panel_queries():
        url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        answer = json.loads(get(url))  # a query that does not parse answers 400
        answered[(uid, title)] = answered.get((uid, title), False) or bool(answer["data"]["result"])
    empty = [f"{uid}: {title}" for (uid, title), shown in answered.items() if not shown]
    unexpected = [panel for panel in empty if panel.split(": ", 1)[1] not in MAY_BE_EMPTY]
    assert unexpected == [], unexpected


def rule_groups() -> int:
    """The rule groups in the rule files we ship."""
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


# The old mistake brought back: rule files named relative to the working directory, which
# Prometheus resolves against its configuration's folder, so that they match nothing.
RELATIVE_RULES = """
import sys
from pathlib import Path
from exporters.cli import main
from exporters.demo import stack
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


def test_demo_comes_up_files_an_issue_mails_the_report_and_stops_cleanly(tmp_path: Path) -> None:
    folder, log_path = tmp_path / "user", tmp_path / "demo.log"
    folder.mkdir()
    out = folder / "demo-out"
    log = log_path.open("wb")
    process = start_demo(COMMAND, folder, log)
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

        # the report, written and mailed (html + text + inline charts)
        assert "Thoth SLO report" in (out / "report.html").read_text()
        stored = json.loads(next(out.glob("slo-reports/*/report.json")).read_text())
        statuses = {(row["slo"], row["group"]): row["status"] for row in stored["slos"]}
        assert statuses[("workflows-success", "kebechet")] == "breached"  # the demo's story
        assert statuses[("workflows-latency", "solver")] == "breached"
        assert statuses[("user-api-availability", "")] == "at_risk"
        assert statuses[("metrics-exporter-freshness", "")] == "met"
        assert stored["adviser"]["runs"] > 0
        mails = sorted((out / "mail").glob("*.eml"))
        assert len(mails) == 1
        mail = message_from_bytes(mails[0].read_bytes(), policy=policy.default)
        assert mail["Subject"].startswith("Thoth SLO report ")
        assert {p.get_content_type() for p in mail.walk()} >= {"text/plain", "text/html",
                                                               "image/png"}  # fmt: skip

        # the scripted fault becomes an issue, closed when the graph-exporter is back
        github = urls["GitHub stand-in (issues)"]

        def fault_issue_state() -> str | None:
            issues = json.loads(get(github + "/issues.json"))
            states = [i["state"] for repo in issues.values() for i in repo
                      if "ThothGraphExporterDown" in i["title"]]  # fmt: skip
            return states[0] if states else None

        wait_for(fault_issue_state, 150, "the ThothGraphExporterDown issue")
        assert b"ThothGraphExporterDown" in get(github)
        keep_for_readme(screenshot(github, tmp_path / "issues.png", 1000), "github-issues.png")
        keep_for_readme(screenshot((out / "report.html").as_uri(), tmp_path / "report.png"),
                        "slo-report.png")  # fmt: skip
        wait_for(lambda: fault_issue_state() == "closed", 150, "the issue to be closed")
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
