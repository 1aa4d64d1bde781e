"""The alert receiver served by its own ``serve()`` against the GitHub stand-in (the harness the
fuzz and injection scenarios share), and GitHub failing under it: answering errors, HTML,
broken JSON or nothing, or hanging while alert groups keep arriving."""

import asyncio
import json
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bench.faults import Row, Size
from bench.faults.net import NO_ANSWER, Answer, raw_request, serving
from thoth_monitoring.alert_receiver.payload import Notification
from thoth_monitoring.alert_receiver.receiver import ReceiverSettings, serve
from thoth_monitoring.alert_receiver.render import group_key
from thoth_monitoring.demo.github_standin import GitHubStandIn
from thoth_monitoring.demo.processes import free_port

REPO = "thoth-station/thoth-application"
TOKEN = "fault-webhook-token"
Headers = list[tuple[bytes, bytes]]
SETTLE_SECONDS = 15.0
POLL_SECONDS = 0.05
GOOD_HEADERS: Headers = [(b"Authorization", f"Bearer {TOKEN}".encode()),
                         (b"Content-Type", b"application/json")]  # fmt: skip


def notification(group: str, **labels: str) -> dict[str, Any]:
    """A valid Alertmanager notification of one firing alert."""
    alert_labels = {"alertname": "ThothFaultSuite", "severity": "warning",
                    "instance": "db:5432"} | labels  # fmt: skip
    return {
        "version": "4", "groupKey": f'{{}}:{{group="{group}"}}', "status": "firing",
        "receiver": "github", "groupLabels": {"alertname": alert_labels["alertname"]},
        "commonLabels": dict(alert_labels),
        "commonAnnotations": {"summary": "The fault suite fired."},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing", "labels": dict(alert_labels),
            "annotations": {"summary": "The fault suite fired.", "description": "A test.",
                            "runbook_url": "https://example.org/runbook.md#x"},
            "startsAt": "2026-11-25T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": "abc",
        }],
    }  # fmt: skip


# --- the receiver, served for real -----------------------------------------------------------


@dataclass
class GitHubDouble:
    """The GitHub stand-in, recording the raw path of every request and answering the next
    writes with a broken response when ``broken`` lists one."""

    standin: GitHubStandIn = field(default_factory=GitHubStandIn)
    paths: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    hang_writes: bool = False  # writes wait for ``release``
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = self.standin.app()
        app.middlewares.insert(0, self._record)
        return app

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        self.paths.append(request.raw_path)
        if self.hang_writes and request.method != "GET":
            await self.release.wait()
        kind = self.broken.pop(0) if self.broken and request.method != "GET" else None
        if kind in REFUSED:
            return REFUSED[kind]()
        response: web.StreamResponse = await handler(request)
        if kind is None:
            return response
        # As on GitHub, the write was applied; only the answer is lost or mangled.
        if kind == "dropped":
            assert request.transport is not None
            request.transport.abort()
        return AMBIGUOUS[kind]()


REFUSED: dict[str, Callable[[], web.Response]] = {
    "json-500": lambda: web.json_response({"message": "Server Error"}, status=500),
    "html-502": lambda: web.Response(status=502, text="<html><h1>502 Bad Gateway</h1></html>",
                                     content_type="text/html"),
}  # fmt: skip
AMBIGUOUS: dict[str, Callable[[], web.Response]] = {
    "html-200": lambda: web.Response(text="<html>unicorn</html>", content_type="text/html"),
    "truncated-json-201": lambda: web.Response(status=201, text='{"number": 1, "ti',
                                               content_type="application/json"),
    "dropped": lambda: web.Response(status=500),
}  # fmt: skip
BROKEN_ANSWERS = (*REFUSED, *AMBIGUOUS)


