"""Which repositories: Kebechet's active installations in the knowledge graph (a real
PostgreSQL), and whole organisations from the config."""

from collections import Counter

import psycopg

from tests.repo_metrics.conftest import KEBECHET, UPDATE, Collection, at
from thoth_monitoring.core.database import psycopg_url


async def test_active_installations_of_the_knowledge_graph_are_collected(
    collection: Collection, seeded_url: str
) -> None:
    with psycopg.connect(psycopg_url(seeded_url)) as conn:
        rows = conn.execute(
            "SELECT slug, bool_or(is_active) FROM kebechet_github_installations GROUP BY slug"
        ).fetchall()
    active = sorted(slug for slug, is_active in rows if is_active)
    inactive = sorted(slug for slug, is_active in rows if not is_active)
    assert active and inactive  # the seed has both
    for slug in active[1:] + inactive:  # the first active one is not on GitHub (any more)
        collection.github.add_repository(slug)
        collection.github.add_pull_request(slug, title=UPDATE, author=KEBECHET,
                                           author_type="Bot", at=at(1))  # fmt: skip
    metrics = await collection.run(repositories=[], database_url=seeded_url)
    assert sorted(metrics.knowledge) == active  # inactive installations are not collected
    assert metrics.health.outcomes == Counter({"changed": len(active) - 1, "gone": 1})
    assert metrics.installations == Counter({True: len(active), False: len(inactive)})
    assert metrics.knowledge[active[0]].state.gone == 404


async def test_an_unreachable_knowledge_graph_fails_the_run_and_collects_nothing_unlocked(
    collection: Collection,
) -> None:
    """The database holds the repository locks too: without it another pod could be
    collecting the same repository, so nothing is collected."""
    collection.github.add_repository("a/b")
    url = "postgresql://nobody@127.0.0.1:1/thoth"  # nothing listens on port 1
    metrics = await collection.run(repositories=["a/b"], database_url=url, database_timeout=2)
    assert metrics.health.outcomes == Counter({"failed": 1})
    assert collection.requests() == 0
    assert metrics.health.last_success is None


async def test_one_pod_without_locks_collects_config_repositories_while_the_graph_is_down(
    collection: Collection,
) -> None:
    collection.github.add_repository("a/b")
    url = "postgresql://nobody@127.0.0.1:1/thoth"
    metrics = await collection.run(
        repositories=["a/b"], database_url=url, database_timeout=2, repository_locks=False
    )
    assert metrics.health.outcomes == Counter({"changed": 1})
    assert metrics.health.last_success is None  # the installations were not read


async def test_an_organisation_brings_its_repositories(collection: Collection) -> None:
    for slug in ("aicoe/one", "aicoe/two", "thoth-station/three"):
        collection.github.add_repository(slug)
    metrics = await collection.run(repositories=[], organizations=["aicoe"])
    assert sorted(metrics.knowledge) == ["aicoe/one", "aicoe/two"]
