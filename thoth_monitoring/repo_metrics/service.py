"""repo-metrics as a command: its settings, one collection over every repository, and the
``--once`` and ``serve`` ways of running it."""

import asyncio
import logging
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import aiohttp
import psycopg
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from pydantic import Field, SecretStr, field_validator, model_validator

from thoth_monitoring.core import service
from thoth_monitoring.core.config import ConfigError, Duration
from thoth_monitoring.core.database import Limits
from thoth_monitoring.core.exposition import gauge
from thoth_monitoring.core.github import (
    DEFAULT_URL,
    AppInstallation,
    Authorization,
    GitHubApp,
    GitHubClient,
    GitHubError,
    read_private_key,
)
from thoth_monitoring.core.runs import repeat
from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.core.settings import CommandSettings
from thoth_monitoring.repo_metrics.collect import Bots, Collector, Outcome
from thoth_monitoring.repo_metrics.command import DEFAULT_LISTEN
from thoth_monitoring.repo_metrics.knowledge import (
    Collected,
    Knowledge,
    KnowledgeStore,
    LocalBackend,
    S3Backend,
    StoreUnavailable,
)
from thoth_monitoring.repo_metrics.locks import LocksUnavailable, RepositoryLocks
from thoth_monitoring.repo_metrics.metrics import indicator_families
from thoth_monitoring.repo_metrics.repositories import (
    Repository,
    installations,
    merged,
    valid_slug,
)

log = logging.getLogger(__name__)

DEFAULT_STORE = Path("repo-metrics-store")
COMMAND = "repo-metrics"
# With pods sharing the store, a repository another pod collected less than this share of the
# interval ago is left to it: the pods' schedules drift apart by up to the jitter (± 10 %).
FRESH_SHARE = 0.9


class RepoMetricsSettings(CommandSettings):
    """Every option of ``repo-metrics``, from its config file or flags."""

    github_url: str = DEFAULT_URL
    github_token: SecretStr | None = None
    github_token_file: Path | None = None
    github_app_id: str | None = None
    github_app_private_key_file: Path | None = None
    kebechet_logins: list[str] = Field(default_factory=lambda: ["khebhut[bot]"])
    bot_logins: list[str] = Field(default_factory=lambda: ["sesheta"])
    database_url: SecretStr | None = None
    repositories: list[str] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)
    store: Path = DEFAULT_STORE
    s3: S3Settings | None = None
    listen: str = DEFAULT_LISTEN
    interval: Duration = 3600.0
    concurrency: int = Field(4, ge=1, le=64)
    top_repositories: int = Field(20, ge=0)
    request_timeout: Duration = 30.0
    max_retries: int = Field(4, ge=0, le=10)
    max_rate_limit_wait: Duration = 3600.0
    database_timeout: Duration = 30.0
    # with database_url: an advisory lock there per repository, so that pods can share the
    # store; false: one pod only, which collects even while the database is unreachable
    repository_locks: bool = True
    # who this pod is in the store's collected.json: on Kubernetes the host name is the pod's
    instance_id: str = Field(default_factory=socket.gethostname, min_length=1)
    # how often a pod reads what other pods collected between its own collections
    refresh_interval: Duration = 300.0

    @field_validator("repositories")
    @classmethod
    def _slugs(cls, value: list[str]) -> list[str]:
        bad = [slug for slug in value if not valid_slug(slug)]
        if bad:
            raise ValueError(f"not owner/name repository names: {', '.join(map(repr, bad))}")
        return value

    @model_validator(mode="after")
    def _something_to_collect(self) -> "RepoMetricsSettings":
        if self.database_url is None and not self.repositories and not self.organizations:
            raise ValueError(
                "nothing to collect: give database_url (Kebechet's installations in the "
                "knowledge graph), repositories or organizations"
            )
        if (self.github_app_id is None) != (self.github_app_private_key_file is None):
            raise ValueError(
                "a GitHub App needs both github_app_id and github_app_private_key_file"
            )
        return self

    def authorization(self) -> Literal["app", "token"]:
        return "app" if self.github_app_id is not None else "token"

    def token(self) -> str:
        if self.github_token is not None:
            return self.github_token.get_secret_value()
        if self.github_token_file is not None:
            try:
                return self.github_token_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as error:
                raise ConfigError(
                    COMMAND, [("github_token_file", f"cannot read: {error}")]
                ) from None
        token = os.environ.get("GITHUB_TOKEN", "")
        if not token:
            raise ConfigError(
                COMMAND,
                [("github_token", "not set: give GITHUB_TOKEN, github_token or github_token_file, "
                  "or a GitHub App (github_app_id, github_app_private_key_file)")],
            )  # fmt: skip
        return token

    def private_key(self) -> str:
        assert self.github_app_private_key_file is not None
        try:
            return read_private_key(self.github_app_private_key_file)
        except ValueError as error:
            raise ConfigError(COMMAND, [("github_app_private_key_file", str(error))]) from None

    def knowledge_store(self) -> KnowledgeStore:
        backend = S3Backend(self.s3) if self.s3 is not None else LocalBackend(self.store)
        return KnowledgeStore(backend)


