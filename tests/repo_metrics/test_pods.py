"""repo-metrics as two pods sharing one knowledge store (S3, moto over HTTP) and one
PostgreSQL: each repository is collected by one of them, with the requests and the documents
one pod alone gives, and both serve the same indicators."""

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import psycopg
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer
from prometheus_client import CollectorRegistry, generate_latest

from tests.repo_metrics.conftest import KEBECHET, UPDATE, Collection, at
from thoth_monitoring.core.database import psycopg_url
from thoth_monitoring.demo.github_standin import GitHubStandIn
from thoth_monitoring.demo.processes import free_port
from thoth_monitoring.repo_metrics.knowledge import (
    DOCUMENTS,
    Collected,
    Issue,
    Knowledge,
    KnowledgeStore,
    LocalBackend,
)
from thoth_monitoring.repo_metrics.locks import LocksUnavailable, RepositoryLocks, lock_key
from thoth_monitoring.repo_metrics.service import RepoMetrics, RepoMetricsSettings, serve

REPOSITORIES = [f"thoth-station/repo-{i:02}" for i in range(12)]  # 60 with --run-slow
INSTALLATIONS = (  # the knowledge graph's table, empty: the repositories come from the config
    "CREATE TABLE kebechet_github_installations (slug text, installation_id text, "
    "is_active boolean)"
)


def graph_database(make_database: Callable[..., str]) -> str:
    """A new database holding the knowledge graph's (empty) installations table."""
    database = make_database()
    with psycopg.connect(psycopg_url(database), autocommit=True) as conn:
        conn.execute(INSTALLATIONS)
    return database


def test_the_lock_key_is_stable_distinct_and_a_signed_64_bit_integer() -> None:
    # fixed forever: pods of different releases must agree on it
    assert lock_key("thoth-station/adviser") == lock_key("Thoth-Station/Adviser")
    assert lock_key("thoth-station/adviser") == 388821221957581125
    keys = {lock_key(f"owner-{i % 100}/repo-{i}") for i in range(20_000)}
    assert len(keys) == 20_000
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert min(keys) < 0 < max(keys)


async def test_a_lock_is_held_for_the_collection_and_released_after(
    make_database: Callable[..., str],
) -> None:
    database = make_database()
    key = lock_key("a/b")
    with psycopg.connect(psycopg_url(database), autocommit=True) as other_pod:

        def other_pod_gets_it() -> bool:
            taken = other_pod.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if taken and taken[0]:
                other_pod.execute("SELECT pg_advisory_unlock(%s)", (key,))
            return bool(taken and taken[0])

        async with RepositoryLocks(database, 5) as locks:
            async with locks.held("a/b") as held:
                assert held and not other_pod_gets_it()
                async with locks.held("A/B") as again:  # the same session may take it again
                    assert again
            assert other_pod_gets_it()
            other_pod.execute("SELECT pg_advisory_lock(%s)", (key,))
            async with locks.held("a/b") as held:
                assert not held
    async with RepositoryLocks("postgresql://nobody@127.0.0.1:1/thoth", 2) as down:
        with pytest.raises(LocksUnavailable, match="repository locks: "):
            async with down.held("a/b"):
                raise AssertionError("held without a database")


def populated(repositories: list[str] = REPOSITORIES) -> GitHubStandIn:
    """The same repositories every call: pull requests (some reviewed, some merged) and an
    issue with a comment each."""
    github = GitHubStandIn(repos=set())
    for n, repo in enumerate(repositories):
        github.add_repository(repo)
        for pull in range(1, 4 + n % 3):
            github.add_pull_request(repo, title=UPDATE, author=KEBECHET, author_type="Bot",
                                    at=at(pull))  # fmt: skip
            if pull % 2:
                github.review(repo, pull, "bob", at(pull + 1))
            if pull % 3 == 0:
                github.merge(repo, pull, at(pull + 2))
        number = github.add_issue(repo, "a question", "dave", at(0))
        github.comment_on(repo, number, "erin", at(1))
    return github


