"""bench/receiver: the alert receiver against the GitHub stand-in, over real HTTP.

1. 2 000 alerts in 200 groups, each group delivered three times (as an HA pair of
   Alertmanagers does, concurrently), then 100 groups resolved. Reports GitHub requests by kind
   (target: 200 creates, 100 closes, 100 comments, 100 comment listings, the start-up listing
   pages, no searches, no duplicates) and the wall time with write spacing 0; then the observed
   spacing between writes with the default setting (1 s) on a smaller run.
2. A burst of 200 new groups sent at once to the real command (a subprocess) with write spacing
   0.1 s: the time from the burst to the last issue created, and the webhook's answer latency
   (what Alertmanager waits for). With ``--before DIR`` (a tree of an older version, e.g.
   ``git archive 2dc60da | tar -x -C DIR``) the same burst is measured on that code too.

Run with ``python -m bench.receiver`` (``make bench`` runs it).
Results: bench/results/receiver.json.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from bench.common import free_port, percentile, print_table, stop, wait_for_http, write_result
from thoth_monitoring.alert_receiver.github import GitHubIssues
from thoth_monitoring.alert_receiver.receiver import (
    Receiver,
    ReceiverMetrics,
    ReceiverSettings,
    make_app,
)
from thoth_monitoring.alert_receiver.render import Renderer
from thoth_monitoring.alert_receiver.store import GroupStore
from thoth_monitoring.demo.github_standin import GitHubStandIn

CODE = Path(__file__).resolve().parents[1]

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
    with tempfile.TemporaryDirectory() as folder:
        store = GroupStore(Path(folder) / "state.sqlite3")
        await store.open(time.time())
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            tracker = GitHubIssues(
                session, f"http://127.0.0.1:{github_port}", github.token, write_spacing=spacing
            )
            receiver = Receiver(settings, tracker, Renderer(), ReceiverMetrics(), store)
            receiver_runner = web.AppRunner(make_app(settings, receiver))
            await receiver_runner.setup()
            receiver_port = free_port()
            await web.TCPSite(receiver_runner, "127.0.0.1", receiver_port).start()
            started = time.perf_counter()
            worker = asyncio.create_task(receiver.run())
            url = f"http://127.0.0.1:{receiver_port}/alerts"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            statuses: Counter[int] = Counter()

            async def send(body: dict[str, Any]) -> None:
                async with session.post(url, data=json.dumps(body), headers=headers) as response:
                    statuses[response.status] += 1

            async def settle() -> None:
                while True:
                    if receiver.ready and not (await store.backlog()).size:
                        return
                    await asyncio.sleep(0.01)

            firing = [notification(g, alerts, "firing") for g in range(groups)]
            await asyncio.gather(*(send(body) for body in firing for _ in range(3)))
            await settle()  # else a resolution supersedes its group's queued first notification
            await asyncio.gather(
                *(send(notification(g, alerts, "resolved")) for g in range(resolved))
            )
            await settle()
            seconds = time.perf_counter() - started
            worker.cancel()
            await receiver_runner.cleanup()
        await store.close()
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


async def burst(code: Path, groups: int, spacing: float) -> dict[str, Any]:
    """``groups`` new groups at once to the command run from the tree ``code``."""
    github = GitHubStandIn()
    github_runner = web.AppRunner(github.app())
    await github_runner.setup()
    github_port = free_port()
    await web.TCPSite(github_runner, "127.0.0.1", github_port).start()
    with tempfile.TemporaryDirectory() as folder:  # also the working directory: the data folder
        port = free_port()
        config = Path(folder) / "receiver.yaml"
        config.write_text(yaml.safe_dump({
            "listen": f"127.0.0.1:{port}", "default_repo": REPO, "bearer_token": TOKEN,
            "github_url": f"http://127.0.0.1:{github_port}", "write_spacing": spacing,
        }))  # fmt: skip
        process = await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, "-m", "thoth_monitoring",
             "alert-receiver", "--config", str(config)],
            env={**os.environ, "PYTHONPATH": str(code), "GITHUB_TOKEN": github.token},
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await asyncio.to_thread(wait_for_http, f"http://127.0.0.1:{port}/readyz", 60, process)
            latencies: list[float] = []
            statuses: Counter[int] = Counter()
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

                async def send(body: dict[str, Any]) -> None:
                    sent = time.perf_counter()
                    async with session.post(
                        f"http://127.0.0.1:{port}/alerts", data=json.dumps(body),
                        headers={"Authorization": f"Bearer {TOKEN}"},
                    ) as response:  # fmt: skip
                        statuses[response.status] += 1
                    latencies.append(time.perf_counter() - sent)

                started = time.monotonic()
                await asyncio.gather(*(send(notification(g, 3, "firing")) for g in range(groups)))
                while True:
                    if len(github.open_issues()) >= groups or time.monotonic() - started > 300:
                        break
                    await asyncio.sleep(0.05)
        finally:
            stop(process)
    await github_runner.cleanup()
    return {
        "groups": groups, "write_spacing": spacing, "issues": len(github.issues.get(REPO, [])),
        "webhook_statuses": dict(statuses),
        "seconds_to_last_issue": max(github.write_times, default=started) - started,
        "webhook_latency_p50": percentile(latencies, 0.5),
        "webhook_latency_p99": percentile(latencies, 0.99),
        "webhook_latency_max": max(latencies),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.receiver", description=__doc__)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--alerts-per-group", type=int, default=10)
    parser.add_argument("--resolved", type=int, default=100)
    parser.add_argument("--spacing-groups", type=int, default=10, help="groups in the 1 s run")
    parser.add_argument("--burst-groups", type=int, default=200)
    parser.add_argument("--burst-spacing", type=float, default=0.1)
    parser.add_argument("--before", type=Path, help="tree of an older version to compare with")
    args = parser.parse_args(argv)
    fast = asyncio.run(run(args.groups, args.alerts_per_group, args.resolved, 0.0))
    spaced = asyncio.run(run(args.spacing_groups, 2, args.spacing_groups // 2, 1.0))
    trees = {"this": CODE} | ({"before": args.before} if args.before else {})
    bursts = {
        name: asyncio.run(burst(tree, args.burst_groups, args.burst_spacing))
        for name, tree in trees.items()
    }
    result = {"spacing_0": fast, "spacing_default": spaced, "burst": bursts}
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
    print_table(
        f"burst of {args.burst_groups} new groups, write spacing {args.burst_spacing} s",
        ["code", "last issue after (s)", "webhook p50 (s)", "p99 (s)", "max (s)", "answers"],
        [
            [name, b["seconds_to_last_issue"], b["webhook_latency_p50"], b["webhook_latency_p99"],
             b["webhook_latency_max"], b["webhook_statuses"]]
            for name, b in bursts.items()
        ],
    )  # fmt: skip
    print(f"\nwritten to {write_result('receiver', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
