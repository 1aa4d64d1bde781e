"""The whole alert path on the real Debian binaries: Prometheus with our stack rules scraping a
target that goes down → Alertmanager with our configuration → alert-receiver (the real command)
→ the GitHub stand-in. Only the `for:` durations and Alertmanager's timers are shortened. Then
the standard HA pair: two unclustered Alertmanagers both sending every group, while GitHub
fails some writes before or after applying them."""

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
import yaml
from aiohttp import web

from tests.support.repository import REPOSITORY
from thoth_monitoring.demo.github_standin import Fault, GitHubStandIn
from thoth_monitoring.demo.processes import free_port, stop, wait_for_http
from thoth_monitoring.demo.stack import alertmanager_config, shortened_rules

COMMAND = str(Path(sys.executable).with_name("thoth-monitoring"))
REPO = "thoth-station/thoth-application"


@dataclass
class Target:
    """A scrape target that can go down and come back (an HTTP server on a fixed port)."""

    port: int
    text: str = "thoth_metrics_exporter_database_up 1\n"
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def metrics(request: web.Request) -> web.Response:
            return web.Response(text=self.text)

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()
        self.runner = None


@dataclass
class Stack:
    github: GitHubStandIn
    target: Target
    processes: list[subprocess.Popen[bytes]]
    ports: dict[str, int]


def binary(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} missing: run .ci/system-deps"
    return found


def launch(
    commands: list[tuple[list[str], dict[str, str] | None]], log: IO[bytes]
) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen(command, env=env, stdout=log, stderr=log) for command, env in commands]


