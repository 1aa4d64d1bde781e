"""The issue an alert group becomes: title, body and labels, from jinja2 templates.

Everything in a notification (label names and values, annotations, times, URLs) comes from whoever
wrote the rule or from the monitored system: it is data, never markup. The body template's
``finalize`` escapes every value it prints for a one-line markdown context (a template cannot
forget it); ``inert_block`` does the same for multi-line text, and ``link`` keeps a URL only as
an http(s) link re-serialised so that it cannot leave its parentheses. Escaped text shows as
written but cannot mention people, reference or close issues, autolink, or add links, images,
HTML, headings or table cells; control and bidi characters become U+FFFD. Bodies are composed
first and truncated last, below GitHub's limit, keeping any note above them and the hidden key.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import jinja2
from markupsafe import Markup

from thoth_monitoring.alert_receiver.payload import Alert, Notification
from thoth_monitoring.core.resources import package_file
from thoth_monitoring.core.text import plain

log = logging.getLogger(__name__)

TEMPLATES = package_file(__package__, "templates")
KEY_MARKER = "<!-- thoth-alert-key: {key} -->"
KEY_PATTERN = re.compile(r"<!-- thoth-alert-key: ([0-9a-f]{16,64}) -->")
MAX_TITLE = 255
MAX_BODY = 65_000  # GitHub allows 65 536 characters; the margin covers how it may count them
TRUNCATED = "\n\n… truncated: the rest did not fit in GitHub's limit for an issue body."
NO_ALERTNAME = "(no alertname)"
# Labels that say which thing is broken, shown in the title when present.
IDENTITY_LABELS = ("database", "datname", "schema", "table", "index", "task", "metric", "instance")
_GITHUB_REFERENCE = re.compile(
    r"/+[^/]+/+[^/]+/+(issues|pull|pulls|discussions|commit|commits)(/|$)", re.IGNORECASE
)
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]|~$&<>]")
_HTML_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# A line's indent (which could make a code block) and what could start a heading, a list or a
# setext underline after it.
_BLOCK_START = re.compile(r"^ *(?:([#+=-])|([0-9]+)([.)]))?", re.MULTILINE)
# Kept as they are in a link destination; everything else is percent-encoded, so that the URL
# cannot contain a space, a quote, '<', '>', '(', ')', '[', ']' or a backslash and leave its link.
_URL_SAFE = "-._~:/?#@!$&*+,;=%"


@dataclass(frozen=True)
class RenderedIssue:
    key: str
    title: str
    body: str
    labels: tuple[str, ...]


def group_key(notification: Notification, template: jinja2.Template | None = None) -> str:
    """A stable key for the alert group: the hash of Alertmanager's groupKey, or of a configured
    template rendered over the notification (e.g. ``{{ commonLabels.alertname }}``). When the
    template names something this notification lacks, the groupKey is used: filing the alert
    under its own group beats refusing it."""
    source = notification.groupKey
    if template is not None:
        try:
            source = template.render(notification.model_dump())
        except jinja2.UndefinedError as error:
            log.warning("key_template_failed", extra={"error": str(error), "group_key_used": True})
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def inert(text: str) -> Markup:
    """Alert text for one line of markdown (a table cell, a heading): ``plain``, on one line
    without indent, with every character markdown or HTML would act on escaped."""
    return Markup(_MARKDOWN_SPECIAL.sub(_escape, plain(text).replace("\n", " ").strip()))


def inert_block(text: str) -> Markup:
    """Multi-line alert text (a description) for markdown: each line as written, and no line
    can start a heading, list, quote, code block or table."""
    escaped = _MARKDOWN_SPECIAL.sub(_escape, plain(text))
    return Markup(_BLOCK_START.sub(_escape_block_start, escaped))


def link(url: str, text: str) -> Markup:
    """``[text](url)`` when ``url`` is an http(s) URL, percent-encoded so that it cannot leave
    its link; anything else is shown as inert text after ``text``. So is a URL of a GitHub
    issue, pull request, discussion or commit (on any host, GitHub Enterprise included): a link
    to one puts a cross-reference on it."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = urlsplit("")
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.netloc
        or _GITHUB_REFERENCE.match(parts.path)
    ):
        return Markup(f"{text}: ") + inert(url)
    safe = parts._replace(
        netloc=quote(parts.netloc, safe=_URL_SAFE + "[]"),  # brackets: an IPv6 address
        path=quote(parts.path, safe=_URL_SAFE),
        query=quote(parts.query, safe=_URL_SAFE),
        fragment=quote(parts.fragment, safe=_URL_SAFE),
    )
    return Markup(f"[{text}]({urlunsplit(safe)})")


