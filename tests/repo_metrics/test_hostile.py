"""GitHub (or what pretends to be it) answering nonsense: the repository fails with a clear
log line, nothing is stored from the answer, and no name from an answer becomes a path."""

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from thoth_monitoring.repo_metrics.service import RepoMetrics, RepoMetricsSettings

ANSWERS: list[Any] = [
    {"message": "a mapping where a list belongs"},
    [1, 2, 3],
    [{"number": "seven", "updated_at": "2026-11-02T00:00:00Z", "state": "open"}],
    [{"number": 7}],  # no updated_at
    [{"number": 7, "updated_at": "2026-11-02T00:00:00Z", "user": "not a mapping"}],
    "<html>proxy error</html>",
]


@pytest.mark.parametrize("answer", ANSWERS, ids=[str(i) for i in range(len(ANSWERS))])
async def test_nonsense_fails_the_repository_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, answer: Any
) -> None:
    async def issues(request: web.Request) -> web.Response:
        if isinstance(answer, str):
            return web.Response(text=answer, content_type="text/html")
        return web.json_response(answer)

    app = web.Application()
    app.router.add_get("/repos/{owner}/{repo}/issues", issues)
    async with TestServer(app) as server:
        settings = RepoMetricsSettings(
            github_url=str(server.make_url("")), github_token="t", repositories=["a/b"],
            store=tmp_path, max_retries=0,
        )  # fmt: skip
        metrics = RepoMetrics(settings, settings.knowledge_store())
        with caplog.at_level(logging.ERROR):
            assert not await metrics.run()
    assert metrics.health.outcomes == Counter({"failed": 1})
    assert [r.msg for r in caplog.records] == ["repository_failed"]
    assert not metrics.knowledge["a/b"].pull_requests and not metrics.knowledge["a/b"].issues


async def test_names_from_an_organisation_listing_never_become_paths(tmp_path: Path) -> None:
    names = ["../../etc", "a/../../b", "/abs/olute", "ok-org/fine.repo", "ok-org/..", "x/y/z"]

    async def repos(request: web.Request) -> web.Response:
        return web.json_response([{"full_name": name} for name in names])

    async def issues(request: web.Request) -> web.Response:
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/orgs/{org}/repos", repos)
    app.router.add_get("/repos/{owner}/{repo}/issues", issues)
    async with TestServer(app) as server:
        settings = RepoMetricsSettings(
            github_url=str(server.make_url("")), github_token="t", organizations=["ok-org"],
            store=tmp_path / "store",
        )  # fmt: skip
        metrics = RepoMetrics(settings, settings.knowledge_store())
        assert await metrics.run()
    assert sorted(metrics.knowledge) == ["ok-org/fine.repo"]
    assert all(p.startswith("store/repo-metrics/ok-org/fine.repo/") for p in _stored(tmp_path))


def _stored(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*.json"))
