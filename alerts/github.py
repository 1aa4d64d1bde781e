"""A small GitHub REST client for the alert receiver: list issues by label (the strongly
consistent list API, never search), create, update, comment.

Every write goes through one queue with a minimum spacing. Rate limits are honoured: on 403/429
with ``retry-after`` or an exhausted ``x-ratelimit-remaining`` the client waits (up to
``max_wait``) instead of retrying at once; 5xx and network errors are retried with backoff, a
bounded number of times. What still fails raises ``GitHubError`` with ``retryable`` set, so the
webhook can answer 503 and let Alertmanager redeliver.
"""

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

log = logging.getLogger(__name__)

_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubError(Exception):
    """A GitHub call that failed for good (``retryable`` False) or for now (True)."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


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


class IssueTracker(Protocol):
    """What the receiver needs from GitHub (the real client, or a dry run that only logs)."""

    async def list_issues(self, repo: str, label: str) -> list[Issue]: ...

    async def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> Issue: ...

    async def update_issue(self, issue: Issue, **fields: Any) -> Issue: ...

    async def comment(self, issue: Issue, body: str) -> None: ...


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
        max_wait: float = 60.0,
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
        self.max_wait = max_wait
        self.observe = observe
        self.sleep = sleep
        self.rate_limit_remaining: int | None = None
        self._write_lock = asyncio.Lock()
        self._last_write = 0.0

    async def list_issues(self, repo: str, label: str) -> list[Issue]:
        """Every issue (open and closed) carrying ``label``, following ``Link`` pagination and
        skipping pull requests."""
        issues: list[Issue] = []
        url: str | None = f"{self.base_url}/repos/{repo}/issues"
        params: dict[str, str] | None = {
            "labels": label, "state": "all", "per_page": "100", "sort": "created",
            "direction": "asc",
        }  # fmt: skip
        while url is not None:
            data, headers = await self._request("GET", url, "list_issues", params=params)
            issues.extend(Issue.from_api(repo, item) for item in data if "pull_request" not in item)
            match = _NEXT_LINK.search(headers.get("Link", ""))
            url, params = (match.group(1), None) if match else (None, None)
        return issues

    async def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> Issue:
        data, _ = await self._request(
            "POST", f"{self.base_url}/repos/{repo}/issues", "create_issue",
            json={"title": title, "body": body, "labels": labels},
        )  # fmt: skip
        return Issue.from_api(repo, data)

    async def update_issue(self, issue: Issue, **fields: Any) -> Issue:
        data, _ = await self._request(
            "PATCH", f"{self.base_url}/repos/{issue.repo}/issues/{issue.number}",
            "update_issue", json=fields,
        )  # fmt: skip
        return Issue.from_api(issue.repo, data)

    async def comment(self, issue: Issue, body: str) -> None:
        await self._request(
            "POST", f"{self.base_url}/repos/{issue.repo}/issues/{issue.number}/comments",
            "comment", json={"body": body},
        )  # fmt: skip

    async def _request(
        self,
        method: str,
        url: str,
        operation: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[Any, Any]:
        write = method != "GET"
        for attempt in range(self.max_retries + 1):
            try:
                if write:
                    async with self._write_lock:
                        await self._space_writes()
                        status, data, headers = await self._send(method, url, json, params)
                else:
                    status, data, headers = await self._send(method, url, json, params)
            except (aiohttp.ClientError, TimeoutError) as error:
                self.observe(operation, 0)
                reason = f"{operation}: {type(error).__name__}: {error}"
                await self._back_off(attempt, reason)
                continue
            self.observe(operation, status)
            if 200 <= status < 300:
                return data, headers
            wait = self._rate_limit_wait(status, headers, data)
            if wait is not None:
                if wait > self.max_wait:
                    raise GitHubError(f"{operation}: rate limited for {wait:.0f}s", status)
                log.warning("event=github_rate_limited operation=%s wait=%.1f", operation, wait)
                await self.sleep(wait)
                continue
            if status >= 500:
                await self._back_off(attempt, f"{operation}: HTTP {status}")
                continue
            message = data.get("message", "") if isinstance(data, dict) else ""
            raise GitHubError(f"{operation}: HTTP {status} {message}", status, retryable=False)
        raise GitHubError(f"{operation}: gave up after {self.max_retries + 1} attempts")

    async def _send(
        self, method: str, url: str, json: dict[str, Any] | None, params: dict[str, str] | None
    ) -> tuple[int, Any, Any]:
        async with self.session.request(
            method, url, json=json, params=params, headers=self.headers,
            timeout=aiohttp.ClientTimeout(total=30),
        ) as response:  # fmt: skip
            remaining = response.headers.get("x-ratelimit-remaining")
            if remaining is not None and remaining.isdigit():
                self.rate_limit_remaining = int(remaining)
            data = await response.json(content_type=None) if response.content_length != 0 else {}
            return response.status, data, response.headers

    async def _space_writes(self) -> None:
        wait = self._last_write + self.write_spacing - time.monotonic()
        if wait > 0:
            await self.sleep(wait)
        self._last_write = time.monotonic()

    async def _back_off(self, attempt: int, reason: str) -> None:
        if attempt >= self.max_retries:
            return
        delay = min(2.0**attempt, 30.0)
        log.warning("event=github_retry reason=%r delay=%.1f", reason, delay)
        await self.sleep(delay)

    @staticmethod
    def _rate_limit_wait(status: int, headers: Any, data: Any) -> float | None:
        """Seconds to wait before retrying a rate-limited request, or None if not one."""
        if status not in (403, 429):
            return None
        message = data.get("message", "") if isinstance(data, dict) else ""
        retry_after = headers.get("retry-after")
        if retry_after is not None and retry_after.strip().isdigit():
            return float(retry_after)
        if headers.get("x-ratelimit-remaining") == "0":
            reset = headers.get("x-ratelimit-reset", "")
            return max(1.0, float(reset) - time.time()) if reset.isdigit() else 60.0
        secondary = "rate limit" in message.lower()  # a secondary limit may come without headers
        return 60.0 if status == 429 or secondary else None
