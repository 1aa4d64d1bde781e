"""Hostile text in every field of an alert — mentions, issue references and URLs, markdown
images and links, newlines in table cells, control characters, bidi overrides, HTML, URL
schemes, oversized text — and hostile ``repo`` labels; the issue the receiver writes must keep
all of it inert, and GitHub must never be asked for anything outside the repository."""

import asyncio
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from bench.faults import Row, Size
from bench.faults.receiver import REPO, notification, receiver_stack

MAX_BODY = 65_536
MAX_TITLE = 256

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
# What GitHub would make live in a body: a mention notifies, a reference or a link to an issue
# puts a cross-reference on that issue, an image is fetched, a link is clickable, HTML renders.
_LEAKS: dict[str, re.Pattern[str]] = {
    "mention": re.compile(r"(?<![\w`])@[A-Za-z0-9]"),
    "reference": re.compile(r"(?<!&)#\d|\bGH-\d", re.IGNORECASE),
    "issue-url": re.compile(r"https?://(www\.)?github\.com/[^\s/]+/[^\s/]+/(issues|pull)/\d"),
    "image": re.compile(r"!\[[^\]]*\]\("),
    "link": re.compile(r"\[click me\]\(|\]\(\s*(javascript|data|vbscript):", re.IGNORECASE),
    "html": re.compile(r"<(img|script)\b", re.IGNORECASE),
}
# A title is plain text to GitHub: only mentions and references are live there.
_TITLE_LEAKS = ("mention", "reference")
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def leaks(title: str, body: str, in_table: bool) -> list[str]:
    """What of the hostile text is live in an issue (code spans are inert, so not judged)."""
    found = []
    outside_code = _CODE.sub("", body)
    for name, pattern in _LEAKS.items():
        if pattern.search(outside_code) or (name in _TITLE_LEAKS and pattern.search(title)):
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
                found = [f"answer {status} with {len(issues)} issues"]
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


SCENARIOS = {"injection": injection}
