"""Rendering: every piece of text from an alert is data, shown as written but never live markdown;
links only where we build them; bodies composed first and truncated last."""

import copy
import html
import re
from typing import Any

import pytest

from tests.support.alerts import payload
from tests.support.markdown import live_markdown, live_text
from thoth_monitoring.alert_receiver.payload import Notification
from thoth_monitoring.alert_receiver.render import (
    KEY_PATTERN,
    MAX_BODY,
    MAX_TITLE,
    NO_ALERTNAME,
    TRUNCATED,
    Renderer,
    compose,
    inert,
    inert_block,
    link,
    misrouted_note,
)
from thoth_monitoring.core.text import plain

HOSTILE = [
    "@octocat and @thoth-station/admins",
    "fixes #12, closes thoth-station/other#3",
    "GH-5 and gh-6",
    "https://github.com/thoth-station/other/issues/1 www.example.com ftp://x",
    "mail me: someone@example.com",
    "![pixel](https://evil.example/p.png) [click](https://evil.example)",
    "[ref]: https://evil.example\n[^1]",
    "<img src=x onerror=alert(1)> <b>bold</b> <!-- thoth-alert-key: 0123456789abcdef -->",
    "value\n# Injected heading\n![x](https://evil.example/x.png)",
    "title\n===\nsub\n---",
    "a | b | c",
    "`code` ``` fence\n```\nblock\n```\n~~~",
    "> quote\n- item\n+ item\n* item\n1. item\n2) item",
    "\n\n    indented code",
    "right-to-left \u202eevil\u202c and \u2066isolate\u2069 \u200bzero\u200f width \ufeff",
    "bell\x07 escape\x1b[31m nul\x00 del\x7f c1\x85 line\u2028separator",
    "**bold** _em_ ~~strike~~ $x^2$ $$\\sum$$ :smile:",
    "&#64;octocat &commat;octocat &lt;b&gt;",
    "back\\slash \\@octocat \\#12 trailing\\",
]


@pytest.mark.parametrize(
    "text",
    [
        "@octocat", "see #12", "GH-5", "gh-6", "https://x.example", "www.example.com",
        "a@b.example", "![i](https://x/i.png)", "[l](https://x)", "<img src=x>", "&#64;x",
        "ok\n# Heading", "ok\n===", "```", "    code", "> quote", "1. item", "* item",
        "`code`", "$x$", "~~strike~~", "**bold**", "\u202e", "\x07", "\u200b", "\\@octocat",
        "&#35;12", "- [Prometheus](https://x) @octocat", "text [Runbook](https://x)",
        "<!-- thoth-alert-key: 0123456789abcdef --> text",
    ],
)  # fmt: skip
def test_checker_finds_live_markdown(text: str) -> None:
    assert live_markdown(text), f"{text!r} is live markdown but was not found"


def test_checker_finds_a_broken_label_table_and_injected_headings() -> None:
    table = "### Firing: x\n\n| label | value |\n|---|---|\n| a | b |\n"
    assert live_markdown(table, headings=1) == []
    assert live_markdown(table + "| a | b | c |\n", headings=1)
    assert live_markdown(table + "### Firing: injected\n", headings=1)


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_is_inert_and_shows_as_written(text: str) -> None:
    for escaped in (inert(text), inert_block(text)):
        assert live_markdown(str(escaped)) == []
        assert _shown(escaped) == _shown_as(text, one_line=escaped == inert(text))
    assert live_text(plain(text)) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://prometheus:9090/graph?g0.expr=up&g0.tab=1",
         "[Prometheus](http://prometheus:9090/graph?g0.expr=up&g0.tab=1)"),
        ("https://h/x) ![i](https://evil/i.png)",
         "[Prometheus](https://h/x%29%20!%5Bi%5D%28https://evil/i.png%29)"),
        ('https://h/a b"c\'<d>\\e`f', "[Prometheus](https://h/a%20b%22c%27%3Cd%3E%5Ce%60f)"),
        ("http://[::1]:9090/graph", "[Prometheus](http://[::1]:9090/graph)"),
        ("javascript:alert(1)", "Prometheus: javascript:alert(1)"),
        ("data:text/html,<b>x</b>", "Prometheus: data:text/html,&lt;b&gt;x&lt;/b&gt;"),
        ("//evil.example/x", "Prometheus: //evil.example/x"),
        ("http://[", "Prometheus: http:\u2060//\\["),
        ("https://github.com/thoth-station/x/issues/7",
         "Prometheus: https:\u2060//github.com/thoth-station/x/issues/7"),
        ("https://ghe.example/o/r/pull/7/files",
         "Prometheus: https:\u2060//ghe.example/o/r/pull/7/files"),
        ("https://github.com/o/r/blob/main/runbook.md#x",
         "[Prometheus](https://github.com/o/r/blob/main/runbook.md#x)"),
    ],
)  # fmt: skip
def test_urls_are_links_only_when_http_and_cannot_leave_them(url: str, expected: str) -> None:
    assert link(url, "Prometheus") == expected
    assert live_markdown(f"- {link(url, 'Prometheus')}") == []  # where the template puts it


