"""Incremental collection of one repository's pull requests, reviews, issues and comments.

Each run asks first for the newest-updated page of the repository's issue listing (it holds
pull requests too) with the ETag of the previous run: ``304`` means nothing changed, which costs
one request and nothing of the rate limit. Otherwise the listing is read newest-updated first
until the last ``updated_at`` already stored, and so is the pull-request listing when a pull
request changed. Reviews are read for a pull request until a first review is known, at most
once per version, and never again after they were read for its closed version; comments
likewise for issues with comments and no first response yet.

The first page's URL never changes (no ``since=``): a ``since`` that moves with every run makes
every URL new, and a new URL has no ETag to be answered ``304`` with.
"""

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thoth_monitoring.core.github import GitHubClient, GitHubError, parsed
from thoth_monitoring.repo_metrics.knowledge import (
    Issue,
    Knowledge,
    KnowledgeStore,
    PullRequest,
)

log = logging.getLogger(__name__)

GHOST = "ghost"  # how GitHub shows an account that was deleted
_NEWEST_FIRST = {"state": "all", "sort": "updated", "direction": "desc"}
GONE_STATUSES = (404, 410, 451)


class Outcome(enum.Enum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    GONE = "gone"
    FAILED = "failed"
    SKIPPED_LOCKED = "skipped_locked"  # another pod was collecting it
    SKIPPED_FRESH = "skipped_fresh"  # another pod collected it less than an interval ago


@dataclass(frozen=True)
class Bots:
    """Who is a bot: GitHub's ``type: Bot`` accounts and the configured logins (Kebechet's
    among them)."""

    logins: frozenset[str]

    def __call__(self, user: dict[str, Any] | None) -> bool:
        if not user:
            return False
        login = str(user.get("login") or "")
        return user.get("type") == "Bot" or login in self.logins or login.endswith("[bot]")


class Collector:
    """Collects repositories into a ``KnowledgeStore``; ``save_every`` review or comment
    requests, the records gathered so far are saved, so a killed run loses little."""

    def __init__(
        self,
        store: KnowledgeStore,
        bots: Bots,
        clock: Callable[[], str],
        save_every: int = 25,
    ) -> None:
        self.store = store
        self.bots = bots
        self.clock = clock
        self.save_every = save_every

    async def collect(
        self, github: GitHubClient, repository: str, knowledge: Knowledge | None = None
    ) -> tuple[Outcome, Knowledge]:
        """Bring ``repository``'s knowledge (read from the store unless given) up to date."""
        if knowledge is None:
            knowledge = await asyncio.to_thread(self.store.load, repository)
        return await self._collect(github, knowledge), knowledge

    async def _collect(self, github: GitHubClient, knowledge: Knowledge) -> Outcome:
        state = knowledge.state
        state.first_seen = state.first_seen or self.clock()
        try:
            outcome = await _Run(self, github, knowledge).collect()
        except GitHubError as error:
            repository = knowledge.repository
            if error.status not in GONE_STATUSES:
                log.error(
                    "repository_failed", extra={"repository": repository, "error": str(error)}
                )
                await asyncio.to_thread(self.store.save_records, knowledge)
                return Outcome.FAILED
            if state.gone is None:
                log.warning(
                    "repository_gone",
                    extra={"repository": repository, "status": error.status, "kept": "yes"},
                )
                state.gone, state.gone_since = error.status, self.clock()
                await asyncio.to_thread(self.store.save, knowledge)
            return Outcome.GONE
        if state.gone is not None:
            log.info("repository_back", extra={"repository": knowledge.repository})
            state.gone = state.gone_since = None
            outcome = Outcome.CHANGED
        if outcome is Outcome.CHANGED:
            await asyncio.to_thread(self.store.save, knowledge)
        return outcome


@dataclass
class _Listing:
    items: list[dict[str, Any]] | None  # None: unchanged since the ETag (304)
    etag: str | None
    newest: str


class _Run:
    """One repository's collection: its knowledge and the requests that bring it up to date."""

    def __init__(self, collector: Collector, github: GitHubClient, knowledge: Knowledge) -> None:
        self.collector = collector
        self.github = github
        self.knowledge = knowledge
        self.base = github.url(f"/repos/{knowledge.repository}")
        self.fetches = 0

    async def collect(self) -> Outcome:
        state = self.knowledge.state
        issues = await self._newest("issues", state.issues_etag, state.issues_mark)
        if issues.items is None:
            return Outcome.UNCHANGED
        for item in issues.items:
            if "pull_request" not in item:
                self._issue(item)
        if any("pull_request" in item for item in issues.items):
            pulls = await self._newest("pulls", state.pulls_etag, state.pulls_mark)
            for item in pulls.items or ():
                self._pull_request(item)
            state.pulls_etag, state.pulls_mark = pulls.etag, pulls.newest
        for issue in self.knowledge.issues.values():
            if not issue.comments_known:
                await self._first_response(issue)
        for pull in self.knowledge.pull_requests.values():
            if not pull.reviews_known:
                await self._first_review(pull)
        state.issues_etag, state.issues_mark = issues.etag, issues.newest
        return Outcome.CHANGED

    async def _newest(self, listing: str, etag: str | None, mark: str) -> "_Listing":
        """A listing newest-updated first, down to ``mark`` (items updated at the mark come
        again: harmless, and nothing updated in the same second is missed)."""
        items: list[dict[str, Any]] = []
        first_etag, newest, first = etag, mark, True
        pages = self.github.pages(f"{self.base}/{listing}", f"list_{listing}", _NEWEST_FIRST, etag)
        async with contextlib.aclosing(pages):
            async for answer in pages:
                if answer.status == 304:
                    return _Listing(items=None, etag=etag, newest=mark)
                if first:  # the first page's ETag makes the next run's request conditional
                    first_etag, first = answer.etag, False
                fresh = [item for item in answer.data if _updated(item) >= mark]
                items.extend(fresh)
                newest = max([newest, *(_updated(item) for item in fresh)])
                if len(fresh) < len(answer.data):
                    break
        return _Listing(items=items, etag=first_etag, newest=newest)

    def _issue(self, item: dict[str, Any]) -> None:
        record = parsed(
            lambda: Issue(**self._shared(item), comments=int(item.get("comments") or 0))
        )
        known = self.knowledge.issues.get(record.number)
        if known is not None:
            record.first_response_at = known.first_response_at
            record.comments_checked_at = known.comments_checked_at
        self.knowledge.issues[record.number] = record

    def _pull_request(self, item: dict[str, Any]) -> None:
        record = parsed(
            lambda: PullRequest(
                **self._shared(item),
                labels=sorted(str(label["name"]) for label in item.get("labels") or ()),
                merged_at=item.get("merged_at"),
            )
        )
        known = self.knowledge.pull_requests.get(record.number)
        if known is not None:
            record.first_review_at = known.first_review_at
            record.reviews_checked_at = known.reviews_checked_at
        self.knowledge.pull_requests[record.number] = record

    def _shared(self, item: dict[str, Any]) -> dict[str, Any]:
        """The fields issues and pull requests have alike."""
        user = item.get("user")
        return {
            "number": int(item["number"]),
            "title": str(item.get("title") or ""),
            "author": _login(user),
            "author_is_bot": self.collector.bots(user),
            "state": str(item["state"]),
            "created_at": str(item["created_at"]),
            "updated_at": _updated(item),
            "closed_at": item.get("closed_at"),
        }

    async def _first_review(self, pull: PullRequest) -> None:
        url = f"{self.base}/pulls/{pull.number}/reviews"
        pull.first_review_at = await self._earliest(
            url, "list_reviews", "submitted_at", pull.author
        )
        pull.reviews_checked_at = pull.updated_at
        await self._fetched()

    async def _first_response(self, issue: Issue) -> None:
        url = f"{self.base}/issues/{issue.number}/comments"
        issue.first_response_at = await self._earliest(
            url, "list_comments", "created_at", issue.author
        )
        issue.comments_checked_at = issue.updated_at
        await self._fetched()

    async def _earliest(self, url: str, operation: str, time_field: str, author: str) -> str | None:
        """The earliest review or comment of a listing by someone else, not a bot (a pending
        review has no time yet)."""
        items = await self.github.list_all(url, operation)
        return min(
            (
                str(item[time_field])
                for item in items
                if isinstance(item, dict)
                and item.get(time_field)
                and self._someone_else(item.get("user"), author)
            ),
            default=None,
        )

    def _someone_else(self, user: dict[str, Any] | None, author: str) -> bool:
        """Whether a review or comment counts as a response: not the author's, not a bot's."""
        return not self.collector.bots(user) and _login(user) != author

    async def _fetched(self) -> None:
        self.fetches += 1
        if self.fetches % self.collector.save_every == 0:
            await asyncio.to_thread(self.collector.store.save_records, self.knowledge)


def _login(user: dict[str, Any] | None) -> str:
    return str((user or {}).get("login") or GHOST)


def _updated(item: Any) -> str:
    value = item.get("updated_at") if isinstance(item, dict) else None
    if not isinstance(value, str):
        raise GitHubError(
            f"unexpected answer from GitHub: an item without updated_at: {item!r:.80}"
        )
    return value
