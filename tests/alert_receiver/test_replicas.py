"""Two receivers sharing one PostgreSQL state against the GitHub stand-in: one issue per group
whichever replica gets the notification, also when GitHub applied a create and answered 502;
duplicates that exist anyway are closed in favour of the oldest."""

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from tests.support.alerts import REPO, payload
from thoth_monitoring.alert_receiver.payload import parse_notification
from thoth_monitoring.alert_receiver.pg_store import PostgresGroupStore
from thoth_monitoring.alert_receiver.receiver import (
    Receiver,
    ReceiverMetrics,
    ReceiverSettings,
    build_tracker,
)
from thoth_monitoring.alert_receiver.render import Renderer, group_key
from thoth_monitoring.demo.github_standin import Fault, GitHubStandIn

CREATE = "POST /repos/{owner}/{repo}/issues"


@dataclass
class Replicas:
    github: GitHubStandIn
    receivers: list[Receiver]
    state_url: str
    workers: list[asyncio.Task[None]] = field(default_factory=list)

    async def send(self, replica: int, body: dict[str, Any]) -> None:
        notification = parse_notification(json.dumps(body).encode())
        assert await self.receivers[replica].accept(notification) == "queued"

    async def settle(self) -> None:
        """Until no group is pending in the shared state."""
        deadline = time.monotonic() + 30
        while (await self.receivers[0].store.backlog()).size:
            assert time.monotonic() < deadline, "the workers did not finish"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        for worker in self.workers:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    def count(self, name: str) -> float:
        return sum(
            sample.value
            for receiver in self.receivers
            for metric in receiver.metrics.registry.collect()
            if metric.name == f"thoth_alert_receiver_{name}"
            for sample in metric.samples
            if sample.name.endswith("_total")
        )


@pytest.fixture
async def make_replicas(
    make_database: Callable[[], str],
) -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``n`` receivers (workers running) on one new shared state and one stand-in."""
    github = GitHubStandIn()
    url = make_database()
    made: list[Replicas] = []
    async with TestServer(github.app()) as server, aiohttp.ClientSession() as session:

        async def make(n: int = 2, lease: float = 300.0) -> Replicas:
            receivers = []
            for number in range(n):
                settings = ReceiverSettings(
                    default_repo=REPO, github_url=str(server.make_url("")),
                    github_token=SecretStr(github.token), write_spacing=0.2,
                    github_max_retries=0, auth_disabled=True, listen="127.0.0.1:0",
                    state_url=SecretStr(url), replica=f"replica-{number}",
                )  # fmt: skip
                store = PostgresGroupStore(url, settings.replica, timeout=5, lease=lease)
                await store.open(time.time())
                metrics = ReceiverMetrics()
                tracker = build_tracker(settings, session, metrics, store)
                receivers.append(
                    Receiver(settings, tracker, Renderer(), metrics, store, retry_delay=0.05)
                )
            replicas = Replicas(github, receivers, url)
            replicas.workers = [asyncio.create_task(r.run()) for r in receivers]
            made.append(replicas)
            deadline = time.monotonic() + 30
            while not all(r.ready for r in receivers):
                assert time.monotonic() < deadline, "the start-up listings did not finish"
                await asyncio.sleep(0.01)
            return replicas

        yield make
        for replicas in made:
            await replicas.stop()
            for receiver in replicas.receivers:
                await receiver.store.close()


async def test_one_group_sent_to_both_replicas_gets_one_issue(
    make_replicas: Callable[..., Any],
) -> None:
    replicas: Replicas = await make_replicas()
    for group in ("a", "b", "c"):
        await asyncio.gather(*(replicas.send(n, payload(group=group)) for n in (0, 1)))
    await replicas.settle()
    assert len(replicas.github.open_issues()) == 3
    assert replicas.github.requests[CREATE] == 3
    writes = sorted(replicas.github.write_times)  # write_spacing holds across the replicas
    assert min(b - a for a, b in itertools.pairwise(writes)) >= 0.12  # arrival jitter aside
    for n in (0, 1):  # either replica resolves: the issue the other created closes
        await replicas.send(n, payload("resolved", group="abc"[n]))
    await replicas.settle()
    assert len(replicas.github.open_issues()) == 1


async def test_a_create_applied_then_502_leaves_one_open_issue(
    make_replicas: Callable[..., Any],
) -> None:
    replicas: Replicas = await make_replicas()
    replicas.github.faults.append(Fault(502, applied=True))
    await replicas.send(0, payload())
    await replicas.settle()
    assert len(replicas.github.issues[REPO]) == 1  # the retry (on either replica) found it
    assert replicas.github.requests[CREATE] == 1
    await replicas.send(1, payload("resolved"))
    await replicas.settle()
    assert replicas.github.open_issues() == []


async def test_a_duplicate_issue_is_closed_in_favour_of_the_oldest(
    make_replicas: Callable[..., Any],
) -> None:
    first: Replicas = await make_replicas(1)
    await first.send(0, payload())
    await first.settle()
    await first.stop()  # its cache never saw the duplicate: the new replica lists it
    original = first.github.issues[REPO][0]
    first.github.issues[REPO].append(  # as if a second create had gone through too
        dict(original, number=2, html_url=original["html_url"][:-1] + "2")
    )
    second: Replicas = await make_replicas(1)  # lists both at start
    later = payload(starts="2026-11-25T10:05:00Z")
    await second.send(0, later)
    await second.settle()
    kept, duplicate = first.github.issues[REPO]
    assert (kept["state"], duplicate["state"], duplicate["state_reason"]) == (
        "open", "closed", "not_planned",
    )  # fmt: skip
    assert first.github.comments[(REPO, 2)][0].startswith("Duplicate of #1 (")
    assert second.count("duplicates_closed") == 1
    await second.send(0, payload("resolved", starts="2026-11-25T10:05:00Z"))
    await second.settle()
    assert (kept["state"], kept["state_reason"]) == ("closed", "completed")
    assert len(first.github.comments[(REPO, 2)]) == 1


async def test_a_replica_dying_after_its_create_is_taken_over_without_a_second_issue(
    make_replicas: Callable[..., Any],
) -> None:
    live: Replicas = await make_replicas(1, lease=1.0)  # listed the repository: no issue yet
    dead = PostgresGroupStore(live.state_url, "dead", timeout=5, lease=1.0)
    notification = parse_notification(json.dumps(payload()).encode())
    soon = time.time() + 1.0  # due only then: the dead replica claims it before the live one
    await dead.record(group_key(notification), notification.model_dump_json(), 1.0, soon, 10)
    claimed = await dead.next_due(soon)
    assert claimed is not None
    rendered = Renderer().render(notification.model_copy(update={"externalURL": ""}))
    live.github.issues[REPO] = []  # its create went through; then it died, bound nothing
    live.github._new(REPO, rendered.title, rendered.body, ["thoth-alert"], "thoth-monitoring[bot]")
    await dead.close()
    await live.settle()
    assert len(live.github.issues[REPO]) == 1 and live.github.requests[CREATE] == 0
    assert live.count("claims_taken_over") == 1
    await live.send(0, payload("resolved"))
    await live.settle()
    assert live.github.open_issues() == []
