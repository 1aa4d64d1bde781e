"""``thoth-monitoring alert-receiver``: Alertmanager webhook → exactly one GitHub issue per alert
group, updated while it fires, closed with a comment when it resolves.

The webhook only records the notification as its group's desired state (SQLite in the data
folder; a newer notification supersedes a queued older one, an older one arriving late is
ignored) and answers at once, or 503 at once when too many groups wait or the record cannot be
written. One worker drives GitHub to the recorded states, one group at a time, within the rate
limit: a rate-limit answer pauses it (durably) until GitHub's reset. The group's key (a hash of
Alertmanager's ``groupKey``) is hidden in the issue body; issues are found through the
list-issues API filtered by one common label (strongly consistent, unlike search) and cached.
After any failed GitHub call the cache is dropped: the next attempt re-lists and decides from
what exists, so a create that GitHub applied but did not confirm is never repeated.

Several replicas (``state_url``: the store in PostgreSQL) share the desired states: each worker
claims a group under a lease, reads the issue the group is bound to (a conditional GET) before
trusting its own cache, re-lists when the previous attempt did not finish, and after every create
lists the group's open issues and closes all but the oldest as duplicates of it. Writes of all
replicas are spaced together, and a rate-limit pause holds for all of them.
"""

import asyncio
import base64
import contextlib
import hmac
import ipaddress
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import jinja2
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import Field, SecretStr, model_validator

from thoth_monitoring.alert_receiver.command import DEFAULT_LISTEN
from thoth_monitoring.alert_receiver.github import (
    Comment,
    GitHubError,
    GitHubIssues,
    Issue,
    IssueTracker,
    RateLimited,
)
from thoth_monitoring.alert_receiver.payload import (
    GitHubRepository,
    Notification,
    PayloadError,
    parse_notification,
    repository,
)
from thoth_monitoring.alert_receiver.pg_store import PostgresGroupStore
from thoth_monitoring.alert_receiver.render import (
    KEY_PATTERN,
    TEMPLATES,
    RenderedIssue,
    Renderer,
    compose,
    group_key,
    misrouted_note,
)
from thoth_monitoring.alert_receiver.store import (
    Backlog,
    GroupStore,
    Pending,
    Recorded,
    Store,
    StoreUnavailable,
)
from thoth_monitoring.core import service
from thoth_monitoring.core.config import ConfigError, Duration, NonNegativeDuration
from thoth_monitoring.core.database import DEFAULT_DATA_DIR, DatabaseUrl
from thoth_monitoring.core.retry import Backoff
from thoth_monitoring.core.service import Service
from thoth_monitoring.core.settings import CommandSettings

log = logging.getLogger(__name__)

OPT_OUT_ANNOTATION = "github_close_on_resolve"
UNUSABLE_REPOSITORY = {403, 404, 410}
REJECTED = {400, 422}  # GitHub will never accept this content: drop the group's update
DATA_DIR = DEFAULT_DATA_DIR.parent / "alert-receiver"
STATE_FILE = "state.sqlite3"
STORE_TIMEOUT = 5.0  # the longest a webhook waits for its record
MAX_RETRY_DELAY = 60.0
SHARED_POLL_SECONDS = 1.0  # how soon an idle worker sees a group another replica recorded
RESOLVED_MARKER = "<!-- thoth-alert-resolved: {key} {ends_at} -->"


