"""The receiver serving its webhook against the GitHub stand-in, and the Alertmanager payloads
the receiver tests send it."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.support.alerts import REPO, TOKEN, Stack
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


@pytest.fixture
async def idle_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The receiver serving its webhook, its worker not started yet."""
    github = GitHubStandIn()
    async with TestServer(github.app()) as server, aiohttp.ClientSession() as session:
        settings = ReceiverSettings(default_repo=REPO, bearer_token=TOKEN, write_spacing=0,
                                    basic_username="am", basic_password="pw",
                                    data_dir=tmp_path)  # fmt: skip
        tracker = GitHubIssues(
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
