"""The one GitHub REST client of the project (the alert receiver's issues, repo-metrics' pull
requests): authentication by token or GitHub App, conditional GETs, ``Link`` pagination, the
rate limits, bounded retries, spaced writes.

A request that GitHub may have applied but did not confirm (timeout, 5xx, an answer that is not
JSON) is repeated only when it is idempotent (GET, PATCH, or a POST the caller declares so); any
other write raises ``GitHubError`` at once ("may have been applied"), so that the caller re-reads
what exists before deciding again (a request that never reached GitHub, a refused connection, is
retried). A rate-limit answer raises ``RateLimited`` with the time GitHub allows requests again,
or, for a client built with ``wait_out_limits``, pauses every request of the client until then.
Other 5xx and network errors are retried with backoff, a bounded number of times.

A conditional GET (``etag=``) answered ``304 Not Modified`` costs nothing of the primary rate
limit: that is what makes repeated collection of unchanged data free.
"""

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp

from thoth_monitoring.core.retry import Backoff

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.github.com"
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
_IDEMPOTENT = frozenset({"GET", "PATCH", "PUT", "DELETE"})
T = TypeVar("T")


class GitHubError(Exception):
    """A GitHub call that failed. A write may have been applied all the same: re-read before
    deciding again."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(GitHubError):
    """GitHub refused a request for its rate limit; nothing may be sent before ``until`` (Unix
    time). Writing while limited risks the integration being banned."""

    def __init__(self, message: str, status: int, until: float) -> None:
        super().__init__(message, status)
        self.until = until


class Authorization(Protocol):
    """Where the ``Authorization`` header comes from: a fixed token, or an App's installation
    token that expires and is renewed."""

    async def header(self) -> str: ...

    def forget(self) -> bool:
        """Drop a cached credential GitHub refused (401); True when the next ``header()``
        brings a new one (worth one more try)."""


@dataclass
class Token:
    """A personal access token or any fixed bearer token."""

    token: str

    async def header(self) -> str:
        return f"Bearer {self.token}"

    def forget(self) -> bool:
        return False


@dataclass(frozen=True)
class Answer:
    """A successful answer: 2xx with its JSON, or 304 (``data`` None) to a conditional GET."""

    status: int
    data: Any
    headers: Mapping[str, str]

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag")

    @property
    def next_url(self) -> str | None:
        match = _NEXT_LINK.search(self.headers.get("Link", ""))
        return match.group(1) if match else None


RequestObserver = Callable[[str, int], None]


class GitHubClient:
    """GitHub's REST API over aiohttp, with the rules of the module docstring."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        auth: str | Authorization,
        write_spacing: float = 1.0,
        max_retries: int = 4,
        timeout: float = 30.0,
        observe: RequestObserver = lambda operation, status: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wait_out_limits: float = 0.0,
        user_agent: str = "thoth-monitoring",
        write_slot: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``write_slot``, when given, replaces the in-process spacing of writes: it returns
        when this write may go (several processes sharing one token reserve slots together)."""
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.auth = Token(auth) if isinstance(auth, str) else auth
        self.headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": user_agent,
        }
        self.write_spacing = write_spacing
        self.max_retries = max_retries
        self.backoff = Backoff(initial=1.0, maximum=30.0)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.observe = observe
        self.sleep = sleep
        self.wait_out_limits = wait_out_limits
        self.write_slot = write_slot
        self.rate_limit_remaining: int | None = None
        self.paused_until = 0.0  # Unix time; every request waits for it (wait_out_limits)
        self._write_lock = asyncio.Lock()
        self._last_write = 0.0

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def get(
        self,
        url: str,
        operation: str,
        params: Mapping[str, str] | None = None,
        etag: str | None = None,
    ) -> Answer:
        """One GET; with ``etag``, a conditional one that may be answered 304."""
        return await self._request("GET", url, operation, params=params, etag=etag)

    async def pages(
        self,
        url: str,
        operation: str,
        params: Mapping[str, str] | None = None,
        etag: str | None = None,
    ) -> AsyncGenerator[Answer, None]:
        """The pages of a listing (100 items each) following ``Link``; with ``etag``, the first
        request is conditional and a 304 is the only page yielded."""
        next_url: str | None = url
        query: Mapping[str, str] | None = {**(params or {}), "per_page": "100"}
        while next_url is not None:
            answer = await self.get(next_url, operation, query, etag)
            if answer.status == 304:
                yield answer
                return
            if not isinstance(answer.data, list):
                kind = type(answer.data).__name__
                raise GitHubError(f"{operation}: expected a JSON list, got {kind}")
            yield answer
            next_url, query, etag = answer.next_url, None, None

    async def list_all(
        self, url: str, operation: str, params: Mapping[str, str] | None = None
    ) -> list[Any]:
        """Every item of a paginated listing."""
        return [item async for answer in self.pages(url, operation, params) for item in answer.data]

    async def write(
        self,
        method: str,
        url: str,
        operation: str,
        body: dict[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """A POST/PATCH/…, spaced from the previous write; its JSON answer. ``idempotent``
        overrides the method's nature (a POST creating an installation token may be repeated)."""
        answer = await self._request(method, url, operation, body=body, idempotent=idempotent)
        return answer.data

    async def _request(
        self,
        method: str,
        url: str,
        operation: str,
        body: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        etag: str | None = None,
        idempotent: bool | None = None,
    ) -> Answer:
        repeatable = method in _IDEMPOTENT if idempotent is None else idempotent
        reason = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                await self._back_off(attempt, reason)
            await self._wait_out_pause()
            try:
                headers = self.headers | {"Authorization": await self.auth.header()}
                if etag is not None:
                    headers["If-None-Match"] = etag
                if method == "GET":
                    status, data, answer_headers = await self._send(
                        method, url, headers, body, params
                    )
                else:
                    async with self._write_lock:
                        await self._space_writes()
                        status, data, answer_headers = await self._send(
                            method, url, headers, body, params
                        )
            except aiohttp.ClientConnectorError as error:  # never reached GitHub: safe to retry
                self.observe(operation, 0)
                reason = f"{operation}: {type(error).__name__}: {error}"
                continue
            except (aiohttp.ClientError, TimeoutError) as error:
                self.observe(operation, 0)
                reason = f"{operation}: {type(error).__name__}: {error}"
                if not repeatable:
                    raise GitHubError(f"{reason} (may have been applied)") from error
                continue
            self.observe(operation, status)
            if status == 304 and etag is not None:
                return Answer(status, None, answer_headers)
            if 200 <= status < 300 and not isinstance(data, _NotJson):
                return Answer(status, data, answer_headers)
            until = _rate_limited_until(status, answer_headers, data)
            if until is not None:
                log.warning(
                    "github_rate_limited",
                    extra={
                        "operation": operation,
                        "status": status,
                        "wait": round(until - time.time(), 1),
                    },
                )
                if until - time.time() > self.wait_out_limits:
                    raise RateLimited(f"{operation}: rate limited (HTTP {status})", status, until)
                self.paused_until = max(self.paused_until, until)
                reason = f"{operation}: rate limited (HTTP {status})"
                continue
            reason = f"{operation}: HTTP {status}"
            if status == 401 and attempt == 0 and self.auth.forget():
                continue  # an installation token revoked or expired early: renew it once
            if isinstance(data, _NotJson):
                reason += f", {data.content_type or 'untyped'} answer instead of JSON"
                log.warning(
                    "github_not_json",
                    extra={
                        "operation": operation,
                        "status": status,
                        "content_type": data.content_type,
                        "start": data.start,
                    },
                )
            if status >= 500 or 200 <= status < 300:  # failed or unreadable after GitHub got it
                if not repeatable:
                    raise GitHubError(f"{reason} (may have been applied)", status)
                continue
            message = data.get("message", "") if isinstance(data, dict) else ""
            raise GitHubError(f"{reason} {message}".rstrip(), status)
        raise GitHubError(f"{reason}; gave up after {self.max_retries + 1} attempts")

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any] | None,
        params: Mapping[str, str] | None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        async with self.session.request(
            method, url, json=body, params=params, headers=headers, timeout=self.timeout
        ) as response:
            remaining = response.headers.get("x-ratelimit-remaining")
            if remaining is not None and remaining.isdigit():
                self.rate_limit_remaining = int(remaining)
            return response.status, _json(await response.read(), response), response.headers

    async def _wait_out_pause(self) -> None:
        wait = self.paused_until - time.time()
        if wait > 0:
            await self.sleep(wait)

    async def _space_writes(self) -> None:
        if self.write_slot is not None:
            await self.write_slot()
            return
        wait = self._last_write + self.write_spacing - time.monotonic()
        if wait > 0:
            await self.sleep(wait)
        self._last_write = time.monotonic()

    async def _back_off(self, attempt: int, reason: str) -> None:
        delay = self.backoff.delay(attempt)
        log.warning("github_retry", extra={"reason": reason, "delay": round(delay, 1)})
        await self.sleep(delay)