class ReceiverSettings(CommandSettings):
    """Every option of the command; each may come from the config file or a flag."""

    listen: str = DEFAULT_LISTEN
    default_repo: GitHubRepository
    github_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_token_file: Path | None = None
    common_label: str = "thoth-alert"
    key_template: str | None = None
    write_spacing: NonNegativeDuration = 1.0
    github_max_retries: int = Field(4, ge=0, le=10)
    reopen_window: Duration = 86400.0
    close_on_resolve: bool = True
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    basic_username: str | None = None
    basic_password: SecretStr | None = None
    auth_disabled: bool = False
    allow_unauthenticated: bool = False
    max_payload_bytes: int = Field(1 << 20, ge=1024)
    template_dir: Path | None = None
    dry_run: bool = False
    data_dir: Path = DATA_DIR
    max_pending: int = Field(1000, ge=1)
    state_url: DatabaseUrl | None = None
    replica: str = Field(default_factory=socket.gethostname, min_length=1)

    @model_validator(mode="after")
    def _credentials_required(self) -> "ReceiverSettings":
        """Without credentials anyone who reaches the port can file issues: that takes
        ``auth_disabled`` on a loopback address, or ``allow_unauthenticated`` on any other."""
        if self.authenticated() or self.allow_unauthenticated:
            return self
        if not self.auth_disabled:
            raise ValueError(
                "webhook credentials are required: set bearer_token(_file) or basic_username "
                "and basic_password, or auth_disabled: true"
            )
        if not _loopback(self.listen):
            raise ValueError(
                f"listen {self.listen} is not a loopback address: refusing to accept webhooks "
                "without credentials there; set credentials, listen on 127.0.0.1, or give "
                "--allow-unauthenticated (allow_unauthenticated: true)"
            )
        return self

    @model_validator(mode="after")
    def _templates_load(self) -> "ReceiverSettings":
        """A missing or broken template is a configuration error, not a traceback later."""
        try:
            Renderer(self.template_dir or TEMPLATES, key_template=self.key_template)
        except jinja2.TemplateSyntaxError as error:
            where = f"template_dir: {error.name}" if error.name else "key_template"
            raise ValueError(f"{where}: line {error.lineno}: {error.message}") from None
        except jinja2.TemplateNotFound as error:
            raise ValueError(f"template_dir: {error.message}") from None
        return self

    def authenticated(self) -> bool:
        """Whether webhooks must carry credentials (they must whenever some are configured)."""
        return bool(self.bearer_token or self.bearer_token_file or self.basic_username)

    def github_token_value(self) -> str:
        if self.github_token is not None:
            return self.github_token.get_secret_value()
        if self.github_token_file is not None:
            return self.github_token_file.read_text().strip()
        token = os.environ.get("GITHUB_TOKEN", "")
        if not token and not self.dry_run:
            raise ConfigError(
                "alert-receiver", [("github_token", "not set: give GITHUB_TOKEN, "
                                    "github_token or github_token_file")]
            )  # fmt: skip
        return token

    def accepted_authorization(self) -> set[str]:
        """The Authorization header values Alertmanager's http_config would send."""
        accepted = set()
        if self.bearer_token is not None:
            accepted.add(f"Bearer {self.bearer_token.get_secret_value()}")
        if self.bearer_token_file is not None:
            accepted.add(f"Bearer {self.bearer_token_file.read_text().strip()}")
        if self.basic_username is not None:
            password = self.basic_password.get_secret_value() if self.basic_password else ""
            pair = f"{self.basic_username}:{password}".encode()
            accepted.add("Basic " + base64.b64encode(pair).decode())
        return accepted