def per_repository(
    counts: Counter[str], delay: float = 0.005
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware counting the requests of each repository, ``delay`` slow so that
    concurrent pods overlap."""

    @web.middleware
    async def count(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        parts = request.path.split("/")
        if len(parts) > 3 and parts[1] == "repos":
            counts[f"{parts[2]}/{parts[3]}"] += 1
        await asyncio.sleep(delay)
        return await handler(request)

    return count


class Site:
    """A stand-in with the repositories above, a bucket, a database: what pods share."""

    def __init__(
        self, url: str, github: GitHubStandIn, s3: dict[str, str], database: str,
        repositories: list[str],
    ) -> None:  # fmt: skip
        self.url, self.github, self.s3, self.database = url, github, s3, database
        self.repositories = repositories

    def pod(self, name: str, **fields: Any) -> RepoMetrics:
        settings = RepoMetricsSettings.model_validate(
            {"github_url": self.url, "github_token": self.github.token,
             "repositories": self.repositories, "s3": self.s3, "database_url": self.database,
             "instance_id": name, "request_timeout": 5, "max_retries": 2} | fields
        )  # fmt: skip
        return RepoMetrics(settings, settings.knowledge_store())


async def test_pods_collect_each_repository_once_and_serve_the_same_indicators(
    s3_endpoint: str, make_database: Callable[..., str], run_slow: bool
) -> None:
    """Two pods and 12 repositories (three and 60 with --run-slow) against one pod alone."""
    count, size = (3, 60) if run_slow else (2, len(REPOSITORIES))
    repositories = [f"thoth-station/repo-{i:02}" for i in range(size)]
    database = graph_database(make_database)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"thoth-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    alone_counts: Counter[str] = Counter()
    pods_counts: Counter[str] = Counter()
    alone_github, pods_github = populated(repositories), populated(repositories)
    alone_app, pods_app = alone_github.app(), pods_github.app()
    alone_app.middlewares.append(per_repository(alone_counts))
    pods_app.middlewares.append(per_repository(pods_counts))
    async with TestServer(alone_app) as alone_server, TestServer(pods_app) as pods_server:

        def site(server: BaseTestServer, github: GitHubStandIn, deployment: str) -> Site:
            where = {"endpoint_url": s3_endpoint, "bucket": bucket, "deployment": deployment}
            return Site(str(server.make_url("")), github, where, database, repositories)

        alone = site(alone_server, alone_github, "alone").pod("alone")
        assert await alone.run()
        shared = site(pods_server, pods_github, "shared")
        pods = [shared.pod(f"pod-{n}") for n in range(count)]
        assert all(await asyncio.gather(*(pod.run() for pod in pods)))
        await asyncio.gather(*(pod.refresh() for pod in pods))  # what serve does every 5 min

        # each repository collected once: the requests of one pod alone, repository by
        # repository, and the work really was shared
        assert pods_counts == alone_counts
        assert len(alone_counts) == len(repositories)
        outcomes = sum((pod.health.outcomes for pod in pods), Counter[str]())
        assert outcomes["changed"] == len(repositories)
        assert sum(pod.health.outcomes["changed"] > 0 for pod in pods) >= 2
        skipped = outcomes["skipped_locked"] + outcomes["skipped_fresh"]
        assert skipped == (count - 1) * len(repositories)
        stored = documents(s3, bucket, "shared")
        assert len(stored) == 3 * len(repositories)
        assert stored == documents(s3, bucket, "alone")
        assert {indicators(pod) for pod in pods} == {indicators(alone)}

        # the next collection: one 304 per repository in all, by whichever pod did it before
        before = pods_counts.copy()
        assert all(await asyncio.gather(*(pod.run() for pod in pods)))
        assert pods_counts - before == Counter(dict.fromkeys(repositories, 1))
        assert {indicators(pod) for pod in pods} == {indicators(alone)}


async def test_a_repository_another_pod_is_collecting_is_skipped(
    collection: Collection, make_database: Callable[..., str]
) -> None:
    database = make_database()
    for repo in ("a/busy", "a/free"):
        collection.github.add_repository(repo)
    with psycopg.connect(psycopg_url(database), autocommit=True) as other_pod:
        other_pod.execute(INSTALLATIONS)
        other_pod.execute("SELECT pg_advisory_lock(%s)", (lock_key("a/busy"),))
        metrics = await collection.run(repositories=["a/busy", "a/free"], database_url=database)
    assert metrics.health.outcomes == Counter({"skipped_locked": 1, "changed": 1})
    assert not any("/a/busy/" in request for request in collection.github.requests)
    assert metrics.store.repositories() == ["a/free"]
    assert metrics.health.last_success is not None  # skipping is not failing


async def test_a_repository_another_pod_just_collected_is_left_to_it(
    collection: Collection, make_database: Callable[..., str]
) -> None:
    database = graph_database(make_database)
    collection.github.add_repository("a/b")
    collection.github.add_pull_request("a/b", title=UPDATE, author=KEBECHET, author_type="Bot",
                                       at=at(0))  # fmt: skip
    shared = {"repositories": ["a/b"], "database_url": database}
    await collection.run(**shared, instance_id="pod-a")
    asked = collection.requests()
    other = await collection.run(**shared, instance_id="pod-b")
    assert other.health.outcomes == Counter({"skipped_fresh": 1})
    assert collection.requests() == asked
    assert len(other.knowledge["a/b"].pull_requests) == 1  # read from the store all the same
    again = await collection.run(**shared, instance_id="pod-a")  # its own: collected
    assert again.health.outcomes == Counter({"unchanged": 1})
    later = RepoMetrics(other.settings, other.store)  # an interval later, pod-a is gone
    later.store.mark("a/b", Collected("pod-a", time.time() - 3600))
    assert await later.run()
    assert later.health.outcomes == Counter({"unchanged": 1})


def documents(s3: Any, bucket: str, deployment: str) -> dict[str, Any]:
    """The stored documents but for the run-time fields (first_seen, who collected when)."""
    prefix = f"data/{deployment}/"
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
        key = item["Key"]
        if key.endswith("/collected.json"):
            continue
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        document.get("state", {}).pop("first_seen", None)
        found[key.removeprefix(prefix)] = document
    return found


def indicators(metrics: RepoMetrics) -> str:
    """The exposition of the indicators (not the pod's own collection numbers)."""

    class Indicators:
        def collect(self) -> list[Any]:
            return metrics.families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Indicators())
    exposition = generate_latest(registry).decode()
    assert "thoth_kebechet_pull_requests{" in exposition
    return exposition


class CountingBackend(LocalBackend):
    """A folder that counts the documents read from it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()

    def read(self, key: str) -> bytes | None:
        self.reads[key] += 1
        return super().read(key)


def test_a_refresh_reads_only_what_another_pod_changed(tmp_path: Path) -> None:
    writer = KnowledgeStore(LocalBackend(tmp_path))
    for n in range(5):
        writer.save(Knowledge(f"a/r{n}"))
    backend = CountingBackend(tmp_path)
    reader = KnowledgeStore(backend)
    known = reader.refresh({})
    assert sorted(known) == [f"a/r{n}" for n in range(5)]
    assert sum(backend.reads.values()) == 5 * 3
    backend.reads.clear()
    assert reader.refresh(known) == {}
    assert sum(backend.reads.values()) == 0
    changed = Knowledge("a/r3")
    changed.issues[1] = Issue(1, "t", "dave", False, "open", "2026-11-02T00:00:00Z",
                              "2026-11-02T00:00:00Z")  # fmt: skip
    writer.save(changed)
    again = reader.refresh(known)
    assert list(again) == ["a/r3"] and 1 in again["a/r3"].issues
    assert set(backend.reads) == {f"repo-metrics/a/r3/{name}.json" for name in DOCUMENTS}


async def test_a_serving_pod_shows_what_another_pod_collected(
    collection: Collection, make_database: Callable[..., str]
) -> None:
    database = graph_database(make_database)
    collection.github.add_repository("a/b")
    shared = {"repositories": ["a/b"], "database_url": database}
    listen = f"127.0.0.1:{free_port()}"
    settings = collection.settings(**shared, instance_id="pod-b", listen=listen,
                                   refresh_interval="1s")  # fmt: skip
    task = asyncio.create_task(serve(settings))
    merged = 'thoth_kebechet_pull_requests{kind="dependencies",manager="update",state="merged"}'
    try:
        async with aiohttp.ClientSession() as session:
            await scrape(session, listen, "\nthoth_repo_metrics_collection_timestamp_seconds ")
            assert "thoth_kebechet_pull_requests{" not in await scrape(session, listen, "")
            collection.github.add_pull_request("a/b", title=UPDATE, author=KEBECHET,
                                               author_type="Bot", at=at(0))  # fmt: skip
            collection.github.merge("a/b", 1, at(1))
            # pod-b collected a/b (empty then) moments ago: with a 1 h interval pod-a would
            # leave it to pod-b; an interval of 1 ms stands for "an interval later"
            pod_a = await collection.run(**shared, instance_id="pod-a", interval=0.001)
            assert pod_a.health.outcomes == Counter({"changed": 1})
            assert f"{merged} 1.0" in await scrape(session, listen, merged)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def scrape(session: aiohttp.ClientSession, listen: str, wanted: str) -> str:
    """/metrics once it holds ``wanted`` (waiting up to 10 s for it)."""
    body = ""
    for _ in range(100):
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"http://{listen}/metrics") as response:
                body = await response.text()
            if wanted in body:
                return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {wanted} in /metrics after 10 s:\n{body}")


@pytest.mark.e2e
async def test_two_once_processes_collect_each_repository_once(
    tmp_path: Path, s3_endpoint: str, make_database: Callable[..., str]
) -> None:
    """The same with two ``repo-metrics --once`` processes started together, each its own
    event loop and connections, against a stand-in slow enough that they overlap."""
    database = graph_database(make_database)
    bucket = f"thoth-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    counts: dict[str, Counter[str]] = {"alone": Counter(), "shared": Counter()}
    stand_ins = {name: populated() for name in counts}
    apps = {name: stand_ins[name].app() for name in counts}
    for name, app in apps.items():
        app.middlewares.append(per_repository(counts[name], delay=0.03))  # > process start-up
    async with TestServer(apps["alone"]) as alone, TestServer(apps["shared"]) as shared:

        async def once(server: BaseTestServer, deployment: str, pod: str) -> int:
            config = tmp_path / f"{pod}.yaml"
            config.write_text(yaml.safe_dump({
                "github_url": str(server.make_url("")), "database_url": database,
                "repositories": REPOSITORIES, "instance_id": pod, "concurrency": 2,
                "s3": {"endpoint_url": s3_endpoint, "bucket": bucket, "deployment": deployment},
            }))  # fmt: skip
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "thoth_monitoring", "repo-metrics", "--once",
                "--config", str(config), cwd=tmp_path,
                env=os.environ | {"GITHUB_TOKEN": stand_ins[deployment].token},
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            return await asyncio.wait_for(process.wait(), 60)

        assert await once(alone, "alone", "alone") == 0
        runs = await asyncio.gather(
            once(shared, "shared", "pod-a"), once(shared, "shared", "pod-b")
        )
        assert list(runs) == [0, 0]
    assert counts["shared"] == counts["alone"]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    stored = documents(s3, bucket, "shared")
    assert len(stored) == 3 * len(REPOSITORIES)
    assert stored == documents(s3, bucket, "alone")
    collectors = {
        json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())["collected"]["by"]
        for item in s3.list_objects_v2(Bucket=bucket, Prefix="data/shared/")["Contents"]
        if item["Key"].endswith("/collected.json")
    }
    assert collectors == {"pod-a", "pod-b"}  # the work was shared
