"""The alert receiver against the GitHub stand-in: one issue per group, updates, resolution,
re-fire, routing, failures and retries, authentication and input checks, inert text."""

import asyncio
import base64
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from alerts.github import GitHubClient
from alerts.github_standin import Fault, GitHubStandIn
from alerts.payload import Notification
from alerts.receiver import Receiver, ReceiverMetrics, ReceiverSettings, make_app
from alerts.render import Renderer, inert

REPO = "thoth-station/thoth-application"
TOKEN = "webhook-secret"
Client = TestClient[web.Request, web.Application]


def payload(status: str = "firing", group: str = "db-down", **labels: str) -> dict[str, Any]:
    alert_labels = {"alertname": "ThothDatabaseUnreachable", "severity": "critical",
                    "repo": REPO, "instance": "me:9701"} | labels  # fmt: skip
    return {
        "version": "4", "groupKey": f'{{}}:{{alertname="{group}"}}', "status": status,
        "receiver": "github-issues", "groupLabels": {"alertname": alert_labels["alertname"]},
        "commonLabels": alert_labels,
        "commonAnnotations": {"summary": "The knowledge-graph database does not answer."},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": status, "labels": alert_labels,
            "annotations": {"summary": "The knowledge-graph database does not answer.",
                            "description": "No answer for 5 minutes.",
                            "runbook_url": "https://example/runbook.md#x"},
            "startsAt": "2026-11-25T10:00:00Z",
            "endsAt": "2026-11-25T11:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": "abc",
        }],
    }  # fmt: skip


@dataclass
class Stack:
    github: GitHubStandIn
    client: Client
    receiver: Receiver
    now: list[datetime]

    async def send(self, body: Any, auth: str = f"Bearer {TOKEN}") -> tuple[int, Any]:
        response = await self.client.post(
            "/alerts", data=json.dumps(body), headers={"Authorization": auth}
        )
        return response.status, await response.json()


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    github = GitHubStandIn()
    async with TestServer(github.app()) as server, aiohttp.ClientSession() as session:
        settings = ReceiverSettings(default_repo=REPO, bearer_token=TOKEN, write_spacing=0,
                                    basic_username="am", basic_password="pw")  # fmt: skip
        metrics = ReceiverMetrics()
        tracker = GitHubClient(session, str(server.make_url("")), github.token, write_spacing=0,
                               sleep=lambda seconds: asyncio.sleep(0))  # fmt: skip
        now = [datetime(2026, 11, 25, 12, tzinfo=UTC)]
        receiver = Receiver(settings, tracker, Renderer(), metrics, clock=lambda: now[0])
        await receiver.warm()
        async with TestClient(TestServer(make_app(settings, receiver))) as client:
            yield Stack(github, client, receiver, now)


async def test_firing_group_opens_exactly_one_issue_even_when_delivered_concurrently(
    stack: Stack,
) -> None:
    results = await asyncio.gather(*(stack.send(payload()) for _ in range(5)))
    assert sorted(r[1]["outcome"] for r in results) == ["created"] + ["unchanged"] * 4
    issues = stack.github.open_issues()
    assert len(issues) == 1
    issue = issues[0]
    assert issue["title"] == (
        "[CRITICAL] ThothDatabaseUnreachable: The knowledge-graph database does not answer. "
        "(instance=me:9701)"
    )
    assert "<!-- thoth-alert-key: " in issue["body"]
    assert [label["name"] for label in issue["labels"]] == ["thoth-alert"]
    assert "[Runbook](https://example/runbook.md#x)" in issue["body"]
    assert stack.github.requests["POST /repos/{owner}/{repo}/issues"] == 1
    assert stack.github.requests["GET /repos/{owner}/{repo}/issues"] == 1  # the warm-up only


async def test_changed_group_updates_then_resolution_comments_and_closes(stack: Stack) -> None:
    await stack.send(payload())
    changed = payload()
    changed["alerts"].append(copy.deepcopy(changed["alerts"][0]) | {"fingerprint": "def"})
    changed["alerts"][1]["labels"] = changed["alerts"][1]["labels"] | {"instance": "me2:9701"}
    assert (await stack.send(changed))[1] == {"outcome": "updated"}
    assert "me2:9701" in stack.github.open_issues()[0]["body"]
    assert (await stack.send(payload("resolved")))[1] == {"outcome": "closed"}
    issue = stack.github.issues[REPO][0]
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert stack.github.comments[(REPO, 1)] == [
        "Resolved at 2026-11-25T12:00:00+00:00: every alert of this group has stopped firing."
    ]
    assert (await stack.send(payload("resolved")))[1] == {"outcome": "ignored"}


async def test_refire_reopens_within_the_window_and_refiles_after_it(stack: Stack) -> None:
    await stack.send(payload())
    await stack.send(payload("resolved"))
    stack.now[0] = datetime(2026, 11, 25, 12, tzinfo=UTC)  # the stand-in closed it at 00:00
    assert (await stack.send(payload()))[1] == {"outcome": "reopened"}
    assert stack.github.issues[REPO][0]["state"] == "open"
    await stack.send(payload("resolved"))
    stack.now[0] += timedelta(days=3)
    assert (await stack.send(payload()))[1] == {"outcome": "refiled"}
    new = stack.github.issues[REPO][1]
    assert new["body"].startswith(
        f"Fired again; the earlier occurrence is https://github.example/{REPO}/issues/1."
    )