@dataclass
class ReceiverMetrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry())

    def __post_init__(self) -> None:
        prefix = "thoth_alert_receiver"
        self.notifications = Counter(
            f"{prefix}_notifications", "Recorded notifications the worker carried out, by "
            "outcome (github_error and rate_limited: tried again later).", ["outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.github_requests = Counter(
            f"{prefix}_github_requests", "GitHub API requests by operation and HTTP status "
            "(0: no answer).", ["operation", "code"], registry=self.registry,
        )  # fmt: skip
        self.rate_limit_remaining = Gauge(
            f"{prefix}_github_rate_limit_remaining", "x-ratelimit-remaining of the last answer.",
            registry=self.registry,
        )  # fmt: skip
        self.recorded = Counter(
            f"{prefix}_recorded_notifications", "Webhook notifications by what the receiver "
            "did with them: queued, stale (older than the recorded one), queue_full, "
            "store_unavailable.", ["outcome"], registry=self.registry,
        )  # fmt: skip
        self.pending = Gauge(
            f"{prefix}_pending_groups", "Alert groups whose issue is not yet as recorded.",
            registry=self.registry,
        )  # fmt: skip
        self.oldest_pending = Gauge(
            f"{prefix}_oldest_pending_age_seconds", "How long the longest-waiting group has "
            "waited for GitHub (0: none waits).", registry=self.registry,
        )  # fmt: skip
        self.open_issues = Gauge(
            f"{prefix}_tracked_open_issues", "Open alert issues the receiver tracks.",
            registry=self.registry,
        )  # fmt: skip
        self.misrouted = Counter(
            f"{prefix}_misrouted_notifications", "Notifications whose repo label named an unknown "
            "or forbidden repository, filed in the default repository instead.",
            registry=self.registry,
        )  # fmt: skip
        self.duplicates_closed = Counter(
            f"{prefix}_duplicates_closed", "Issues closed as duplicates of an older open issue "
            "of the same group (two creates for one group).", registry=self.registry,
        )  # fmt: skip
        self.claims_taken_over = Counter(
            f"{prefix}_claims_taken_over", "Groups this replica took over after another "
            "replica's claim expired unfinished (shared state).", registry=self.registry,
        )  # fmt: skip


class Receiver:
    """The issue logic, independent of HTTP: ``accept`` records, ``run`` (the one worker)
    carries out."""

    def __init__(
        self,
        settings: ReceiverSettings,
        tracker: IssueTracker,
        renderer: Renderer,
        metrics: ReceiverMetrics,
        store: Store,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry_delay: float = 1.0,
    ) -> None:
        self.settings = settings
        self.tracker = tracker
        self.renderer = renderer
        self.metrics = metrics
        self.store = store
        self.clock = clock  # for the reopen window; queue and pause times are Unix times
        self.backoff = Backoff(initial=retry_delay, maximum=MAX_RETRY_DELAY)
        self.issues: dict[str, Issue] = {}
        self.listed: set[str] = set()
        self.unusable: set[str] = set()
        self.doubled: set[str] = set()  # keys a listing showed with several open issues
        self.ready = False
        self.wake = asyncio.Event()
        self.pause_until = 0.0  # from a rate-limit answer, until it is stored
        self._oldest_since: float | None = None
        metrics.oldest_pending.set_function(
            lambda: 0.0 if self._oldest_since is None else time.time() - self._oldest_since
        )

    async def accept(self, notification: Notification) -> Recorded:
        """Record the notification as its group's desired state (all the webhook waits for)."""
        key = group_key(notification, self.renderer.key_template)
        outcome, backlog = await self.store.record(
            key, notification.model_dump_json(), _stamp(notification), time.time(),
            self.settings.max_pending,
        )  # fmt: skip
        self._observe(backlog)
        self.metrics.recorded.labels(outcome).inc()
        if outcome == "queued":
            self.wake.set()
        log.info(
            "notification_recorded",
            extra={
                "key": key,
                "status": notification.status,
                "outcome": outcome,
                "pending": backlog.size,
            },
        )
        return outcome

    async def run(self) -> None:
        """The worker, until cancelled: list the default repository (``/readyz`` says 503 until
        then), then bring each pending group's issue to its recorded state, the longest waiting
        first. Every failure is retried with a growing delay; nothing stops the worker."""
        self._observe(await self.store.backlog())
        failures = 0
        while True:
            try:
                await self._step()
                failures = 0
                continue
            except RateLimited as error:
                self.metrics.notifications.labels("rate_limited").inc()
                self.pause_until = max(self.pause_until, error.until)
                continue
            except (GitHubError, StoreUnavailable) as error:
                log.warning("worker_failed", extra={"error": error})
            except Exception:  # a bug must not stop every later delivery
                log.exception("worker_failed")
            failures += 1
            await asyncio.sleep(self.backoff.delay(failures))

    async def warm(self) -> None:
        """List the default repository's alert issues."""
        await self._ensure_listed(self.settings.default_repo)

    async def deliver(self, notification: Notification) -> str:
        """Bring the group's issue up to date; returns what was done. The issue does not show
        the sending Alertmanager's URL: it differs between the two of an HA pair, and would
        make every delivery an edit."""
        ends_at = _ends_at(notification)
        rendered = self.renderer.render(
            notification.model_copy(update={"externalURL": ""}),
            resolved_at=_text(ends_at) if ends_at else "",
        )
        repo, note = await self._route(notification)
        await self._ensure_listed(repo)  # again after a failure dropped the listing
        if rendered.key in self.doubled:
            await self._close_duplicates(repo, rendered.key)
        issue = self.issues.get(rendered.key)
        if notification.status == "firing":
            outcome = await self._firing(repo, note, rendered, issue, self.clock())
            if outcome in ("created", "refiled") and self.store.shared:
                await self._close_duplicates(self.issues[rendered.key].repo, rendered.key)
        else:
            outcome = await self._resolved(notification, rendered, issue, ends_at)
        self.metrics.notifications.labels(outcome).inc()
        self.metrics.open_issues.set(sum(i.state == "open" for i in self.issues.values()))
        log.info("notification", extra={"key": rendered.key, "outcome": outcome})
        return outcome

    async def _step(self) -> None:
        await self._wait_out_pause()
        if not self.ready:
            await self.warm()
            self.ready = True
            log.info("ready", extra={"tracked_issues": len(self.issues)})
            return
        self.wake.clear()  # before looking, so that a record made meanwhile wakes us
        group = await self.store.next_due(time.time())
        if group is None:
            due = await self.store.next_due_time()
            wait = 60.0 if due is None else due - time.time()
            if self.store.shared:  # another replica's webhook does not set our event
                wait = min(wait, SHARED_POLL_SECONDS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self.wake.wait()
            return
        await self._drive(group)

    async def _drive(self, group: Pending) -> None:
        try:
            async with self._deadline():
                await self._refresh(group)
                await self.deliver(Notification.model_validate_json(group.notification))
        except RateLimited:
            await self.store.release(group)
            raise  # refused, not applied: the group waits, unchanged, for the pause to end
        except asyncio.CancelledError:  # stopping: hand the group on now, not when the lease ends
            with contextlib.suppress(StoreUnavailable):  # as unfinished: the next one re-lists
                await self.store.retry_later(group, time.time())
            raise
        except Exception as error:  # whatever it was, the other groups go on meanwhile
            if isinstance(error, GitHubError | TimeoutError):
                self.metrics.notifications.labels("github_error").inc()
                self.listed.clear()  # whatever GitHub did, the next attempt sees it
            await self._bind(group)
            if isinstance(error, GitHubError) and error.status in REJECTED:
                log.error("notification_dropped", extra={"key": group.key, "error": error})
                self._observe(await self.store.done(group))
                return
            await self.store.retry_later(
                group, time.time() + self.backoff.delay(group.attempts + 1)
            )
            raise
        await self._bind(group)
        self._observe(await self.store.done(group))

    def _deadline(self) -> asyncio.Timeout:
        """A drive must end before its claim's lease does, or another replica could drive the
        same group at the same time."""
        return asyncio.timeout(None if self.store.lease is None else self.store.lease * 0.8)

    async def _refresh(self, group: Pending) -> None:
        """Shared state: make this replica's view of the group's issue current. The bound issue
        is read (a free 304 when unchanged); unbound after an unfinished attempt (here or on a
        replica whose claim expired), the repositories are listed again: a create that failed
        may have been applied."""
        if not self.store.shared:
            return
        if group.taken_over:
            self.metrics.claims_taken_over.inc()
        if group.issue is not None:
            try:
                self.issues[group.key] = await self.tracker.get_issue(*group.issue)
                return
            except GitHubError as error:
                if error.status not in (404, 410):  # deleted or moved: find it anew
                    raise
                self.issues.pop(group.key, None)
        if group.issue is not None or group.attempts or group.taken_over:
            self.listed.clear()

    async def _bind(self, group: Pending) -> None:
        """Keep the issue the group now has with it in a shared store, for the next replica."""
        issue = self.issues.get(group.key)
        if self.store.shared and issue is not None and (issue.repo, issue.number) != group.issue:
            await self.store.bind(group, issue.repo, issue.number)

    async def _close_duplicates(self, repo: str, key: str) -> None:
        """Keep the oldest open issue of the group and close the others as its duplicates:
        two creates happened (two replicas, or a create applied but answered 5xx and filed
        again before a listing showed it)."""
        issues = await self.tracker.list_issues(repo, self.settings.common_label, state="open")
        same = sorted((i for i in issues if _key_of(i) == key), key=lambda i: i.number)
        for duplicate in same[1:]:
            link = same[0].html_url or f"#{same[0].number}"
            await self.tracker.comment(duplicate, f"Duplicate of #{same[0].number} ({link}).")
            self._remember(
                await self.tracker.update_issue(
                    duplicate, state="closed", state_reason="not_planned"
                )
            )
            self.metrics.duplicates_closed.inc()
            log.warning(
                "duplicate_closed",
                extra={"key": key, "duplicate": duplicate.number, "kept": same[0].number},
            )
        if same:
            self.issues[key] = same[0]
        self.doubled.discard(key)

    async def _wait_out_pause(self) -> None:
        """Send nothing to GitHub before a rate limit's reset, even across restarts."""
        stored = await self.store.paused_until()
        if self.pause_until > stored:
            await self.store.pause(self.pause_until)
        wait = max(stored, self.pause_until) - time.time()
        if wait > 0:
            log.warning("github_paused", extra={"seconds": round(wait, 1)})
            await asyncio.sleep(wait)

    def _observe(self, backlog: Backlog) -> None:
        self.metrics.pending.set(backlog.size)
        self._oldest_since = backlog.oldest_since

    async def _firing(
        self, repo: str, note: str, rendered: RenderedIssue, issue: Issue | None, now: datetime
    ) -> str:
        body = compose(note, rendered.body)
        if issue is None:
            self._remember(await self._create(repo, rendered.title, body, rendered))
            return "created"
        if issue.state == "open":
            if (issue.title, issue.body) == (rendered.title, issue_body(issue, body)):
                return "unchanged"
            self._remember(
                await self.tracker.update_issue(
                    issue, title=rendered.title, body=issue_body(issue, body)
                )
            )
            return "updated"
        if issue.closed_at and _age(issue.closed_at, now) <= self.settings.reopen_window:
            self._remember(
                await self.tracker.update_issue(
                    issue, state="open", title=rendered.title, body=issue_body(issue, body)
                )
            )
            return "reopened"
        earlier = (
            f"Fired again; the earlier occurrence is {issue.html_url or f'#{issue.number}'}.\n\n"
        )
        self._remember(
            await self._create(issue.repo, rendered.title, compose(earlier, body), rendered)
        )
        return "refiled"

    async def _resolved(
        self,
        notification: Notification,
        rendered: RenderedIssue,
        issue: Issue | None,
        ends_at: datetime | None,
    ) -> str:
        """One step that can be repeated: the resolved text and the closing in one write, then
        the resolution comment unless this resolution's comment is already there."""
        if issue is None:
            return "ignored"
        fields: dict[str, Any] = {}
        body = issue_body(issue, rendered.body)
        if (issue.title, issue.body) != (rendered.title, body):
            fields |= {"title": rendered.title, "body": body}
        opted_out = notification.commonAnnotations.get(OPT_OUT_ANNOTATION, "").lower() == "false"
        leave_open = not self.settings.close_on_resolve or opted_out
        if not leave_open and issue.state == "open":
            fields |= {"state": "closed", "state_reason": "completed"}
        if fields:
            issue = await self.tracker.update_issue(issue, **fields)
            self._remember(issue)
        commented = await self._comment_resolution(issue, rendered.key, ends_at)
        if not (fields or commented):
            return "unchanged"
        return "resolved-left-open" if leave_open else "closed"

    async def _comment_resolution(self, issue: Issue, key: str, ends_at: datetime | None) -> bool:
        stamp = _text(ends_at) if ends_at else "unknown"
        marker = RESOLVED_MARKER.format(key=key, ends_at=stamp)
        comments: list[Comment] = await self.tracker.list_comments(issue)
        if any(marker in comment.body for comment in comments):
            return False
        text = f"Resolved at {stamp}: every alert of this group has stopped firing.\n\n{marker}"
        await self.tracker.comment(issue, text)
        return True

    async def _create(self, repo: str, title: str, body: str, rendered: RenderedIssue) -> Issue:
        try:
            return await self.tracker.create_issue(repo, title, body, list(rendered.labels))
        except GitHubError as error:
            if error.status not in UNUSABLE_REPOSITORY or repo == self.settings.default_repo:
                raise
            self.unusable.add(repo)
            self.metrics.misrouted.inc()
            note = misrouted_note(repo, repo)
            return await self.tracker.create_issue(
                self.settings.default_repo, title, compose(note, body), list(rendered.labels)
            )

    async def _route(self, notification: Notification) -> tuple[str, str]:
        """The repository named by the ``repo`` label, or the default one (with a note)."""
        label = notification.commonLabels.get("repo") or notification.groupLabels.get("repo")
        if not label:
            return self.settings.default_repo, ""
        repo = repository(label, default_owner=self.settings.default_repo.split("/")[0])
        if repo is not None and repo not in self.unusable:
            try:
                await self._ensure_listed(repo)
                return repo, ""
            except GitHubError as error:
                if error.status not in UNUSABLE_REPOSITORY:
                    raise
                self.unusable.add(repo)
        self.metrics.misrouted.inc()
        await self._ensure_listed(self.settings.default_repo)
        return self.settings.default_repo, misrouted_note(label, repo)

    async def _ensure_listed(self, repo: str) -> None:
        if repo in self.listed:
            return
        issues = await self.tracker.list_issues(repo, self.settings.common_label)
        for issue in issues:
            self._remember(issue)
        open_keys = [_key_of(issue) for issue in issues if issue.state == "open"]
        self.doubled |= {key for key in open_keys if key and open_keys.count(key) > 1}
        self.listed.add(repo)

    def _remember(self, issue: Issue) -> None:
        """The issue a group's key stands for: its open one (the oldest, should a duplicate
        exist), else its latest closed one; a duplicate closed as not planned only when there
        is nothing else."""
        key = _key_of(issue)
        if key is None:
            return
        known = self.issues.get(key)
        if (
            known is None
            or (known.repo, known.number) == (issue.repo, issue.number)
            or known.repo != issue.repo
            or _rank(known) < _rank(issue)
        ):
            self.issues[key] = issue


def _key_of(issue: Issue) -> str | None:
    match = KEY_PATTERN.search(issue.body)
    return None if match is None else match.group(1)


def _rank(issue: Issue) -> tuple[int, int]:
    if issue.state == "open":
        return 2, -issue.number
    return (0 if issue.state_reason == "not_planned" else 1), issue.number


def issue_body(issue: Issue, rendered: str) -> str:
    """Keep a note the issue was created with (routing, earlier occurrence) above new text."""
    for prefix in ("Fired again;", "Routed to the default repository"):
        if issue.body.startswith(prefix) and not rendered.startswith(prefix):
            return compose(issue.body.split("\n\n", 1)[0] + "\n\n", rendered)
    return rendered


def _age(stamp: str, now: datetime) -> float:
    return (now - datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()


def _stamp(notification: Notification) -> float:
    """When the group last changed, by its alerts' own times (the latest start, or end of a
    resolved alert): orders notifications from either Alertmanager of an HA pair."""
    times = [_instant(alert.startsAt) for alert in notification.alerts] + [
        _instant(alert.endsAt) for alert in notification.alerts if alert.status == "resolved"
    ]
    return max((t.timestamp() for t in times if t is not None), default=0.0)


def _ends_at(notification: Notification) -> datetime | None:
    """When the last alert of a resolved group stopped firing."""
    ends = [_instant(alert.endsAt) for alert in notification.alerts if alert.status == "resolved"]
    return max((end for end in ends if end is not None), default=None)


def _instant(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="seconds")


class DryRun:
    """An IssueTracker that logs what it would do and remembers it, touching no GitHub."""

    def __init__(self) -> None:
        self.numbers = 0

    async def list_issues(self, repo: str, label: str, state: str = "all") -> list[Issue]:
        log.info("dry_run", extra={"call": "list_issues", "repo": repo, "label": label})
        return []

    async def get_issue(self, repo: str, number: int) -> Issue:
        raise GitHubError(f"dry run: issue {repo}#{number} is not known", 404)

    async def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> Issue:
        self.numbers += 1
        log.info("dry_run", extra={"call": "create_issue", "repo": repo, "title": title})
        return Issue(repo, self.numbers, title, body, "open", None, "")

    async def update_issue(self, issue: Issue, **fields: Any) -> Issue:
        log.info(
            "dry_run",
            extra={
                "call": "update_issue",
                "repo": issue.repo,
                "number": issue.number,
                "fields": sorted(fields),
            },
        )
        state = fields.get("state", issue.state)
        closed_at = datetime.now(UTC).isoformat() if state == "closed" else None
        return Issue(issue.repo, issue.number, fields.get("title", issue.title),
                     fields.get("body", issue.body), state, closed_at, issue.html_url)  # fmt: skip

    async def comment(self, issue: Issue, body: str) -> None:
        log.info("dry_run", extra={"call": "comment", "repo": issue.repo, "number": issue.number})

    async def list_comments(self, issue: Issue) -> list[Comment]:
        log.info(
            "dry_run", extra={"call": "list_comments", "repo": issue.repo, "number": issue.number}
        )
        return []


def make_app(settings: ReceiverSettings, receiver: Receiver) -> web.Application:
    accepted = settings.accepted_authorization()

    async def alerts(request: web.Request) -> web.Response:
        if settings.authenticated() and not _authorized(request, accepted):
            return web.json_response(
                {"error": "missing or invalid credentials"}, status=401,
                headers={"WWW-Authenticate": 'Bearer realm="alert-receiver"'},
            )  # fmt: skip
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response(
                {"error": f"payload larger than {settings.max_payload_bytes} bytes"}, status=413
            )
        except web.RequestPayloadError as error:  # e.g. a Content-Encoding the body does not have
            return web.json_response({"error": f"unreadable body: {error}"}, status=400)
        try:
            notification = parse_notification(raw)
        except PayloadError as error:
            return web.json_response(error.answer(), status=error.status)
        try:
            outcome = await receiver.accept(notification)
        except StoreUnavailable as error:
            receiver.metrics.recorded.labels("store_unavailable").inc()
            log.error("store_unavailable", extra={"error": error})
            return web.json_response({"error": "cannot record notifications now"}, status=503)
        if outcome == "queue_full":
            waiting = f"{receiver.settings.max_pending} alert groups wait for GitHub"
            return web.json_response({"error": f"{waiting}; retry later"}, status=503)
        return web.json_response({"outcome": outcome}, status=202 if outcome == "queued" else 200)

    return Service(
        "alert receiver",
        receiver.metrics.registry,
        ready=lambda: receiver.ready,
        not_ready="warming",
        routes=[web.post("/alerts", alerts)],
        client_max_size=settings.max_payload_bytes,
    ).app()


def _authorized(request: web.Request, accepted: set[str]) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, then a 500).
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    return any(hmac.compare_digest(given, value.encode()) for value in accepted)


def _loopback(listen: str) -> bool:
    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # every address (""), or a name that may resolve to anything
        return False


def build_tracker(
    settings: ReceiverSettings,
    session: aiohttp.ClientSession,
    metrics: ReceiverMetrics,
    store: Store | None = None,
) -> IssueTracker:
    """The GitHub client; with a shared ``store``, its writes take slots from the store so
    that all replicas together keep ``write_spacing``."""
    if settings.dry_run:
        return DryRun()

    def observe(operation: str, status: int) -> None:
        metrics.github_requests.labels(operation, str(status)).inc()
        if client.rate_limit_remaining is not None:
            metrics.rate_limit_remaining.set(client.rate_limit_remaining)

    async def write_slot() -> None:
        assert store is not None
        await asyncio.sleep(await store.write_slot(settings.write_spacing))

    client = GitHubIssues(
        session, settings.github_url, settings.github_token_value(),
        write_spacing=settings.write_spacing, max_retries=settings.github_max_retries,
        observe=observe, write_slot=write_slot if store is not None and store.shared else None,
    )  # fmt: skip
    return client


def build_store(settings: ReceiverSettings) -> Store:
    """PostgreSQL when ``state_url`` is set (any number of replicas), else SQLite in the data
    folder (one replica only)."""
    if settings.state_url is not None:
        url = settings.state_url.get_secret_value()
        return PostgresGroupStore(url, settings.replica, STORE_TIMEOUT)
    return GroupStore(settings.data_dir / STATE_FILE, STORE_TIMEOUT)


async def serve(settings: ReceiverSettings) -> None:
    """Serve the webhook and run the worker until cancelled."""
    metrics = ReceiverMetrics()
    renderer = Renderer(
        settings.template_dir or TEMPLATES, settings.common_label, settings.key_template
    )
    store = build_store(settings)
    try:
        backlog = await store.open(time.time())
    except StoreUnavailable as error:
        where = "state_url" if store.shared else "data_dir"
        raise ConfigError("alert-receiver", [(where, f"cannot use it: {error}")]) from error
    try:
        async with aiohttp.ClientSession() as session:
            tracker = build_tracker(settings, session, metrics, store)
            receiver = Receiver(settings, tracker, renderer, metrics, store)
            await service.serve(
                make_app(settings, receiver), settings.listen, receiver.run(),
                repo=settings.default_repo, state=store.describe(), replica=settings.replica,
                pending=backlog.size,
            )  # fmt: skip
    finally:
        await store.close()


def render_file(path: Path, template_dir: Path | None = None) -> str:
    """What ``alert-receiver render PAYLOAD.json`` prints; a bad file is a ``ConfigError``."""
    try:
        notification = parse_notification(path.read_bytes())
        rendered = Renderer(template_dir or TEMPLATES).render(
            notification, resolved_at=datetime.now(UTC).isoformat(timespec="seconds")
        )
    except OSError as error:
        raise ConfigError(str(path), [("", f"cannot read: {error.strerror}")]) from None
    except PayloadError as error:
        raise ConfigError(str(path), [("", p) for p in error.problems or [error.message]]) from None
    except jinja2.TemplateError as error:
        raise ConfigError(str(template_dir or TEMPLATES), [("", f"template: {error}")]) from None
    return (
        f"title: {rendered.title}\nlabels: {', '.join(rendered.labels)}\n"
        f"key: {rendered.key}\n\n{rendered.body}"
    )