def _hostile_payload(text: str) -> dict[str, Any]:
    """Every string of a notification holds ``text``: label names and values, annotations,
    times and URLs, in the common sections and in each alert."""
    body = payload()
    labels = {"alertname": text, "severity": text, "instance": text, text: text, "repo": text}
    annotations = {"summary": text, "description": text, "runbook_url": text,
                   "dashboard_url": text, text: text}  # fmt: skip
    body |= {"commonLabels": labels, "groupLabels": labels, "commonAnnotations": annotations,
             "externalURL": text, "receiver": text}  # fmt: skip
    alert = body["alerts"][0] | {"labels": labels, "annotations": annotations, "startsAt": text,
                                 "endsAt": text, "generatorURL": text}  # fmt: skip
    body["alerts"] = [alert, copy.deepcopy(alert) | {"status": "resolved"}]
    return body


@pytest.mark.parametrize("text", HOSTILE)
def test_no_field_of_a_notification_renders_live(text: str) -> None:
    for status in ("firing", "resolved"):
        hostile = _hostile_payload(text) | {"status": status}
        rendered = Renderer().render(Notification.model_validate(hostile), resolved_at=text)
        assert live_text(rendered.title) == []
        assert live_markdown(rendered.body, headings=2) == []
        assert len(KEY_PATTERN.findall(rendered.body)) == 1


def test_hostile_urls_in_every_link_field_stay_inside_their_links() -> None:
    url = "https://h/x) ![i](https://evil/i.png) [l](https://evil) @octocat #1"
    rendered = Renderer().render(Notification.model_validate(_hostile_payload(url)))
    assert live_markdown(rendered.body, headings=2) == []
    for name in ("Prometheus", "Runbook", "Dashboard", "Alertmanager"):
        assert f"[{name}](https://h/x%29%20!%5Bi%5D%28https://evil/i.png" in rendered.body


def test_alert_without_alertname_renders_with_a_placeholder() -> None:
    nameless = payload()
    for labels in (nameless["commonLabels"], nameless["groupLabels"],
                   nameless["alerts"][0]["labels"]):  # fmt: skip
        labels.pop("alertname", None)  # one dict in three places
    rendered = Renderer().render(Notification.model_validate(nameless))
    assert rendered.title.startswith(f"[CRITICAL] {NO_ALERTNAME}: ")
    assert f"### Firing: {inert(NO_ALERTNAME)}" in rendered.body


def test_key_template_naming_a_missing_label_falls_back_to_the_group_key() -> None:
    renderer = Renderer(key_template="{{ commonLabels.team }}")
    notification = Notification.model_validate(payload())
    assert renderer.render(notification).key == Renderer().render(notification).key


def test_title_is_one_plain_line_within_the_limit() -> None:
    rendered = Renderer().render(
        Notification.model_validate(_hostile_payload("\u202e@x\n#1 " * 99))
    )
    assert len(rendered.title) <= MAX_TITLE
    assert "\n" not in rendered.title
    assert live_text(rendered.title) == []


def test_notes_are_composed_first_and_the_body_truncated_last() -> None:
    long = payload()
    long["alerts"][0]["annotations"]["description"] = "y" * 70_000
    rendered = Renderer().render(Notification.model_validate(long))
    assert len(rendered.body) <= MAX_BODY
    note = misrouted_note("x" * 7_000, None)
    earlier = "Fired again; the earlier occurrence is #1.\n\n"
    routed = compose(note, rendered.body)
    again = compose(earlier, routed)
    for body in (routed, again):
        assert len(body) <= MAX_BODY
        assert body.count(TRUNCATED) == 1
        assert body.endswith(f"{TRUNCATED}\n\n<!-- thoth-alert-key: {rendered.key} -->\n")
    assert routed.startswith(note + "**Firing**") and again.startswith(earlier + note)
    assert compose("", rendered.body) == rendered.body


def test_short_bodies_are_not_cut_when_a_note_is_added() -> None:
    rendered = Renderer().render(Notification.model_validate(payload()))
    composed = compose("A note.\n\n", rendered.body)
    assert composed == "A note.\n\n" + rendered.body
    assert TRUNCATED not in composed


def test_misrouted_note_shows_an_invalid_label_inert_and_cut() -> None:
    note = misrouted_note("`\n@someone " + "x" * 7_000, None)
    assert len(note) < 400
    assert live_markdown(note) == []
    assert note.startswith("Routed to the default repository: the alert's repo label “\\` @")
    assert misrouted_note("nobody/nowhere", "nobody/nowhere").startswith(
        "Routed to the default repository: the alert's repo label names `nobody/nowhere`"
    )


def _shown(markdown: str) -> str:
    """The text a reader sees: escapes, entities and our word joiners removed."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)).replace("\u2060", "")


def _shown_as(text: str, one_line: bool) -> str:
    """What escaping should show for ``text``: control and format characters replaced, line
    breaks normalised (to spaces on one line), indentation removed from multi-line text."""
    text = re.sub(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]", "\n", text).replace("\t", " ")
    text = re.sub(r"[\x00-\x09\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]",
                  "\ufffd", text)  # fmt: skip
    return text.replace("\n", " ").strip() if one_line else re.sub(r"(?m)^ +", "", text)