@dataclass
class Stack:
    url: str
    github: GitHubDouble

    async def post(self, body: bytes, headers: Headers = GOOD_HEADERS) -> Answer:
        return await raw_request(self.url, "/alerts", headers, body)

    async def deliver(self, payload: dict[str, Any]) -> Answer:
        return await self.post(json.dumps(payload).encode())

    async def deliver_until_taken(self, payload: dict[str, Any], attempts: int = 10) -> list[int]:
        """Deliver as Alertmanager does: again (after a pause) while the answer is a 5xx."""
        statuses = []
        for _ in range(attempts):
            statuses.append((await self.deliver(payload)).status)
            if statuses[-1] < 500:
                break
            await asyncio.sleep(0.2)
        return statuses

    def issues_of(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """The issues carrying this notification's group key."""
        marker = f"<!-- thoth-alert-key: {key_of(payload)} -->"
        return [issue for issues in self.github.standin.issues.values() for issue in issues
                if marker in issue["body"]]  # fmt: skip

    async def settle(self, payloads: list[dict[str, Any]]) -> None:
        """Wait (at most ``SETTLE_SECONDS``) until every group has its issue: the webhook answers
        once the notification is recorded, the receiver's worker writes to GitHub after."""
        for _ in range(int(SETTLE_SECONDS / POLL_SECONDS)):
            if all(self.issues_of(payload) for payload in payloads):
                return
            await asyncio.sleep(POLL_SECONDS)


def key_of(payload: dict[str, Any]) -> str:
    return group_key(Notification.model_validate(payload))


def receiver_settings(
    github_url: str, standin_token: str, data_dir: str, **overrides: Any
) -> ReceiverSettings:
    return ReceiverSettings.model_validate({
        "listen": f"127.0.0.1:{free_port()}", "default_repo": REPO, "github_url": github_url,
        "github_token": standin_token, "bearer_token": TOKEN, "basic_username": "am",
        "basic_password": "pw", "write_spacing": 0, "github_max_retries": 0,
        "data_dir": data_dir,
    } | overrides)  # fmt: skip


@asynccontextmanager
async def receiver_stack(
    standin_token: str = GitHubStandIn.token, **overrides: Any
) -> AsyncIterator[Stack]:
    """``alert-receiver``'s own ``serve()`` against a GitHub double that accepts
    ``standin_token``, ready to take webhooks."""
    github = GitHubDouble(GitHubStandIn(token=standin_token))
    with tempfile.TemporaryDirectory(prefix="thoth-faults-receiver-") as data_dir:
        async with serving(github.app()) as github_url:
            settings = receiver_settings(github_url, standin_token, data_dir, **overrides)
            url = f"http://{settings.listen}"
            task = asyncio.create_task(serve(settings))
            try:
                await wait_ready(f"{url}/readyz", task)
                yield Stack(url, github)
            finally:
                github.release.set()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


async def wait_ready(url: str, task: "asyncio.Task[None]", seconds: float = 30) -> None:
    async with asyncio.timeout(seconds), aiohttp.ClientSession() as session:
        while not task.done():
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    await task  # raises what stopped it
    raise RuntimeError(f"{url} stopped before it was ready")


# --- GitHub answering garbage, or not at all - --------------------------------------------


def github_faults(size: Size) -> Row:
    """GitHub failing a write in every way (refused; or applied but answered with HTML, broken
    JSON or nothing): the webhook answers 2xx or 503 (Alertmanager redelivers), never another
    5xx, and in the end every group has exactly one issue — nothing lost, nothing doubled."""
    return asyncio.run(_github_faults(1 if size == "short" else 5))


async def _github_faults(rounds: int) -> Row:
    answers: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    payloads = []
    async with receiver_stack() as stack:
        for round_ in range(rounds):
            for kind in BROKEN_ANSWERS:
                payload = notification(f"github-{kind}-{round_}")
                payloads.append(payload)
                stack.github.broken[:] = [kind]
                statuses = await stack.deliver_until_taken(payload)
                answers[f"{kind}: {'/'.join(map(str, statuses))}"] += 1
                if any(status >= 500 and status != 503 for status in statuses):
                    wrong[f"{kind} answered {'/'.join(map(str, statuses))}"] += 1
        await stack.settle(payloads)
        counts = [len(stack.issues_of(payload)) for payload in payloads]
    doubled = sum(n - 1 for n in counts if n > 1)
    lost = counts.count(0)
    outcome = (f"answers {', '.join(answers)}; {sum(counts)} issues for {len(payloads)} groups:"
               f" {doubled} doubled, {lost} lost")  # fmt: skip
    if wrong:
        outcome += f" -- {', '.join(f'{what} x{n}' for what, n in wrong.items())}"
    return Row(
        "receiver: GitHub faults",
        f"{len(payloads)} groups, GitHub failing the first write: {', '.join(BROKEN_ANSWERS)}; "
        "5xx redelivered", outcome, not wrong and doubled == 0 and lost == 0,
    )  # fmt: skip


def pending_bound(size: Size) -> Row:
    """GitHub hanging: the webhook keeps answering at once — accepted up to the configured
    bound on waiting groups, 503 beyond it — instead of piling up requests."""
    return asyncio.run(_pending_bound(10, 30 if size == "short" else 300))


async def _pending_bound(bound: int, groups: int) -> Row:
    async with receiver_stack(max_pending=bound) as stack:
        stack.github.hang_writes = True

        async def answer(n: int) -> int:
            body = json.dumps(notification(f"pending-{n}")).encode()
            try:
                async with asyncio.timeout(AT_ONCE_SECONDS):
                    return (await stack.post(body)).status
            except TimeoutError:
                return NO_ANSWER

        statuses = Counter(await asyncio.gather(*(answer(n) for n in range(groups))))
    accepted = sum(n for status, n in statuses.items() if 200 <= status < 300)
    outcome = f"answers {dict(sorted(statuses.items()))} (0: none within {AT_ONCE_SECONDS:g}s)"
    passed = accepted <= bound and statuses[503] == groups - accepted
    inputs = f"{groups} new groups while GitHub hangs, max_pending {bound}"
    return Row("receiver: bounded pending work", inputs, outcome, passed)


AT_ONCE_SECONDS = 5.0


SCENARIOS = {"github-faults": github_faults, "pending-bound": pending_bound}