@dataclass
class Health:
    """The collector's own numbers, served as self metrics."""

    outcomes: Counter[str] = field(default_factory=Counter)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    rate_limit_remaining: int | None = None
    last_attempt: float | None = None
    last_success: float | None = None
    last_duration: float | None = None

    def families(self, corrupt: int) -> Iterator[Metric]:
        prefix = "thoth_repo_metrics"
        outcomes = CounterMetricFamily(
            f"{prefix}_repository_collections",
            "Repository collections by outcome (unchanged: one 304 answer; skipped_locked, "
            "skipped_fresh: another pod is collecting it or just did).",
            labels=["outcome"],
        )
        for outcome in Outcome:
            outcomes.add_metric([outcome.value], self.outcomes[outcome.value])
        yield outcomes
        requests = CounterMetricFamily(
            f"{prefix}_github_requests",
            "GitHub API requests by operation and answer status (0: no answer).",
            labels=["operation", "status"],
        )
        for (operation, status), count in sorted(self.requests.items()):
            requests.add_metric([operation, status], count)
        yield requests
        yield CounterMetricFamily(
            f"{prefix}_store_corrupt_documents",
            "Store documents found unreadable (kept as <key>.corrupt, collected again).",
            value=corrupt,
        )
        for name, documentation, value in (
            ("github_rate_limit_remaining", "x-ratelimit-remaining of the last GitHub answer.",
             self.rate_limit_remaining),
            ("collection_timestamp_seconds", "End of the last collection.", self.last_attempt),
            ("collection_success_timestamp_seconds",
             "End of the last collection in which no repository failed.", self.last_success),
            ("collection_duration_seconds", "Duration of the last collection.",
             self.last_duration),
        ):  # fmt: skip
            yield gauge(
                f"{prefix}_{name}", documentation, [], [] if value is None else [((), value)]
            )


