"""A small GitHub REST client for the alert receiver: list issues by label (the strongly
consistent list API, never search), create, update, comment, list comments.

Every write goes through one queue with a minimum spacing. A request that GitHub may have
applied but did not confirm (timeout, 5xx, an answer that is not JSON) is repeated only when it
is idempotent (GET, PATCH); a create or comment (POST) raises ``GitHubError`` at once ("may
have been applied"), so that the caller re-reads what exists before deciding again (a request
that never reached GitHub, a refused connection, is retried). A rate-limit answer
raises ``RateLimited`` with the time GitHub allows requests again: the caller pauses every
request until then. Other 5xx and network errors are retried with backoff, a bounded number of
times; what still fails raises ``GitHubError`` with ``retryable`` set.
"""

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import aiohttp

log = logging.getLogger(__name__)

_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
T = TypeVar("T")


class GitHubError(Exception):
    """A GitHub call that failed for good (``retryable`` False) or for now (True). A write may
    have been applied all the same: re-read before deciding again."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class RateLimited(GitHubError):
    """GitHub refused a request for its rate limit; nothing may be sent before ``until`` (Unix
    time). Writing while limited risks the integration being banned."""

    def __init__(self, message: str, status: int, until: float) -> None:
        super().__init__(message, status)
        self.until = until


@dataclass(frozen=True)
class Issue:
    repo: str
    number: int
    title: str
    body: str
    state: str
    closed_at: str | None
    html_url: str

    @classmethod
    def from_api(cls, repo: str, data: dict[str, Any]) -> "Issue":
        return cls(
            repo=repo,
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            state=str(data.get("state") or "open"),
            closed_at=data.get("closed_at"),
            html_url=str(data.get("html_url") or ""),
        )


@dataclass(frozen=True)
class Comment:
    id: int
    body: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Comment":
        return cls(id=int(data["id"]), body=str(data.get("body") or ""))


class IssueTracker(Protocol):
    """What the receiver needs from GitHub (the real client, or a dry run that only logs)."""

    async def list_issues(self, repo: str, label: str) -> list[Issue]: ...

    async def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> Issue: ...

    async def update_issue(self, issue: Issue, **fields: Any) -> Issue: ...

    async def comment(self, issue: Issue, body: str) -> None: ...

    async def list_comments(self, issue: Issue) -> list[Comment]: ...


RequestObserver = Callable[[str, int], None]


class GitHubClient:
    """The real thing, over aiohttp."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        write_spacing: float = 1.0,
        max_retries: int = 4,
        timeout: float = 30.0,
        observe: RequestObserver = lambda operation, status: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "thoth-monitoring-alert-receiver",
        }
        self.write_spacing = write_spacing
        self.max_retries = max_retries
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.observe = observe
        self.sleep = sleep
        self.rate_limit_remaining: int | None = None
        self._write_lock = asyncio.Lock()
        self._last_write = 0.0

    async def list_issues(self, repo: str, label: str) -> list[Issue]:
        """Every issue (open and closed) carrying ``label``, following ``Link`` pagination and
        skipping pull requests."""
        params = {"labels": label, "state": "all", "sort": "created", "direction": "asc"}
        items = await self._list(f"{self.base_url}/repos/{repo}/issues", "list_issues", params)
        return [_parsed(Issue.from_api, repo, i) for i in items if "pull_request" not in i]

    async def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> Issue:
        data, _ = await self._request(
            "POST", f"{self.base_url}/repos/{repo}/issues", "create_issue",
            json={"title": title, "body": body, "labels": labels},
        )  # fmt: skip
        return _parsed(Issue.from_api, repo, data)

    async def update_issue(self, issue: Issue, **fields: Any) -> Issue:
        data, _ = await self._request(
            "PATCH", f"{self.base_url}/repos/{issue.repo}/issues/{issue.number}",
            "update_issue", json=fields,
        )  # fmt: skip
        return _parsed(Issue.from_api, issue.repo, data)

    async def comment(self, issue: Issue, body: str) -> None:
        await self._request(
            "POST", f"{self.base_url}/repos/{issue.repo}/issues/{issue.number}/comments",
            "comment", json={"body": body},
        )  # fmt: skip

    async def list_comments(self, issue: Issue) -> list[Comment]:
        url = f"{self.base_url}/repos/{issue.repo}/issues/{issue.number}/comments"
        return [
            _parsed(Comment.from_api, item) for item in await self._list(url, "list_comments", {})
        ]

    async def _list(self, url: str, operation: str, params: dict[str, str]) -> list[Any]:
        """Every item of a paginated listing."""
        items: list[Any] = []
        next_url: str | None = url
        query: dict[str, str] | None = params | {"per_page": "100"}
        while next_url is not None:
            data, headers = await self._request("GET", next_url, operation, params=query)
            if not isinstance(data, list):
                raise GitHubError(f"{operation}: expected a JSON list, got {type(data).__name__}")
            items.extend(data)
            match = _NEXT_LINK.search(headers.get("Link", ""))
            next_url, query = (match.group(1), None) if match else (None, None)
        return items

    async def _request(
        self,
        method: str,
        url: str,
        operation: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[Any, Any]:
        idempotent = method in ("GET", "PATCH")
        reason = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                await self._back_off(attempt, reason)
            try:
                if method == "GET":
                    status, data, headers = await self._send(method, url, json, params)
                else:
                    async with self._write_lock:
                        await self._space_writes()
                        status, data, headers = await self._send(method, url, json, params)
            except aiohttp.ClientConnectorError as error:  # never reached GitHub: safe to retry
                self.observe(operation, 0)
                reason = f"{operation}: {type(error).__name__}: {error}"
                continue
            except (aiohttp.ClientError, TimeoutError) as error:
                self.observe(operation, 0)
                reason = f"{operation}: {type(error).__name__}: {error}"
                if not idempotent:
                    raise GitHubError(f"{reason} (may have been applied)") from error
                continue
            self.observe(operation, status)
            if 200 <= status < 300 and not isinstance(data, _NotJson):
                return data, headers
            until = _rate_limited_until(status, headers, data)
            if until is not None:
                log.warning("event=github_rate_limited operation=%s status=%d wait=%.1f",
                            operation, status, until - time.time())  # fmt: skip
                raise RateLimited(f"{operation}: rate limited (HTTP {status})", status, until)
            reason = f"{operation}: HTTP {status}"
            if isinstance(data, _NotJson):
                reason += f", {data.content_type or 'untyped'} answer instead of JSON"
                log.warning("event=github_not_json operation=%s status=%d content_type=%s start=%r",
                            operation, status, data.content_type, data.start)  # fmt: skip
            if status >= 500 or 200 <= status < 300:  # failed or unreadable after GitHub got it
                if not idempotent:
                    raise GitHubError(f"{reason} (may have been applied)", status)
                continue
            message = data.get("message", "") if isinstance(data, dict) else ""
            raise GitHubError(f"{reason} {message}".rstrip(), status, retryable=False)
        raise GitHubError(f"{reason}; gave up after {self.max_retries + 1} attempts")

    async def _send(
        self, method: str, url: str, json: dict[str, Any] | None, params: dict[str, str] | None
    ) -> tuple[int, Any, Any]:
        async with self.session.request(
            method, url, json=json, params=params, headers=self.headers, timeout=self.timeout
        ) as response:
            remaining = response.headers.get("x-ratelimit-remaining")
            if remaining is not None and remaining.isdigit():
                self.rate_limit_remaining = int(remaining)
            return response.status, _json(await response.read(), response), response.headers

    async def _space_writes(self) -> None:
        wait = self._last_write + self.write_spacing - time.monotonic()
        if wait > 0:
            await self.sleep(wait)
        self._last_write = time.monotonic()

    async def _back_off(self, attempt: int, reason: str) -> None:
        delay = min(2.0 ** (attempt - 1), 30.0)
        log.warning("event=github_retry reason=%r delay=%.1f", reason, delay)
        await self.sleep(delay)


@dataclass(frozen=True)
class _NotJson:
    """An answer body that is not JSON (an HTML error page from a proxy, say)."""

    content_type: str
    start: str


def _json(raw: bytes, response: aiohttp.ClientResponse) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return _NotJson(response.content_type, raw[:80].decode("utf-8", "replace"))


def _parsed(parse: Callable[..., T], *data: Any) -> T:
    """An API object, or a GitHubError naming what was wrong with GitHub's answer."""
    try:
        return parse(*data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        message = f"unexpected answer from GitHub: {type(error).__name__}: {error}"
        raise GitHubError(message) from error


def _rate_limited_until(status: int, headers: Any, data: Any) -> float | None:
    """When a rate-limited request may be sent again (Unix time), or None if not one."""
    if status not in (403, 429):
        return None
    now = time.time()
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return now + float(retry_after)
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        return max(now + 1.0, float(reset)) if reset.isdigit() else now + 60.0
    message = data.get("message", "") if isinstance(data, dict) else ""
    secondary = "rate limit" in message.lower()  # a secondary limit may come without headers
    return now + 60.0 if status == 429 or secondary else None
