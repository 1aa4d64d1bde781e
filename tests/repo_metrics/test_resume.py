"""A collection killed half-way loses nothing: rerun, it gives the store one uninterrupted run
gives, and it does not ask again for what it had saved."""

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.repo_metrics.conftest import KEBECHET, UPDATE, at
from thoth_monitoring.demo.github_standin import GitHubStandIn

REPOSITORIES = [f"thoth-station/repo-{i}" for i in range(3)]
PULLS = 40
REVIEWS = "GET /repos/{owner}/{repo}/pulls/{number}/reviews"
KILL_AFTER = 70  # review requests: the first repository done, the second half-way


def populated() -> GitHubStandIn:
    github = GitHubStandIn(repos=set())
    for repo in REPOSITORIES:
        github.add_repository(repo)
        for n in range(1, PULLS + 1):
            github.add_pull_request(repo, title=UPDATE, author=KEBECHET, author_type="Bot",
                                    at=at(n))  # fmt: skip
            if n % 3:
                github.review(repo, n, "bob", at(n + 1))
            if n % 4 == 0:
                github.merge(repo, n, at(n + 2))
        github.add_issue(repo, "a question", "dave", at(0))
        github.comment_on(repo, PULLS + 1, "erin", at(1))
    return github


def collect(url: str, store: Path) -> list[str]:
    return [sys.executable, "-m", "thoth_monitoring", "repo-metrics", "--once",
            "--github-url", url, "--store", str(store), "--concurrency", "1",
            *(f"--repository={repo}" for repo in REPOSITORIES)]  # fmt: skip


def documents(store: Path) -> dict[str, object]:
    """Every stored document, without the one field that says when a run happened."""
    found: dict[str, object] = {}
    for path in sorted(store.rglob("*.json")):
        document = json.loads(path.read_text())
        document.get("state", {}).pop("first_seen", None)
        found[str(path.relative_to(store))] = document
    return found


async def test_a_killed_collection_resumes_to_the_same_store(tmp_path: Path) -> None:
    github = populated()
    process: list[asyncio.subprocess.Process] = []  # the one to kill

    @web.middleware
    async def kill_half_way(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if github.requests[REVIEWS] >= KILL_AFTER and process and process[0].returncode is None:
            process[0].send_signal(signal.SIGKILL)
            await process[0].wait()
        return await handler(request)

    app = github.app()
    app.middlewares.append(kill_half_way)
    environment = os.environ | {"GITHUB_TOKEN": github.token}
    async with TestServer(app) as server:
        url = str(server.make_url(""))
        killed = await asyncio.create_subprocess_exec(
            *collect(url, tmp_path / "resumed"), env=environment, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        process.append(killed)
        assert await asyncio.wait_for(killed.wait(), 60) == -signal.SIGKILL
        asked_before = github.requests[REVIEWS]
        saved = documents(tmp_path / "resumed")
        assert any(name.endswith("pull_requests.json") for name in saved)  # progress was kept

        rerun = await asyncio.create_subprocess_exec(
            *collect(url, tmp_path / "resumed"), env=environment, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        process.clear()
        assert await asyncio.wait_for(rerun.wait(), 60) == 0
        asked_again = github.requests[REVIEWS] - asked_before
        whole = await asyncio.create_subprocess_exec(
            *collect(url, tmp_path / "whole"), env=environment, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await asyncio.wait_for(whole.wait(), 60) == 0
    assert documents(tmp_path / "resumed") == documents(tmp_path / "whole")
    # the rerun asked only for what the killed run had not saved: the first repository was
    # done, the second saved after 25 (every save_every) of its reviews
    assert asked_again <= len(REPOSITORIES) * PULLS - (PULLS + 25) + 1


@pytest.fixture(autouse=True)
def _no_stray_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