class RepoMetrics:
    """Collections over every repository, their knowledge kept in memory between runs, and the
    metrics built from it."""

    def __init__(self, settings: RepoMetricsSettings, store: KnowledgeStore) -> None:
        self.settings = settings
        self.store = store
        self.health = Health()
        self.knowledge: dict[str, Knowledge] = {}
        self.installations: Counter[bool] | None = None
        self.families: list[Metric] = []
        self._busy = asyncio.Lock()  # a collection, or a refresh of the indicators
        kebechet = frozenset(settings.kebechet_logins)
        self.kebechet = kebechet
        bots = Bots(kebechet | frozenset(settings.bot_logins))
        self.collector = Collector(store, bots, clock=_now)

    async def run(self) -> bool:
        """One collection of every repository; True when none failed."""
        started = time.monotonic()
        url = self.settings.database_url if self.settings.repository_locks else None
        locks = RepositoryLocks(
            None if url is None else url.get_secret_value(), self.settings.database_timeout
        )
        async with self._busy:
            async with aiohttp.ClientSession() as session, locks:
                clients = _Clients(self.settings, session, self.health)
                repositories, failed = await self._repositories(clients)
                failed += await self._collect(clients, locks, repositories)
            await self._rebuild()
        now = time.time()
        self.health.last_attempt, self.health.last_duration = now, time.monotonic() - started
        if not failed:
            self.health.last_success = now
        log.info(
            "collection_done",
            extra={
                "repositories": len(repositories),
                "failed": failed,
                "seconds": round(self.health.last_duration, 1),
                "store": self.store.backend.describe(),
            },
        )
        return not failed

    def collect(self) -> list[Metric]:
        return [*self.families, *self.health.families(len(self.store.corrupt))]

    def describe(self) -> list[Metric]:
        return []

    async def _repositories(self, clients: "_Clients") -> tuple[list[Repository], int]:
        """Every repository to collect, and how many of their sources could not be read."""
        sources: list[list[Repository]] = []
        failed = 0
        if self.settings.database_url is not None:
            try:
                rows = await asyncio.wait_for(
                    installations(self.settings.database_url.get_secret_value(), self._limits),
                    self.settings.database_timeout + 15,
                )
            except (psycopg.Error, OSError, TimeoutError) as error:
                log.error("installations_unreadable", extra={"error": str(error) or "timeout"})
                failed = 1  # the last known installations stay in the metrics
            else:
                for row in rows:
                    if not valid_slug(row.slug):
                        log.warning("installation_slug_invalid", extra={"slug": row.slug})
                active = {row.slug for row in rows if row.active and valid_slug(row.slug)}
                inactive = {row.slug for row in rows if valid_slug(row.slug)} - active
                self.installations = Counter({True: len(active), False: len(inactive)})
                sources.append([row for row in rows if row.slug in active])
        sources.append([Repository(s, None, True, "config") for s in self.settings.repositories])
        for organization in self.settings.organizations:
            try:
                sources.append(await clients.organization(organization))
            except GitHubError as error:
                log.error(
                    "organization_unreadable",
                    extra={"organization": organization, "error": str(error)},
                )
                failed += 1
        return merged(*sources), failed

    @property
    def _limits(self) -> Limits:
        return Limits(statement_timeout=self.settings.database_timeout, lock_timeout=5.0)

    async def _collect(
        self, clients: "_Clients", locks: RepositoryLocks, repositories: Sequence[Repository]
    ) -> int:
        limit = asyncio.Semaphore(self.settings.concurrency)
        done = 0
        last_report = time.monotonic()

        async def one(repository: Repository) -> Outcome:
            nonlocal done, last_report
            async with limit:
                try:
                    outcome = await self._one(clients, locks, repository)
                except (GitHubError, StoreUnavailable, LocksUnavailable) as error:
                    log.error(
                        "repository_failed",
                        extra={"repository": repository.slug, "error": str(error)},
                    )
                    outcome = Outcome.FAILED
            self.health.outcomes[outcome.value] += 1
            done += 1
            if time.monotonic() - last_report > 5 or done == len(repositories):
                last_report = time.monotonic()
                log.info("collection_progress", extra={"done": done, "of": len(repositories)})
            return outcome

        outcomes = await asyncio.gather(*(one(r) for r in repositories))
        return sum(outcome is Outcome.FAILED for outcome in outcomes)

    async def _one(
        self, clients: "_Clients", locks: RepositoryLocks, repository: Repository
    ) -> Outcome:
        """Collect one repository unless, with a shared store, another pod collected it less
        than an interval ago (looked at before the lock, so that the pod that collects it
        finds it free, and again under the lock) or is collecting it now."""
        slug = repository.slug
        if locks.shared and await self._collected_elsewhere(slug):
            return Outcome.SKIPPED_FRESH
        async with locks.held(slug) as held:
            if not held:
                log.info("repository_skipped", extra={"repository": slug, "reason": "locked"})
                return Outcome.SKIPPED_LOCKED
            if locks.shared and await self._collected_elsewhere(slug):
                return Outcome.SKIPPED_FRESH
            github = await clients.for_repository(repository)
            known = self.knowledge.get(slug)
            outcome, self.knowledge[slug] = await self.collector.collect(github, slug, known)
            if locks.shared and outcome is not Outcome.FAILED:
                marker = Collected(self.settings.instance_id, time.time())
                await asyncio.to_thread(self.store.mark, slug, marker)
        return outcome

    async def _collected_elsewhere(self, slug: str) -> bool:
        """Whether another pod collected the repository less than an interval ago; its
        knowledge is brought up to date with what other pods stored either way."""
        known = self.knowledge.get(slug)
        self.knowledge[slug], collected = await asyncio.to_thread(self.store.current, slug, known)
        fresh = (
            collected is not None
            and collected.by != self.settings.instance_id
            and time.time() - collected.at < FRESH_SHARE * self.settings.interval
        )
        if fresh:
            log.info("repository_skipped", extra={"repository": slug, "reason": "fresh"})
        return fresh

    async def refresh(self) -> None:
        """Rebuild the indicators, unless a collection runs (it does when it ends)."""
        if not self._busy.locked():
            async with self._busy:
                await self._rebuild()

    async def _rebuild(self) -> None:
        """The indicators rebuilt from every repository of the store, those other pods
        changed read again (gone ones and those no longer listed too), so that every pod
        serves the same indicators."""
        try:
            changed = await asyncio.to_thread(self.store.refresh, dict(self.knowledge))
        except StoreUnavailable as error:
            log.error("store_unavailable", extra={"error": str(error)})
        else:
            self.knowledge.update(changed)
        self.families = await asyncio.to_thread(
            indicator_families,
            list(self.knowledge.values()),
            self.kebechet,
            self.settings.top_repositories,
            self.installations,
        )


