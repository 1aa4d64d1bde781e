"""The issue an alert group becomes: title, body and labels, from jinja2 templates.

Label and annotation values come from whoever wrote the rule or from the monitored system, so
they are made inert before they reach GitHub: no @-mentions, no issue references (which would
link or, in some contexts, close other issues), no HTML. Titles and bodies stay under GitHub's
limits, with a visible note when cut.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from alerts.payload import Alert, Notification

TEMPLATES = Path(__file__).with_name("templates")
KEY_MARKER = "<!-- thoth-alert-key: {key} -->"
KEY_PATTERN = re.compile(r"<!-- thoth-alert-key: ([0-9a-f]{16,64}) -->")
MAX_TITLE = 255
MAX_BODY = 65_000
# Labels that say which thing is broken, shown in the title when present.
IDENTITY_LABELS = ("database", "datname", "schema", "table", "index", "task", "metric", "instance")
_ZERO_WIDTH = "\u2060"
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_REFERENCE = re.compile(r"(?<![&\w])#(?=\d)|(?<=\w)#(?=\d)")
_CLOSING = re.compile(r"\b(close[sd]?|fix(e[sd])?|resolve[sd]?)(\s*:?\s+)(?=\S*#)", re.IGNORECASE)


@dataclass(frozen=True)
class RenderedIssue:
    key: str
    title: str
    body: str
    labels: tuple[str, ...]


def group_key(notification: Notification, template: jinja2.Template | None = None) -> str:
    """A stable key for the alert group: the hash of Alertmanager's groupKey, or of a configured
    template rendered over the notification (e.g. ``{{ commonLabels.alertname }}``)."""
    source = (
        notification.groupKey if template is None else template.render(notification.model_dump())
    )
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def inert(text: str) -> str:
    """Text that cannot mention people or reference issues (HTML is escaped by the template)."""
    text = _MENTION.sub("@" + _ZERO_WIDTH, text)
    text = _CLOSING.sub(lambda m: m.group(1) + _ZERO_WIDTH + m.group(3), text)
    return _REFERENCE.sub("#" + _ZERO_WIDTH, text)


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
        self.body_template = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        ).get_template("body.md.j2")  # fmt: skip
        self.title_template = jinja2.Environment(
            loader=loader, autoescape=False, undefined=jinja2.StrictUndefined
        ).get_template("title.txt.j2")

    def render(self, notification: Notification, resolved_at: str = "") -> RenderedIssue:
        key = group_key(notification, self.key_template)
        context = self._context(notification, resolved_at)
        title = _limit(" ".join(self.title_template.render(context).split()), MAX_TITLE, "…")
        body = self.body_template.render(context).strip()
        marker = KEY_MARKER.format(key=key)
        if len(body) > MAX_BODY:
            note = f"\n\n… truncated: {len(body) - MAX_BODY} characters omitted.\n"
            body = body[: MAX_BODY - len(note)] + note
        return RenderedIssue(key, title, f"{body}\n\n{marker}\n", (self.common_label,))

    def _context(self, notification: Notification, resolved_at: str) -> dict[str, Any]:
        alerts = [_inert_alert(alert) for alert in notification.alerts]
        common = {k: inert(v) for k, v in notification.commonLabels.items()}
        annotations = {k: inert(v) for k, v in notification.commonAnnotations.items()}
        first = alerts[0] if alerts else {"labels": {}, "annotations": {}}
        identity = ", ".join(f"{name}={common[name]}" for name in IDENTITY_LABELS if name in common)
        return {
            "status": notification.status,
            "alertname": common.get("alertname") or first["labels"].get("alertname", "alert"),
            "severity": common.get("severity", "unknown"),
            "summary": annotations.get("summary") or first["annotations"].get("summary", ""),
            "identity": identity,
            "alerts": alerts,
            "firing": [a for a in alerts if a["status"] == "firing"],
            "resolved": [a for a in alerts if a["status"] == "resolved"],
            "external_url": notification.externalURL,
            "resolved_at": resolved_at,
        }


def _inert_alert(alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status,
        "labels": {k: inert(v) for k, v in alert.labels.items()},
        "annotations": {k: inert(v) for k, v in alert.annotations.items()},
        "startsAt": alert.startsAt,
        "endsAt": alert.endsAt,
        "generatorURL": alert.generatorURL,
    }


def _limit(text: str, limit: int, ellipsis: str) -> str:
    return text if len(text) <= limit else text[: limit - len(ellipsis)] + ellipsis