def compose(note: str, body: str) -> str:
    """``note`` (markdown we wrote, any alert text in it made inert) above a rendered ``body``,
    cut to GitHub's limit: composed first, truncated last, so that the note and the hidden key
    always survive and only the alert text is cut."""
    match = list(KEY_PATTERN.finditer(body))[-1]
    return _fit(note + body[: match.start()].rstrip("\n"), match.group(0))


def misrouted_note(label: str, repo: str | None) -> str:
    """The note on an issue filed in the default repository instead of the one the ``repo``
    label names: ``repo`` is the name it gave (unknown or not writable), None when the label is
    not a repository name at all (it is shown inert and cut)."""
    if repo is not None:  # a valid owner/name holds no character markdown acts on
        reason = f"names `{repo}`, which is unknown or not writable"
    else:
        shown = label if len(label) <= 140 else label[:139] + "…"
        reason = f"“{inert(shown)}” is not a GitHub repository (owner/name)"
    return f"Routed to the default repository: the alert's repo label {reason}.\n\n"


class Renderer:
    def __init__(
        self,
        template_dir: Path = TEMPLATES,
        common_label: str = "thoth-alert",
        key_template: str | None = None,
    ) -> None:
        self.common_label = common_label
        self.key_template = (
            None
            if key_template is None
            else jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(key_template)
        )
        loader = jinja2.FileSystemLoader(str(template_dir))
        body = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True, finalize=_markdown_value,
        )  # fmt: skip
        body.filters |= {"inert_block": inert_block, "link": link}
        self.body_template = body.get_template("body.md.j2")
        self.title_template = jinja2.Environment(
            loader=loader, autoescape=False, undefined=jinja2.StrictUndefined, finalize=_plain_value
        ).get_template("title.txt.j2")

    def render(self, notification: Notification, resolved_at: str = "") -> RenderedIssue:
        key = group_key(notification, self.key_template)
        context = _context(notification, resolved_at)
        title = _limit(" ".join(self.title_template.render(context).split()), MAX_TITLE, "…")
        body = _fit(self.body_template.render(context).strip(), KEY_MARKER.format(key=key))
        return RenderedIssue(key, title, body, (self.common_label,))


def _context(notification: Notification, resolved_at: str) -> dict[str, Any]:
    """The templates' view of a notification: values as sent (the templates escape them)."""
    alerts = [_alert(alert) for alert in notification.alerts]
    common = notification.commonLabels
    annotations = notification.commonAnnotations
    identity = ", ".join(f"{name}={common[name]}" for name in IDENTITY_LABELS if name in common)
    return {
        "status": notification.status,
        "alertname": common.get("alertname") or alerts[0]["alertname"],
        "severity": common.get("severity", "unknown"),
        "summary": annotations.get("summary") or alerts[0]["annotations"].get("summary", ""),
        "identity": identity,
        "alerts": alerts,
        "firing": [a for a in alerts if a["status"] == "firing"],
        "resolved": [a for a in alerts if a["status"] == "resolved"],
        "external_url": notification.externalURL,
        "resolved_at": resolved_at,
    }


def _alert(alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status,
        "alertname": alert.labels.get("alertname") or NO_ALERTNAME,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": alert.startsAt,
        "endsAt": alert.endsAt,
        "generatorURL": alert.generatorURL,
    }


def _fit(text: str, marker: str) -> str:
    """``text`` and the hidden key, cut with a visible note to stay within ``MAX_BODY``; a text
    cut before is cut again, not noted twice."""
    tail = f"\n\n{marker}\n"
    cut = text.endswith(TRUNCATED)
    text = text.removesuffix(TRUNCATED)
    if cut or len(text) + len(tail) > MAX_BODY:
        text = text[: MAX_BODY - len(TRUNCATED) - len(tail)] + TRUNCATED
    return text + tail


def _markdown_value(value: Any) -> Any:
    return value if isinstance(value, Markup) else inert(str(value))


def _plain_value(value: Any) -> str:
    return plain(str(value))


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return _HTML_ENTITY.get(char) or "\\" + char


def _escape_block_start(match: re.Match[str]) -> str:
    symbol, number, delimiter = match.groups()
    if symbol:
        return f"\\{symbol}"
    return f"{number}\\{delimiter}" if number else ""


def _limit(text: str, limit: int, ellipsis: str) -> str:
    return text if len(text) <= limit else text[: limit - len(ellipsis)] + ellipsis