async def test_opt_out_annotation_leaves_the_issue_open(stack: Stack) -> None:
    await stack.send(payload())
    resolved = payload("resolved")
    resolved["commonAnnotations"]["github_close_on_resolve"] = "false"
    assert (await stack.send(resolved))[1] == {"outcome": "resolved-left-open"}
    assert stack.github.issues[REPO][0]["state"] == "open"


async def test_repo_label_routes_and_unknown_repos_fall_back_with_a_note(stack: Stack) -> None:
    stack.github.repos.add("thoth-station/storages")
    await stack.send(payload(group="storage", repo="storages"))
    assert len(stack.github.open_issues("thoth-station/storages")) == 1
    await stack.send(payload(group="lost", repo="nobody/nowhere"))
    fallback = stack.github.open_issues()[0]
    assert fallback["body"].startswith("Routed to the default repository: the alert's repo "
                                       "label names `nobody/nowhere`")  # fmt: skip
    metrics = await (await stack.client.get("/metrics")).text()
    assert "thoth_alert_receiver_misrouted_notifications_total 1.0" in metrics


async def test_github_failures_answer_503_and_redelivery_creates_one_issue(stack: Stack) -> None:
    stack.github.faults += [Fault(502), Fault(502), Fault(502), Fault(502), Fault(502)]
    status, body = await stack.send(payload())
    assert status == 503
    assert "gave up" in body["error"]
    assert stack.github.open_issues() == []
    status, body = await stack.send(payload())
    assert (status, body) == (200, {"outcome": "created"})
    assert len(stack.github.open_issues()) == 1


async def test_rate_limits_are_waited_out_not_hammered(stack: Stack) -> None:
    stack.github.faults += [
        Fault(429, {"retry-after": "1"}),
        Fault(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}),
    ]
    assert (await stack.send(payload()))[1] == {"outcome": "created"}
    posts = stack.github.requests["POST /repos/{owner}/{repo}/issues"]
    assert posts == 3  # two rate-limited attempts, one that went through


async def test_restarted_receiver_finds_its_issues_through_paginated_listing(stack: Stack) -> None:
    for n in range(150):
        stack.github._new(REPO, f"other {n}", "", ["thoth-alert"])
        stack.github.add_pull_request(REPO, ["thoth-alert"])
    await stack.send(payload())
    fresh = Receiver(stack.receiver.settings, stack.receiver.tracker, Renderer(),
                     ReceiverMetrics(), clock=lambda: stack.now[0])  # fmt: skip
    await fresh.warm()
    assert stack.github.requests["GET /repos/{owner}/{repo}/issues"] == 1 + 4  # 301 items
    assert await fresh.deliver(_notification(payload())) == "unchanged"


def _notification(body: dict[str, Any]) -> Notification:
    return Notification.model_validate(body)


async def test_credentials_are_required(stack: Stack) -> None:
    assert (await stack.send(payload(), auth=""))[0] == 401
    assert (await stack.send(payload(), auth="Bearer wrong"))[0] == 401
    basic = "Basic " + base64.b64encode(b"am:pw").decode()
    assert (await stack.send(payload(), auth=basic))[0] == 200


async def test_malformed_and_oversized_payloads_are_refused_precisely(stack: Stack) -> None:
    response = await stack.client.post(
        "/alerts", data="{not json", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 400
    assert (await response.json())["error"].startswith("invalid JSON")
    broken = payload()
    del broken["alerts"][0]["labels"]
    broken["version"] = "3"
    status, body = await stack.send(broken)
    assert status == 400
    assert "alerts.0.labels: Field required" in body["problems"]
    assert any(p.startswith("version:") for p in body["problems"])
    huge = payload()
    huge["commonAnnotations"]["summary"] = "x" * (2 << 20)
    assert (await stack.send(huge))[0] == 413


async def test_label_text_cannot_mention_reference_or_inject_html(stack: Stack) -> None:
    await stack.send(payload(instance="@octocat fixes #12 <script>alert(1)</script>"))
    body = stack.github.open_issues()[0]["body"]
    assert "@octocat" not in body
    assert "#12" not in body
    assert "<script>" not in body
    assert "&lt;script&gt;" in body
    assert inert("closes #4 and @team") == "closes #\u20604 and @\u2060team"


async def test_overlong_text_is_truncated_with_a_note(stack: Stack) -> None:
    long = payload()
    long["alerts"][0]["annotations"]["description"] = "y" * 70_000
    long["commonAnnotations"]["summary"] = "z" * 300
    await stack.send(long)
    issue = stack.github.open_issues()[0]
    assert len(issue["title"]) <= 255 and issue["title"].endswith("…")
    assert len(issue["body"]) < 65_536
    assert "truncated:" in issue["body"]
    assert "<!-- thoth-alert-key: " in issue["body"]


async def test_secondary_rate_limit_without_headers_is_waited_out(stack: Stack) -> None:
    stack.github.faults.append(Fault(403, message="You have exceeded a secondary rate limit."))
    assert (await stack.send(payload()))[1] == {"outcome": "created"}


def test_key_template_groups_by_what_it_names() -> None:
    renderer = Renderer(key_template="{{ commonLabels.alertname }}")
    first, second = payload(group="a"), payload(group="b")
    keys = {renderer.render(_notification(body)).key for body in (first, second)}
    assert len(keys) == 1  # different groupKeys, same alert name: one issue
    assert len({Renderer().render(_notification(b)).key for b in (first, second)}) == 2
