"""The webhook fuzzed: thousands of deterministic bad requests (truncated, wrongly typed,
random, invalid UTF-8, deeply nested, huge numbers and strings, missing and extra fields, odd
Authorization and content headers) against the real receiver; every answer must be a 2xx or
4xx, never a 5xx, a dropped connection or a traceback."""

import asyncio
import base64
import copy
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from bench.faults import Row, Size
from bench.faults.net import NO_ANSWER
from bench.faults.receiver import GOOD_HEADERS, TOKEN, Headers, notification, receiver_stack

SEED = 20


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


SCENARIOS = {"webhook-fuzz": webhook_fuzz}