class _Clients:
    """The GitHub client for each repository: one for a token; one per installation for a
    GitHub App (each installation has its own rate limit)."""

    def __init__(
        self, settings: RepoMetricsSettings, session: aiohttp.ClientSession, health: Health
    ) -> None:
        self.settings = settings
        self.session = session
        self.health = health
        self.app: GitHubApp | None = None
        self.token_client: GitHubClient | None = None
        self.by_installation: dict[str, GitHubClient] = {}
        if settings.authorization() == "app":
            assert settings.github_app_id is not None
            self.app = GitHubApp(settings.github_app_id, settings.private_key(), self._client)
        else:
            self.token_client = self._client(settings.token())

    async def for_repository(self, repository: Repository) -> GitHubClient:
        if self.token_client is not None:
            return self.token_client
        assert self.app is not None
        owner, name = repository.slug.split("/")
        installation = repository.installation_id or await self.app.installation_of(owner, name)
        return self._installation(installation)

    async def organization(self, organization: str) -> list[Repository]:
        if self.token_client is not None:
            github = self.token_client
        else:
            assert self.app is not None
            github = self._installation(await self.app.installation_of(organization))
        url = github.url(f"/orgs/{organization}/repos")
        items = await github.list_all(url, "list_organization_repositories", {"type": "all"})
        source = f"organisation {organization}"
        return [
            Repository(str(item["full_name"]), None, True, source)
            for item in items
            if isinstance(item, dict)
            and not item.get("archived")
            and valid_slug(str(item.get("full_name")))
        ]

    def _installation(self, installation_id: str) -> GitHubClient:
        assert self.app is not None
        if installation_id not in self.by_installation:
            auth = AppInstallation(self.app, installation_id)
            self.by_installation[installation_id] = self._client(auth)
        return self.by_installation[installation_id]

    def _client(self, auth: str | Authorization) -> GitHubClient:
        def observe(operation: str, status: int) -> None:
            self.health.requests[(operation, str(status))] += 1
            if client.rate_limit_remaining is not None:
                self.health.rate_limit_remaining = client.rate_limit_remaining

        client = GitHubClient(
            self.session, self.settings.github_url, auth, write_spacing=0.0,
            max_retries=self.settings.max_retries, timeout=self.settings.request_timeout,
            observe=observe, wait_out_limits=self.settings.max_rate_limit_wait,
            user_agent="thoth-monitoring-repo-metrics",
        )  # fmt: skip
        return client


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def registry_of(metrics: RepoMetrics) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    return registry


async def run_once(settings: RepoMetricsSettings) -> int:
    """``--once``: collect every repository, print the exposition; 1 if any failed."""
    metrics = RepoMetrics(settings, settings.knowledge_store())
    ok = await metrics.run()
    print(generate_latest(registry_of(metrics)).decode(), end="")
    return 0 if ok else 1


async def serve(settings: RepoMetricsSettings) -> None:
    """``serve``: collect on a schedule (interval ± 10 %) and serve ``/metrics``."""
    metrics = RepoMetrics(settings, settings.knowledge_store())
    collected = asyncio.Event()

    async def collect() -> None:
        try:
            await metrics.run()
        except (GitHubError, OSError, aiohttp.ClientError, StoreUnavailable) as error:
            log.error("collection_failed", extra={"error": str(error)})
        collected.set()

    async def refresh() -> None:
        if collected.is_set():  # the first collection refreshes when it ends
            await metrics.refresh()

    app = service.Service(
        COMMAND,
        registry_of(metrics),
        ready=collected.is_set,
        not_ready="first collection under way",
        status=lambda: [
            ("store", metrics.store.backend.describe()),
            ("repositories", str(len(metrics.knowledge))),
        ],
    ).app()
    rng = random.Random()
    work = asyncio.gather(
        repeat(collect, settings.interval, 0.1, rng),
        repeat(refresh, settings.refresh_interval, 0.1, rng),
    )
    await service.serve(app, settings.listen, work, store=metrics.store.backend.describe())
