"""Alertmanager payloads, the receiver stack the receiver tests drive, and waiting for it."""

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from thoth_monitoring.alert_receiver.receiver import Receiver
from thoth_monitoring.demo.github_standin import GitHubStandIn

REPO = "thoth-station/thoth-application"


TOKEN = "webhook-secret"


Client = TestClient[web.Request, web.Application]


def payload(
    status: str = "firing", group: str = "db-down", starts: str = "2026-11-25T10:00:00Z",
    **labels: str,
) -> dict[str, Any]:  # fmt: skip
    alert_labels = {"alertname": "ThothDatabaseUnreachable", "severity": "critical",
                    "repo": REPO, "instance": "me:9701"} | labels  # fmt: skip
    return {
        "version": "4", "groupKey": f'{{}}:{{alertname="{group}"}}', "status": status,
        "receiver": "github-issues", "groupLabels": {"alertname": alert_labels["alertname"]},
        "commonLabels": alert_labels,
        "commonAnnotations": {"summary": "The knowledge-graph database does not answer."},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": status, "labels": alert_labels,
            "annotations": {"summary": "The knowledge-graph database does not answer.",
                            "description": "No answer for 5 minutes.",
                            "runbook_url": "https://example/runbook.md#x"},
            "startsAt": starts,
            "endsAt": "2026-11-25T11:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": "abc",
        }],
    }  # fmt: skip


@dataclass
class Stack:
    github: GitHubStandIn
    client: Client
    receiver: Receiver
    now: list[datetime]
    make_receiver: Callable[[], Receiver]
    worker: asyncio.Task[None] | None = None

    async def send(self, body: Any, auth: str = f"Bearer {TOKEN}") -> tuple[int, Any]:
        response = await self.client.post(
            "/alerts", data=json.dumps(body), headers={"Authorization": auth}
        )
        return response.status, await response.json()

    async def deliver(self, body: Any) -> None:
        """Send and wait until the worker carried it out."""
        assert (await self.send(body))[0] == 202
        await self.settle()

    async def start(self) -> None:
        """Start the worker and wait until it listed the default repository."""
        self.worker = asyncio.create_task(self.receiver.run())
        await until(lambda: self.receiver.ready, "the start-up listing")

    async def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.worker

    async def settle(self) -> None:
        """Wait until the worker carried out every recorded notification."""
        deadline = time.monotonic() + 30
        while (await self.receiver.store.backlog()).size:
            assert time.monotonic() < deadline, "the worker did not finish"
            await asyncio.sleep(0.01)

    def outcomes(self) -> dict[str, float]:
        return {
            sample.labels["outcome"]: sample.value
            for metric in self.receiver.metrics.registry.collect()
            if metric.name == "thoth_alert_receiver_notifications"
            for sample in metric.samples
            if sample.name.endswith("_total")
        }


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
