"""repo-metrics against the GitHub stand-in, served over HTTP on a local port."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from thoth_monitoring.demo.github_standin import GitHubStandIn
from thoth_monitoring.repo_metrics.knowledge import Knowledge
from thoth_monitoring.repo_metrics.service import RepoMetrics, RepoMetricsSettings

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
KEBECHET = "khebhut[bot]"
UPDATE = "Automatic update of dependencies by Kebechet for the default environment"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@dataclass
class Collection:
    """The stand-in, its URL, and a way to run repo-metrics against it into ``store``."""

    github: GitHubStandIn
    url: str
    store: Path

    def settings(self, **fields: Any) -> RepoMetricsSettings:
        defaults: dict[str, Any] = {
            "github_url": self.url,
            "github_token": self.github.token,
            "repositories": sorted(self.github.repos),
            "store": self.store,
            "max_retries": 2,
            "request_timeout": 5,
        }
        return RepoMetricsSettings.model_validate(defaults | fields)

    async def run(self, **fields: Any) -> RepoMetrics:
        metrics = RepoMetrics(self.settings(**fields), self.settings(**fields).knowledge_store())
        await metrics.run()
        return metrics

    def requests(self) -> int:
        return sum(self.github.requests.values())


@pytest.fixture
async def collection(tmp_path: Path) -> AsyncIterator[Collection]:
    github = GitHubStandIn(repos=set())
    async with TestServer(github.app()) as server:
        yield Collection(github, str(server.make_url("")), tmp_path / "store")


def knowledge_of(metrics: RepoMetrics, repository: str) -> Knowledge:
    return metrics.knowledge[repository]
