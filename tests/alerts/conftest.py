"""The receiver serving its webhook against the GitHub stand-in, and the Alertmanager payloads
the receiver tests send it."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from alerts.github import GitHubClient
from alerts.github_standin import GitHubStandIn
from alerts.receiver import Receiver, ReceiverMetrics, ReceiverSettings, make_app
from alerts.render import Renderer
from alerts.store import GroupStore

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


@pytest.fixture
async def idle_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The receiver serving its webhook, its worker not started yet."""
    github = GitHubStandIn()
    async with TestServer(github.app()) as server, aiohttp.ClientSession() as session:
        settings = ReceiverSettings(default_repo=REPO, bearer_token=TOKEN, write_spacing=0,
                                    basic_username="am", basic_password="pw",
                                    data_dir=tmp_path)  # fmt: skip
        tracker = GitHubClient(
            session, str(server.make_url("")), github.token, write_spacing=0, max_retries=1,
            timeout=1, sleep=lambda _: asyncio.sleep(0),
        )  # fmt: skip
        now = [datetime(2026, 11, 25, 12, tzinfo=UTC)]
        stores: list[GroupStore] = []

        def make_receiver() -> Receiver:
            stores.append(GroupStore(tmp_path / "state.sqlite3", timeout=1))
            return Receiver(settings, tracker, Renderer(), ReceiverMetrics(), stores[-1],
                            clock=lambda: now[0], retry_delay=0.01)  # fmt: skip

        receiver = make_receiver()
        await receiver.store.open(time.time())
        async with TestClient(TestServer(make_app(settings, receiver))) as client:
            stack = Stack(github, client, receiver, now, make_receiver)
            yield stack
            await stack.stop()
        for store in stores:
            await store.close()


@pytest.fixture
async def stack(idle_stack: Stack) -> Stack:
    await idle_stack.start()
    return idle_stack
