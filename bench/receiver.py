"""bench/receiver: the alert receiver against the GitHub stand-in, over real HTTP.

2 000 alerts in 200 groups, each group delivered three times (as an HA pair of Alertmanagers
does, concurrently), then 100 groups resolved. Reports GitHub requests by kind (target: 200
creates, 100 comments, 100 closes, the start-up listing pages, no searches, no duplicates) and
the wall time with write spacing 0; then the observed spacing between writes with the default
setting (1 s) on a smaller run.

Run with ``python -m bench.receiver`` (``make bench`` runs it).
Results: bench/results/receiver.json.
"""

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web

from alerts.github import GitHubClient
from alerts.github_standin import GitHubStandIn
from alerts.receiver import Receiver, ReceiverMetrics, ReceiverSettings, make_app
from alerts.render import Renderer
from bench.common import free_port, print_table, write_result

REPO = "thoth-station/thoth-application"
TOKEN = "bench"


def notification(group: int, alerts: int, status: str) -> dict[str, Any]:
    common = {"alertname": f"ThothBench{group}", "severity": "warning", "repo": REPO}
    return {
        "version": "4", "groupKey": f'{{}}:{{alertname="ThothBench{group}"}}', "status": status,
        "receiver": "github-issues", "groupLabels": {"alertname": common["alertname"]},
        "commonLabels": common, "commonAnnotations": {"summary": f"Benchmark group {group}."},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": status, "labels": common | {"instance": f"host-{n}:9100"},
            "annotations": {"summary": f"Benchmark group {group}.", "description": f"alert {n}"},
            "startsAt": "2026-11-25T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
        } for n in range(alerts)],
    }  # fmt: skip


async def run(groups: int, alerts: int, resolved: int, spacing: float) -> dict[str, Any]:
    github = GitHubStandIn()
    github_runner = web.AppRunner(github.app())
    await github_runner.setup()
    github_port = free_port()
    await web.TCPSite(github_runner, "127.0.0.1", github_port).start()
    settings = ReceiverSettings(
        default_repo=REPO, bearer_token=TOKEN, write_spacing=spacing, listen="127.0.0.1:0"
    )
    async with aiohttp.ClientSession() as session:
        tracker = GitHubClient(
            session, f"http://127.0.0.1:{github_port}", github.token, write_spacing=spacing
        )
        receiver = Receiver(settings, tracker, Renderer(), ReceiverMetrics())
        receiver_runner = web.AppRunner(make_app(settings, receiver))
        await receiver_runner.setup()
        receiver_port = free_port()
        await web.TCPSite(receiver_runner, "127.0.0.1", receiver_port).start()
        started = time.perf_counter()
        await receiver.warm()
        url = f"http://127.0.0.1:{receiver_port}/alerts"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        statuses: Counter[int] = Counter()

        async def send(body: dict[str, Any]) -> None:
            async with session.post(url, data=json.dumps(body), headers=headers) as response:
                statuses[response.status] += 1

        firing = [notification(g, alerts, "firing") for g in range(groups)]
        await asyncio.gather(*(send(body) for body in firing for _ in range(3)))
        await asyncio.gather(*(send(notification(g, alerts, "resolved")) for g in range(resolved)))
        seconds = time.perf_counter() - started
        await receiver_runner.cleanup()
    await github_runner.cleanup()
    issues = github.issues.get(REPO, [])
    gaps = [b - a for a, b in zip(github.write_times, github.write_times[1:], strict=False)]
    return {
        "groups": groups, "alerts": groups * alerts, "deliveries": groups * 3 + resolved,
        "webhook_statuses": dict(statuses), "seconds": seconds,
        "requests": dict(github.requests),
        "issues": len(issues),
        "duplicates": len(issues) - len({i["title"] for i in issues}),
        "closed": sum(i["state"] == "closed" for i in issues),
        "min_write_spacing": min(gaps, default=0.0),
        "mean_write_spacing": sum(gaps) / len(gaps) if gaps else 0.0,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.receiver", description=__doc__)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--alerts-per-group", type=int, default=10)
    parser.add_argument("--resolved", type=int, default=100)
    parser.add_argument("--spacing-groups", type=int, default=10, help="groups in the 1 s run")
    args = parser.parse_args(argv)
    fast = asyncio.run(run(args.groups, args.alerts_per_group, args.resolved, 0.0))
    spaced = asyncio.run(run(args.spacing_groups, 2, args.spacing_groups // 2, 1.0))
    result = {"spacing_0": fast, "spacing_default": spaced}
    print_table(
        f"{fast['alerts']:,} alerts in {fast['groups']} groups, each delivered 3 times, then "
        f"{args.resolved} resolved: {fast['seconds']:.2f} s with write spacing 0",
        ["GitHub request", "count"],
        sorted(fast["requests"].items()),
    )
    print(
        f"  issues {fast['issues']}, duplicates {fast['duplicates']}, closed {fast['closed']}, "
        f"webhook answers {fast['webhook_statuses']}"
    )
    print(
        f"\nwith the default 1 s spacing ({spaced['groups']} groups): writes at least "
        f"{spaced['min_write_spacing']:.3f} s apart (mean {spaced['mean_write_spacing']:.3f} s)"
    )
    print(f"\nwritten to {write_result('receiver', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
