"""The alert receiver under attack, served by its own ``serve()`` against the GitHub stand-in:
fuzzed webhook requests, GitHub answering garbage, and hostile text in every field of an alert."""

import asyncio
import base64
import copy
import json
import random
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from alerts.github_standin import GitHubStandIn
from alerts.payload import Notification
from alerts.receiver import ReceiverSettings, serve
from alerts.render import group_key
from bench.faults import Row, Size
from bench.faults.net import NO_ANSWER, Answer, raw_request, serving
from exporters.processes import free_port

REPO = "thoth-station/thoth-application"
TOKEN = "fault-webhook-token"
SEED = 20
MAX_BODY = 65_536
MAX_TITLE = 256
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
        """Wait (at most ``SETTLE_SECONDS``) until every group has its issue: a receiver may
        answer before it writes."""
        for _ in range(int(SETTLE_SECONDS / POLL_SECONDS)):
            if all(self.issues_of(payload) for payload in payloads):
                return
            await asyncio.sleep(POLL_SECONDS)


def key_of(payload: dict[str, Any]) -> str:
    return group_key(Notification.model_validate(payload))


def receiver_settings(
    github_url: str, standin_token: str, data_dir: str, **overrides: Any
) -> ReceiverSettings:
    settings = {
        "listen": f"127.0.0.1:{free_port()}", "default_repo": REPO, "github_url": github_url,
        "github_token": standin_token, "bearer_token": TOKEN, "basic_username": "am",
        "basic_password": "pw", "write_spacing": 0, "github_max_retries": 0,
    }  # fmt: skip
    if "data_dir" in ReceiverSettings.model_fields:  # a receiver that records what it accepts
        settings["data_dir"] = data_dir
    return ReceiverSettings.model_validate(settings | overrides)


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


# --- (1) fuzzing -----------------------------------------------------------------------------


def webhook_fuzz(size: Size) -> Row:
    count = 400 if size == "short" else 3000
    return asyncio.run(_webhook_fuzz(count))


async def _webhook_fuzz(count: int) -> Row:
    rng = random.Random(SEED)
    cases = list(fuzz_cases(rng, count))
    by_status: Counter[int] = Counter()
    bad: Counter[str] = Counter()
    async with receiver_stack() as stack:
        slots = asyncio.Semaphore(8)

        async def one(kind: str, headers: Headers, body: bytes) -> None:
            async with slots:
                answer = await stack.post(body, headers)
            by_status[answer.status] += 1
            if answer.status >= 500 or answer.status == NO_ANSWER or b"Traceback" in answer.body:
                bad[f"{kind}:{answer.status}"] += 1

        await asyncio.gather(*(one(*case) for case in cases))
    statuses = " ".join(f"{status or 'none'}:{n}" for status, n in sorted(by_status.items()))
    failures = ", ".join(f"{what} x{n}" for what, n in bad.most_common())
    return Row(
        "receiver: webhook fuzz",
        f"{len(cases)} bad bodies/headers, {len({c[0] for c in cases})} kinds (seed {SEED})",
        f"status {statuses}" + (f"; 5xx/no answer: {failures}" if failures else ""),
        not bad,
    )


def fuzz_cases(rng: random.Random, count: int) -> Iterator[tuple[str, Headers, bytes]]:
    """``count`` deterministic bad requests, cycling through the mutators."""
    for n in range(count):
        mutate = MUTATORS[n % len(MUTATORS)]
        payload = notification(f"fuzz-{n % 50}")
        headers, body = mutate(rng, payload)
        yield mutate.__name__.removeprefix("_"), headers, body


WRONG_VALUES: tuple[Any, ...] = (None, 0, -1, 1.5, True, [], {}, "", "x", ["x"], {"a": "b"},
                                 [{"a": 1}], 10**30, "firing" * 1000)  # fmt: skip
FIELD_PATHS = (
    ("version",), ("groupKey",), ("status",), ("receiver",), ("groupLabels",), ("commonLabels",),
    ("commonAnnotations",), ("externalURL",), ("alerts",), ("truncatedAlerts",),
    ("alerts", 0), ("alerts", 0, "status"), ("alerts", 0, "labels"), ("alerts", 0, "annotations"),
    ("alerts", 0, "startsAt"), ("alerts", 0, "endsAt"), ("alerts", 0, "generatorURL"),
    ("alerts", 0, "fingerprint"), ("alerts", 0, "labels", "alertname"),
    ("commonLabels", "alertname"), ("commonAnnotations", "summary"),
    ("alerts", 0, "annotations", "description"),
)  # fmt: skip


