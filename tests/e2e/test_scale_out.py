"""Receivers scaled out as on Kubernetes: THREE ``thoth-monitoring alert-receiver`` processes
sharing their state in PostgreSQL (``--state-url``), behind a round-robin proxy standing in for
the Service, fed by TWO real unclustered Alertmanagers (each sends every group), writing to the
GitHub stand-in while it applies some creates and a close and then answers 502. Every group ends
with exactly one open issue while firing (any extra closed as a duplicate) and none after
resolution."""

import asyncio
import itertools
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from tests.e2e.test_alerts import COMMAND, REPO, binary, wait_until
from thoth_monitoring.demo.github_standin import Fault, GitHubStandIn
from thoth_monitoring.demo.processes import free_port, stop, wait_for_http
from thoth_monitoring.demo.stack import alertmanager_config

RECEIVERS = 3
ALERTMANAGERS = ("am0", "am1")
GROUPS = 8
CREATE = "POST /repos/{owner}/{repo}/issues"


@dataclass
class RoundRobin:
    """The Kubernetes Service in front of the receivers: each request to the next one."""

    targets: list[str]
    forwarded: Counter[str] = field(default_factory=Counter)

    def app(self, session: aiohttp.ClientSession) -> web.Application:
        turn = itertools.cycle(self.targets)

        async def forward(request: web.Request) -> web.Response:
            target = next(turn)
            self.forwarded[target] += 1
            headers = {k: v for k, v in request.headers.items() if k in ("Authorization",)}
            async with session.post(
                f"{target}/alerts", data=await request.read(),
                headers=headers | {"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as answer:  # fmt: skip
                return web.Response(body=await answer.read(), status=answer.status,
                                    content_type="application/json")  # fmt: skip

        app = web.Application()
        app.router.add_post("/alerts", forward)
        return app


@dataclass
class Cluster:
    github: GitHubStandIn
    proxy: RoundRobin
    alertmanagers: list[str]
    session: aiohttp.ClientSession

    async def alert(self, groups: int, resolved: bool = False) -> None:
        """Every alert to every Alertmanager, as each Prometheus of a pair sends it."""
        starts = datetime(2026, 12, 1, tzinfo=UTC)
        ends = datetime.now(UTC) + (timedelta(0) if resolved else timedelta(hours=1))
        alerts = [{
            "labels": {"alertname": "ThothScaleOut", "task": f"t{n}", "severity": "warning",
                       "repo": REPO},
            "annotations": {"summary": f"Scale-out test task t{n}."},
            "startsAt": starts.isoformat(), "endsAt": ends.isoformat(),
        } for n in range(groups)]  # fmt: skip
        for url in self.alertmanagers:
            async with self.session.post(f"{url}/api/v2/alerts", json=alerts) as answer:
                assert answer.status == 200, await answer.text()


def _alertmanagers(tmp_path: Path, url: str, ports: list[int]) -> list[subprocess.Popen[bytes]]:
    """Unclustered Alertmanagers sending to ``url`` with short timers (as in test_alerts)."""
    log = (tmp_path / "alertmanagers.log").open("wb")
    processes = []
    for name, port in zip(ALERTMANAGERS, ports, strict=True):
        config = alertmanager_config(
            url, tmp_path / "webhook-token", tmp_path / f"{name}.yml",
            {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"},
        )  # fmt: skip
        processes.append(subprocess.Popen(
            [binary("prometheus-alertmanager"), f"--config.file={config}",
             f"--storage.path={tmp_path / name}", "--cluster.listen-address=",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log,
        ))  # fmt: skip
    log.close()  # the processes hold their own descriptors
    return processes


def _started(
    tmp_path: Path, state_url: str, github_port: int, token: str
) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    """The receivers, sharing ``state_url`` (given through ``${STATE_URL}`` as on a pod)."""
    token_file = tmp_path / "webhook-token"
    token_file.write_text("e2e-secret\n")
    log = (tmp_path / "processes.log").open("wb")
    processes, urls = [], []
    for n in range(RECEIVERS):
        port = free_port()
        config = tmp_path / f"receiver-{n}.yaml"
        config.write_text(yaml.safe_dump({
            "listen": f"127.0.0.1:{port}", "default_repo": REPO,
            "github_url": f"http://127.0.0.1:{github_port}", "bearer_token_file": str(token_file),
            "write_spacing": 0.05, "github_max_retries": 0, "state_url": "${STATE_URL}",
            "replica": f"receiver-{n}",
        }))  # fmt: skip
        env = {**os.environ, "GITHUB_TOKEN": token, "STATE_URL": state_url}
        command = [COMMAND, "alert-receiver", "--config", str(config)]
        processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
        urls.append(f"http://127.0.0.1:{port}")
    log.close()  # the processes hold their own descriptors
    return processes, urls


@pytest.fixture
async def cluster(tmp_path: Path, make_database: Callable[[], str]) -> AsyncIterator[Cluster]:
    github = GitHubStandIn()
    runners = [web.AppRunner(github.app())]
    await runners[0].setup()
    github_port = free_port()
    await web.TCPSite(runners[0], "127.0.0.1", github_port).start()
    processes, receivers = _started(tmp_path, make_database(), github_port, github.token)
    async with aiohttp.ClientSession() as session:
        proxy = RoundRobin(receivers)
        runners.append(web.AppRunner(proxy.app(session)))
        await runners[1].setup()
        proxy_port = free_port()
        await web.TCPSite(runners[1], "127.0.0.1", proxy_port).start()
        am_ports = [free_port() for _ in ALERTMANAGERS]
        processes += _alertmanagers(tmp_path, f"http://127.0.0.1:{proxy_port}/alerts", am_ports)
        try:
            checks = [f"{url}/readyz" for url in receivers]
            checks += [f"http://127.0.0.1:{port}/-/ready" for port in am_ports]
            for url, process in zip(checks, processes, strict=True):
                await asyncio.to_thread(wait_for_http, url, 60, process)
            yield Cluster(github, proxy, [f"http://127.0.0.1:{port}" for port in am_ports], session)
        finally:
            for process in processes:
                stop(process)
            for runner in runners:
                await runner.cleanup()


async def test_three_receivers_behind_two_alertmanagers_keep_one_issue_per_group(
    cluster: Cluster,
) -> None:
    github = cluster.github
    # The first writes are the creates: two of them are applied, then answered 502.
    github.faults += [Fault(502, applied=True, path="/issues") for _ in range(2)]
    started = time.monotonic()
    await cluster.alert(GROUPS)
    await wait_until(lambda: len(_open_keys(github)) == GROUPS, 40, "an issue for every group")
    await asyncio.sleep(4)  # the other Alertmanager's deliveries, retries, reconciliation
    issues = github.issues[REPO]
    keys = Counter(_key(issue) for issue in github.open_issues())
    left_open = sum(n - 1 for n in keys.values())
    assert len(keys) == GROUPS and left_open == 0, keys  # one open issue per group
    extras = [i for i in issues if i["state"] == "closed"]
    assert all(i["state_reason"] == "not_planned" for i in extras)
    assert all(github.comments[(REPO, i["number"])][0].startswith("Duplicate of #") for i in extras)
    assert github.faults == []  # both applied-then-502 faults were hit
    github.faults.append(Fault(502, applied=True, path="/issues/"))  # and on a close
    await cluster.alert(GROUPS, resolved=True)
    await wait_until(lambda: not github.open_issues(), 40, "every issue closed")
    await asyncio.sleep(3)  # late deliveries change nothing
    kept = [i for i in github.issues[REPO] if i not in extras]
    assert github.open_issues() == [] and len(kept) == GROUPS
    assert all(i["state_reason"] == "completed" for i in kept)
    resolved = [github.comments[(REPO, i["number"])] for i in kept]
    assert all(sum(c.startswith("Resolved at ") for c in cs) == 1 for cs in resolved)
    assert len(cluster.proxy.forwarded) == RECEIVERS  # every receiver took notifications
    numbers = _numbers(github, len(extras), left_open, time.monotonic() - started)
    print("\nscale-out:", json.dumps(numbers))


def _numbers(
    github: GitHubStandIn, duplicates: int, left_open: int, seconds: float
) -> dict[str, Any]:
    requests = sum(github.requests.values())
    writes = sum(n for name, n in github.requests.items() if not name.startswith("GET "))
    return {
        "receivers": RECEIVERS, "alertmanagers": len(ALERTMANAGERS), "groups": GROUPS,
        "issues_created": len(github.issues[REPO]), "create_requests": github.requests[CREATE],
        "duplicates_closed": duplicates, "duplicates_left_open": left_open,
        "requests_per_group": round(requests / GROUPS, 2),
        "writes_per_group": round(writes / GROUPS, 2), "seconds": round(seconds, 1),
        "requests": dict(sorted(github.requests.items())),
    }  # fmt: skip


def _open_keys(github: GitHubStandIn) -> set[str | None]:
    return {_key(issue) for issue in github.open_issues()}


def _key(issue: dict[str, Any]) -> str | None:
    marker = "<!-- thoth-alert-key: "
    body: str = issue["body"]
    return body.split(marker, 1)[1].split(" ", 1)[0] if marker in body else None