class AppInstallation:
    """The ``Authorization`` of a GitHub App installation: a JWT signed with the App's private
    key is exchanged for an installation token, which is cached until shortly before it
    expires. Each installation has its own rate limit."""

    RENEW_BEFORE = 300.0  # seconds before ``expires_at``

    def __init__(self, app: "GitHubApp", installation_id: str) -> None:
        self.app = app
        self.installation_id = installation_id
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def header(self) -> str:
        async with self._lock:
            if self._token is None or time.time() > self._expires - self.RENEW_BEFORE:
                self._token, self._expires = await self.app.installation_token(self.installation_id)
            return f"Bearer {self._token}"

    def forget(self) -> bool:
        self._token = None
        return True


class GitHubApp:
    """A GitHub App: its id and private key (PEM), and a client authenticated as the App."""

    JWT_LIFETIME = 540  # seconds; GitHub accepts at most 10 minutes

    def __init__(
        self, app_id: str, private_key: str, client: Callable[[Authorization], GitHubClient]
    ) -> None:
        self.app_id = app_id
        self.private_key = private_key
        self.client = client(self)
        self._jwt = ""
        self._jwt_expires = 0.0

    async def header(self) -> str:
        now = time.time()
        if now > self._jwt_expires - 60:
            import jwt  # PyJWT; only App authentication needs it

            claims = {"iat": int(now) - 60, "exp": int(now) + self.JWT_LIFETIME, "iss": self.app_id}
            self._jwt = jwt.encode(claims, self.private_key, algorithm="RS256")
            self._jwt_expires = now + self.JWT_LIFETIME
        return f"Bearer {self._jwt}"

    def forget(self) -> bool:
        self._jwt_expires = 0.0
        return True

    async def installation_token(self, installation_id: str) -> tuple[str, float]:
        """A new installation token and when it expires (Unix time)."""
        url = self.client.url(f"/app/installations/{installation_id}/access_tokens")
        data = await self.client.write("POST", url, "installation_token", idempotent=True)
        return parsed(_token_and_expiry, data)

    async def installation_of(self, owner: str, repo: str | None = None) -> str:
        """The installation id covering a repository (or a whole organisation)."""
        path = f"/repos/{owner}/{repo}/installation" if repo else f"/orgs/{owner}/installation"
        answer = await self.client.get(self.client.url(path), "installation")
        return parsed(lambda data: str(int(data["id"])), answer.data)


def read_private_key(path: Path) -> str:
    """A PEM private key file's text, with an error naming the file when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read the private key: {error}") from None
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: not a PEM private key without a passphrase ({error})") from None
    return text


def _token_and_expiry(data: Any) -> tuple[str, float]:
    from datetime import datetime

    expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
    return str(data["token"]), expires.timestamp()


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


def parsed(parse: Callable[..., T], *data: Any) -> T:
    """An API object, or a GitHubError naming what was wrong with GitHub's answer."""
    try:
        return parse(*data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        message = f"unexpected answer from GitHub: {type(error).__name__}: {error}"
        raise GitHubError(message) from error


def _rate_limited_until(status: int, headers: Mapping[str, str], data: Any) -> float | None:
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