def _set(payload: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        payload = payload[step]
    payload[path[-1]] = value


def _encoded(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _truncated(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    body = _encoded(payload)
    return GOOD_HEADERS, body[: rng.randrange(len(body))]


def _wrong_type(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    _set(payload, rng.choice(FIELD_PATHS), copy.deepcopy(rng.choice(WRONG_VALUES)))
    return GOOD_HEADERS, _encoded(payload)


def _random_bytes(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    return GOOD_HEADERS, rng.randbytes(rng.randrange(1, 4000))


def _invalid_utf8(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    marker = "INVALID-UTF8"
    _set(payload, rng.choice(FIELD_PATHS[-4:]), marker)
    garbage = rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                          b"\xe2\x82", b"\xc0\xaf"])  # fmt: skip
    return GOOD_HEADERS, _encoded(payload).replace(marker.encode(), garbage)


def _deep_nesting(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    depth = rng.choice([64, 1_000, 10_000, 100_000])
    if rng.random() < 0.5:
        return GOOD_HEADERS, b"[" * depth + b"]" * depth
    marker = '"DEEP"'
    _set(payload, rng.choice(FIELD_PATHS), "DEEP")
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    return GOOD_HEADERS, _encoded(payload).replace(marker.encode(), nested)


def _huge_number(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    literal = rng.choice([
        "9" * rng.choice([400, 4301, 5000, 50_000]), "-" + "1" * 5000, "1e99999", "-1e400",
        "NaN", "Infinity", "-Infinity", "1" + "0" * 4000 + ".5", "0." + "1" * 5000,
    ])  # fmt: skip
    _set(payload, rng.choice([("truncatedAlerts",), *FIELD_PATHS]), "NUMBER")
    return GOOD_HEADERS, _encoded(payload).replace(b'"NUMBER"', literal.encode())


def _huge_string(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    length = rng.choice([70_000, 300_000, 1_100_000])
    text = rng.choice(["x", "é", "@", "#1 ", "|\n", "\u202e"]) * length
    _set(payload, rng.choice(FIELD_PATHS[-4:]), text[:length])
    return GOOD_HEADERS, _encoded(payload)


def _missing_fields(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    for _ in range(rng.randrange(1, 4)):
        path = rng.choice(FIELD_PATHS)
        parent: Any = payload
        for step in path[:-1]:
            parent = _child(parent, step)
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif isinstance(parent, list) and parent:
            parent.pop()
    return GOOD_HEADERS, _encoded(payload)


def _child(parent: Any, step: str | int) -> Any:
    """``parent[step]``, or None where an earlier mutation removed or replaced it."""
    if isinstance(parent, dict):
        return parent.get(step)
    if isinstance(parent, list) and isinstance(step, int) and step < len(parent):
        return parent[step]
    return None


def _extra_fields(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    target = rng.choice([payload, payload["alerts"][0], payload["alerts"][0]["labels"]])
    for n in range(rng.randrange(1, 20)):
        target[rng.choice(["x", "__proto__", "", "a" * 300, f"extra{n}"])] = copy.deepcopy(
            rng.choice(WRONG_VALUES)
        )
    return GOOD_HEADERS, _encoded(payload)


AUTHORIZATIONS: tuple[bytes | None, ...] = (
    None, b"", b"Bearer", b"Bearer ", b"Bearer wrong", b"bearer " + TOKEN.encode(),
    b"Basic !!!", b"Basic " + base64.b64encode(b"am"), b"Basic " + base64.b64encode(b"am:wrong"),
    "Bearer tökén".encode(), "Bearer tökén".encode("latin-1"), b"Bearer \xff\xfe\x80",
    b"Basic " + base64.b64encode("am:pw✓".encode()), b"Bearer " + b"A" * 9000,
    b"Bearer \x01\x02", b"Digest username=am", b"Bearer " + TOKEN.encode() + b" ",
)  # fmt: skip


def _bad_authorization(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    value = rng.choice(AUTHORIZATIONS)
    headers: Headers = [(b"Content-Type", b"application/json")]
    if value is not None:
        headers.append((b"Authorization", value))
    if rng.random() < 0.2:  # a second, valid one: which wins must not matter
        headers.append(GOOD_HEADERS[0])
    return headers, _encoded(payload)


CONTENT_HEADERS: tuple[Headers, ...] = (
    [], [(b"Content-Type", b"text/plain")],
    [(b"Content-Type", b"application/x-www-form-urlencoded")],
    [(b"Content-Type", b"multipart/form-data; boundary=x")],
    [(b"Content-Type", b"application/json; charset=latin-1")], [(b"Content-Type", b"\xff\xfe")],
    [(b"Content-Type", b"application/json"), (b"Content-Encoding", b"gzip")],
    [(b"Content-Type", b"application/json"), (b"Content-Encoding", b"deflate")],
    [(b"Content-Type", b"application/json"), (b"Content-Encoding", b"br")],
    [(b"Content-Type", b"application/json"), (b"Content-Encoding", b"x-unknown")],
    [(b"Content-Type", b"application/json"), (b"Transfer-Encoding", b"chunked")],
)  # fmt: skip


def _odd_content(rng: random.Random, payload: dict[str, Any]) -> tuple[Headers, bytes]:
    return [GOOD_HEADERS[0], *rng.choice(CONTENT_HEADERS)], _encoded(payload)


MUTATORS: tuple[Callable[[random.Random, dict[str, Any]], tuple[Headers, bytes]], ...] = (
    _truncated, _wrong_type, _random_bytes, _invalid_utf8, _deep_nesting, _huge_number,
    _huge_string, _missing_fields, _extra_fields, _bad_authorization, _odd_content,
)  # fmt: skip


# --- (2) GitHub answering garbage, or not at all --------------------------------------------


def github_faults(size: Size) -> Row:
    """GitHub failing a write in every way (refused; or applied but answered with HTML, broken
    JSON or nothing): the webhook answers 2xx or 503 (Alertmanager redelivers), never another
    5xx, and in the end every group has exactly one issue — nothing lost, nothing doubled."""
    return asyncio.run(_github_faults(1 if size == "short" else 5))


async def _github_faults(rounds: int) -> Row:
    answers: Counter[str] = Counter()
    wrong: list[str] = []
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
                    wrong.append(f"{kind} answered {statuses}")
        await stack.settle(payloads)
        counts = [len(stack.issues_of(payload)) for payload in payloads]
    doubled = sum(n - 1 for n in counts if n > 1)
    lost = counts.count(0)
    outcome = (f"answers {', '.join(answers)}; {sum(counts)} issues for {len(payloads)} groups:"
               f" {doubled} doubled, {lost} lost")  # fmt: skip
    if wrong:
        outcome += f" -- {'; '.join(wrong)}"
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
    name = "receiver: bounded pending work"
    inputs = f"{groups} new groups while GitHub hangs, max_pending {bound}"
    if "max_pending" not in ReceiverSettings.model_fields:
        return Row(name, inputs, "no bound on pending work can be configured", False)
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
    return Row(name, inputs, outcome, passed)


AT_ONCE_SECONDS = 5.0


# --- (3) hostile text in every field ---------------------------------------------------------

HOSTILE = {
    "mention": "ping @octocat and @thoth-station/devs",
    "reference": "see #12 and thoth-station/other#3",
    "gh-reference": "duplicate of GH-5",
    "closing": "fixes #7",
    "issue-url": "https://github.com/thoth-station/thoth-application/issues/7",
    "image": "![pixel](https://evil.example/p.png)",
    "link": "[click me](https://evil.example/login)",
    "newlines": "v\n| forged | row |\n## INJECTED heading",
    "control": "ctl\x00\x07\x1b[31m\r\x7f\x9bend",
    "bidi": "safe\u202eevil\u202c\u2066x\u2069",
    "html": "<img src=x onerror=alert(1)><script>alert(1)</script>",
    "url-scheme": "javascript:alert(1)",
    "url-breakout": "http://x/)![pixel](https://evil.example/p.png",
    "long": "@" + "L" * 80_000,
}
FIELDS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "label value": lambda p, v: _each_labels(p, lambda labels: labels.update(job=v)),
    "label name": lambda p, v: _each_labels(p, lambda labels: labels.update({v: "x"})),
    "alertname": lambda p, v: _each_labels(p, lambda labels: labels.update(alertname=v)),
    "severity": lambda p, v: _each_labels(p, lambda labels: labels.update(severity=v)),
    "identity label": lambda p, v: _each_labels(p, lambda labels: labels.update(instance=v)),
    "summary": lambda p, v: _annotations(p, "summary", v),
    "description": lambda p, v: _annotations(p, "description", v),
    "runbook_url": lambda p, v: _annotations(p, "runbook_url", v),
    "dashboard_url": lambda p, v: _annotations(p, "dashboard_url", v),
    "annotation name": lambda p, v: _annotations(p, v, "x"),
    "startsAt": lambda p, v: p["alerts"][0].update(startsAt=v),
    "endsAt": lambda p, v: p["alerts"][0].update(endsAt=v, status="resolved"),
    "generatorURL": lambda p, v: p["alerts"][0].update(generatorURL=v),
    "externalURL": lambda p, v: p.update(externalURL=v),
    "receiver": lambda p, v: p.update(receiver=v),
}
# Label fields are rendered in a table: a newline there must not end the row.
TABLE_FIELDS = {"label value", "label name", "alertname", "severity", "identity label"}
_CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_LEAKS: dict[str, re.Pattern[str]] = {
    "mention": re.compile(r"(?<![\w`])@[A-Za-z0-9]"),
    "reference": re.compile(r"(?<!&)#\d|\bGH-\d", re.IGNORECASE),
    "issue-url": re.compile(r"github\.com/[^\s/]+/[^\s/]+/(issues|pull)/\d"),
    "image": re.compile(r"!\[[^\]]*\]\("),
    "link": re.compile(r"\[click me\]\(|\]\(\s*(javascript|data|vbscript):", re.IGNORECASE),
    "html": re.compile(r"<(img|script)\b", re.IGNORECASE),
}
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def leaks(title: str, body: str, in_table: bool) -> list[str]:
    """What of the hostile text is live in an issue (code spans are inert, so not judged)."""
    found = []
    outside_code = _CODE.sub("", body)
    for name, pattern in _LEAKS.items():
        if pattern.search(outside_code) or (name != "html" and pattern.search(title)):
            found.append(name)
    if in_table and any(line.startswith(("| forged", "## INJECTED"))
                        for line in outside_code.splitlines()):  # fmt: skip
        found.append("table-row")
    controls = [c for c in title + body.replace("\n", "") if unicodedata.category(c) == "Cc"]
    if "\n" in title or controls:
        found.append("control")
    if _BIDI & set(title + body):
        found.append("bidi")
    if len(body) > MAX_BODY or len(title) > MAX_TITLE:
        found.append("length")
    return found


def _each_labels(payload: dict[str, Any], change: Callable[[dict[str, str]], None]) -> None:
    for labels in (payload["commonLabels"], payload["groupLabels"], payload["alerts"][0]["labels"]):
        change(labels)


def _set_label(name: str, value: str, labels: dict[str, str]) -> None:
    labels[name] = value


def _annotations(payload: dict[str, Any], name: str, value: str) -> None:
    payload["commonAnnotations"][name] = value
    payload["alerts"][0]["annotations"][name] = value


REPO_LABELS = ("../../user", "x?injected=1&", "`x`\n@octocat #1", "thoth-station/a/../../orgs",
               "%2e%2e/%2e%2e/user", "x#frag", "thoth-station/x/issues/1")  # fmt: skip
SHORT_LONG_FIELDS = ("description", "alertname")  # the short run sends the 80 kB text twice
_REPO_PATH = re.compile(rf"^/repos/{re.escape(REPO)}/issues(/\d+(/comments)?)?(\?[^/]*)?$")


def injection(size: Size) -> Row:
    return asyncio.run(_injection(size))


async def _injection(size: Size) -> Row:
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for field_name, change in FIELDS.items():
        for kind, text in HOSTILE.items():
            if size == "short" and kind == "long" and field_name not in SHORT_LONG_FIELDS:
                continue
            payload = notification(f"inject-{field_name}-{kind}")
            change(payload, text)
            cases.append((field_name, kind, payload))
    for label in REPO_LABELS:
        payload = notification(f"repo-{label}")
        _each_labels(payload, partial(_set_label, "repo", label))
        cases.append(("repo label", label, payload))
    nameless = notification("no-alertname")
    _each_labels(nameless, lambda labels: labels.__delitem__("alertname"))
    nameless["groupLabels"] = {}
    cases.append(("no alertname", "absent", nameless))
    problems: Counter[str] = Counter()
    examples: list[str] = []
    async with receiver_stack() as stack:
        answers = [(await stack.deliver(payload)).status for _, _, payload in cases]
        await stack.settle([payload for _, _, payload in cases])
        for (field_name, kind, payload), status in zip(cases, answers, strict=True):
            issues = stack.issues_of(payload)
            if not 200 <= status < 300 or len(issues) != 1:
                found = [f"answer {status}, {len(issues)} issues"]
            else:
                found = leaks(issues[0]["title"], issues[0]["body"], field_name in TABLE_FIELDS)
            for leak in found:
                problems[leak] += 1
                if len(examples) < 8:
                    examples.append(f"{field_name}/{kind}: {leak}")
        strays = [path for path in stack.github.paths if not _REPO_PATH.match(path)]
    if strays:
        problems["request outside the repository"] += len(strays)
        examples.append(f"GitHub asked for {strays[0]}")
    outcome = "all inert" if not problems else (
        f"{sum(problems.values())} leaks ({', '.join(f'{k} x{n}' for k, n in problems.items())});"
        f" e.g. {'; '.join(examples)}"
    )  # fmt: skip
    return Row(
        "receiver: injection",
        f"{len(cases)} alerts: {len(HOSTILE)} hostile texts x {len(FIELDS)} fields, "
        f"{len(REPO_LABELS)} repo labels, a missing alertname",
        outcome, not problems,
    )  # fmt: skip


SCENARIOS = {
    "webhook-fuzz": webhook_fuzz,
    "github-faults": github_faults,
    "pending-bound": pending_bound,
    "injection": injection,
}