async def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def alert_path(
    tmp_path: Path, rule_file: Path, target: Target, alertmanagers: list[str], write_spacing: float
) -> AsyncIterator[Stack]:
    """Prometheus (evaluating ``rule_file``, scraping ``target``) → the named unclustered
    Alertmanagers → the real ``alert-receiver`` command → a GitHub stand-in."""
    github = GitHubStandIn()
    github_runner = web.AppRunner(github.app())
    await github_runner.setup()
    github_port = free_port()
    await web.TCPSite(github_runner, "127.0.0.1", github_port).start()
    await target.start()
    ports = {name: free_port() for name in ("receiver", *alertmanagers, "prometheus")}
    token_file = tmp_path / "webhook-token"
    token_file.write_text("e2e-secret\n")
    (tmp_path / "receiver.yaml").write_text(yaml.safe_dump({
        "listen": f"127.0.0.1:{ports['receiver']}", "default_repo": REPO,
        "github_url": f"http://127.0.0.1:{github_port}", "bearer_token_file": str(token_file),
        "write_spacing": write_spacing, "github_max_retries": 0,
        "data_dir": str(tmp_path / "receiver"),
    }))  # fmt: skip
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rule_file)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [
            f"127.0.0.1:{ports[name]}" for name in alertmanagers]}]}]},
        "scrape_configs": [{"job_name": "thoth-metrics-exporter",
                            "static_configs": [{"targets": [f"127.0.0.1:{target.port}"]}]}],
    }))  # fmt: skip
    am_config = alertmanager_config(
        f"http://127.0.0.1:{ports['receiver']}/alerts", token_file, tmp_path / "alertmanager.yml",
        {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"},
    )  # fmt: skip
    log = (tmp_path / "processes.log").open("wb")
    processes = launch(
        [
            ([COMMAND, "alert-receiver", "--config", str(tmp_path / "receiver.yaml")],
             {**os.environ, "GITHUB_TOKEN": github.token}),
            *(([binary("prometheus-alertmanager"), f"--config.file={am_config}",
                f"--storage.path={tmp_path / name}", "--cluster.listen-address=",
                f"--web.listen-address=127.0.0.1:{ports[name]}"], None)
              for name in alertmanagers),
            ([binary("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
              f"--storage.tsdb.path={tmp_path / 'prom'}",
              f"--web.listen-address=127.0.0.1:{ports['prometheus']}"], None),
        ],
        log,
    )  # fmt: skip
    try:
        ready = {"receiver": "/readyz", "prometheus": "/-/ready"}
        for name in ports:
            await asyncio.to_thread(
                wait_for_http, f"http://127.0.0.1:{ports[name]}{ready.get(name, '/-/ready')}",
                60, processes[0],
            )  # fmt: skip
        yield Stack(github, target, processes, ports)
    finally:
        for process in processes:
            stop(process)
        if target.runner is not None:
            await target.stop()
        await github_runner.cleanup()
        log.close()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    stack_rules = REPOSITORY / "thoth_monitoring" / "alerts" / "rules" / "stack.yaml"
    rules = shortened_rules(stack_rules, tmp_path, "3s")
    async with alert_path(tmp_path, rules, Target(free_port()), ["alertmanager"], 0.1) as stack:
        yield stack


async def test_target_down_opens_one_issue_and_recovery_closes_it(stack: Stack) -> None:
    await asyncio.sleep(3)  # a few good scrapes first
    await stack.target.stop()
    await wait_until(lambda: len(stack.github.open_issues()) == 1, 90, "the issue to open")
    issue = stack.github.open_issues()[0]
    assert issue["title"].startswith("[CRITICAL] ThothMetricsExporterDown")
    await stack.target.start()
    await wait_until(
        lambda: not stack.github.open_issues() and (REPO, 1) in stack.github.comments, 90,
        "the issue to close with a comment",
    )  # fmt: skip
    closed = stack.github.issues[REPO]
    assert len(closed) == 1
    assert closed[0]["state_reason"] == "completed"
    assert stack.github.comments[(REPO, 1)][0].startswith("Resolved at ")


async def test_github_failures_are_retried_and_the_group_filed_once(stack: Stack) -> None:
    stack.github.faults += [Fault(502) for _ in range(3)]
    await stack.target.stop()
    await wait_until(lambda: len(stack.github.open_issues()) == 1, 120, "the issue to open")
    await asyncio.sleep(5)  # later deliveries of the same group must not file another
    assert len(stack.github.issues[REPO]) == 1
    assert stack.github.faults == []


GROUPS = 20
HA_RULES = {"groups": [{"name": "ha", "rules": [{
    "alert": "ThothTestFault", "expr": "thoth_test_fault == 1",
    "labels": {"severity": "warning", "repo": REPO},
    "annotations": {"summary": "Test fault of {{ $labels.task }}."},
}]}]}  # fmt: skip


def faults_of(groups: int, value: int) -> str:
    """One series per task: the Alertmanager configuration groups by ``task``."""
    return "".join(f'thoth_test_fault{{task="t{n}"}} {value}\n' for n in range(groups))


@pytest.fixture
async def ha_pair(tmp_path: Path) -> AsyncIterator[Stack]:
    """Prometheus → two unclustered Alertmanagers → one receiver."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(HA_RULES))
    target = Target(free_port(), faults_of(GROUPS, 0))
    async with alert_path(tmp_path, tmp_path / "rules.yaml", target, ["am0", "am1"], 0.2) as pair:
        yield pair


async def test_an_ha_pair_gets_one_issue_per_group_and_every_issue_closed(ha_pair: Stack) -> None:
    github = ha_pair.github
    injected = [Fault(502, applied=True), Fault(502), Fault(502, applied=True, html=True)] * 3
    pending = list(injected)

    async def fail_some_writes() -> None:
        """One write in five fails, before or after GitHub applied it."""
        next_fault = 0
        while pending:
            if not github.faults and len(github.write_times) >= next_fault:
                github.faults.append(pending.pop())
                next_fault = len(github.write_times) + 4
            await asyncio.sleep(0.05)

    failing = asyncio.create_task(fail_some_writes())
    ha_pair.target.text = faults_of(GROUPS, 1)
    await wait_until(lambda: len(github.open_issues()) == GROUPS, 90, "every group's issue")
    ha_pair.target.text = faults_of(GROUPS, 0)
    await wait_until(
        lambda: not github.open_issues() and len(github.comments) == GROUPS, 90,
        "every issue closed with its comment",
    )  # fmt: skip
    await asyncio.sleep(3)  # late deliveries from either Alertmanager change nothing
    failing.cancel()
    issues = github.issues[REPO]
    assert len(issues) == GROUPS  # none doubled
    assert all(len(github.comments[(REPO, issue["number"])]) == 1 for issue in issues)
    patches = github.requests["PATCH /repos/{owner}/{repo}/issues/{number}"]
    assert patches <= GROUPS + len(injected)  # the closes (and a repeat after a fault): no edits
    for name in ("am0", "am1"):
        failed = await asyncio.to_thread(_failed_notifications, ha_pair.ports[name])
        assert failed == 0, f"{name}: the receiver did not accept every notification at once"


def _failed_notifications(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("alertmanager_notifications_failed_total")
        and 'integration="webhook"' in line
    )
