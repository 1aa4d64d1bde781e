"""Which repositories repo-metrics collects: Kebechet's active installations from the knowledge
graph, plus the repositories and whole organisations its configuration lists."""

import re
from dataclasses import dataclass
from typing import Any

from thoth_monitoring.core.database import Limits, read_only

# GitHub's rules for owner and repository names; nothing else may become a store key.
SLUG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")

_INSTALLATIONS = """
SELECT slug, installation_id, bool_or(is_active) AS active
FROM kebechet_github_installations
GROUP BY slug, installation_id
ORDER BY slug
"""  # one row per (repository, runtime environment) in Thoth's schema


@dataclass(frozen=True)
class Repository:
    slug: str
    installation_id: str | None  # the Kebechet GitHub App installation (knowledge graph)
    active: bool
    source: str  # "knowledge graph", "config", or "organisation <name>"


def valid_slug(slug: str) -> bool:
    return SLUG.match(slug) is not None


async def installations(database_url: str, limits: Limits) -> list[Repository]:
    """Every Kebechet installation of the knowledge graph, active or not; rows whose slug is
    not a GitHub repository name are left out (and reported by the caller)."""
    async with read_only(database_url, limits, "thoth-repo-metrics") as conn:
        cursor = await conn.execute(_INSTALLATIONS)
        rows: list[Any] = await cursor.fetchall()
    found = []
    for slug, installation, is_active in rows:
        installation_id = None if installation is None else str(installation)
        found.append(Repository(str(slug), installation_id, bool(is_active), "knowledge graph"))
    return found


def merged(*sources: list[Repository]) -> list[Repository]:
    """One entry per repository, the first source naming it winning, in slug order."""
    seen: dict[str, Repository] = {}
    for source in sources:
        for repository in source:
            seen.setdefault(repository.slug.lower(), repository)
    return sorted(seen.values(), key=lambda r: r.slug.lower())
