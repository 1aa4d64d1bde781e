"""The alert receiver against the GitHub stand-in: one issue per group, updates, resolution,
re-fire, routing; the recorded desired state (ordering, coalescing, restarts, bounds); GitHub
failing before or after applying a write, rate limits; authentication and input checks, inert
text."""

import asyncio
import base64
import copy
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.alerts import REPO, TOKEN, Stack, payload, until
from thoth_monitoring.alert_receiver.github import GitHubIssues, RateLimited
from thoth_monitoring.alert_receiver.payload import Notification
from thoth_monitoring.alert_receiver.render import Renderer, inert
from thoth_monitoring.demo.github_standin import Fault


async def test_firing_group_opens_exactly_one_issue_even_when_delivered_concurrently(
    stack: Stack,
) -> None:
    results = await asyncio.gather(*(stack.send(payload()) for _ in range(5)))
    assert results == [(202, {"outcome": "queued"})] * 5
    await stack.settle()
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


async def test_changed_group_updates_then_resolution_closes_and_comments_once(
    stack: Stack,
) -> None:
    await stack.deliver(payload())
    changed = payload()
    changed["alerts"].append(copy.deepcopy(changed["alerts"][0]) | {"fingerprint": "def"})
    changed["alerts"][1]["labels"] = changed["alerts"][1]["labels"] | {"instance": "me2:9701"}
    await stack.deliver(changed)
    assert stack.outcomes() == {"created": 1, "updated": 1}
    assert "me2:9701" in stack.github.open_issues()[0]["body"]
    assert await stack.send(payload("resolved")) == (202, {"outcome": "queued"})
    await stack.settle()
    issue = stack.github.issues[REPO][0]
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert "**Resolved** at 2026-11-25T11:00:00+00:00" in issue["body"]  # the alerts' endsAt
    [comment] = stack.github.comments[(REPO, 1)]
    assert comment.startswith(
        "Resolved at 2026-11-25T11:00:00+00:00: every alert of this group has stopped firing."
    )
    await stack.send(payload("resolved"))  # the other Alertmanager, or a redelivery
    await stack.settle()
    assert stack.outcomes()["unchanged"] == 1
    assert len(stack.github.comments[(REPO, 1)]) == 1


async def test_refire_reopens_within_the_window_and_refiles_after_it(stack: Stack) -> None:
    await stack.deliver(payload())
    await stack.deliver(payload("resolved"))
    stack.now[0] = datetime(2026, 11, 25, 12, tzinfo=UTC)  # the stand-in closed it at 00:00
    await stack.deliver(payload(starts="2026-11-25T11:30:00Z"))
    assert stack.outcomes()["reopened"] == 1
    assert stack.github.issues[REPO][0]["state"] == "open"
    resolved = payload("resolved", starts="2026-11-25T11:30:00Z")
    resolved["alerts"][0]["endsAt"] = "2026-11-25T11:45:00Z"
    await stack.deliver(resolved)
    assert len(stack.github.comments[(REPO, 1)]) == 2  # one per resolution
    stack.now[0] += timedelta(days=3)
    await stack.deliver(payload(starts="2026-11-28T12:00:00Z"))
    assert stack.outcomes()["refiled"] == 1
    new = stack.github.issues[REPO][1]
    assert new["body"].startswith(
        f"Fired again; the earlier occurrence is https://github.example/{REPO}/issues/1."
    )


async def test_a_late_firing_notification_does_not_reopen_a_resolved_issue(stack: Stack) -> None:
    await stack.deliver(payload())
    await stack.deliver(payload("resolved"))
    assert await stack.send(payload()) == (200, {"outcome": "stale"})  # older than the resolution
    await stack.settle()
    assert stack.github.issues[REPO][0]["state"] == "closed"
    assert stack.outcomes() == {"created": 1, "closed": 1}


async def test_deliveries_from_both_alertmanagers_of_a_pair_do_not_edit_the_issue(
    stack: Stack,
) -> None:
    for url in ("http://alertmanager-0:9093", "http://alertmanager-1:9093") * 2:
        await stack.deliver(payload() | {"externalURL": url})
    assert stack.outcomes() == {"created": 1, "unchanged": 3}
    assert stack.github.requests["PATCH /repos/{owner}/{repo}/issues/{number}"] == 0
    assert "alertmanager-0" not in stack.github.open_issues()[0]["body"]


async def test_opt_out_annotation_leaves_the_issue_open(stack: Stack) -> None:
    await stack.deliver(payload())
    resolved = payload("resolved")
    resolved["commonAnnotations"]["github_close_on_resolve"] = "false"
    await stack.deliver(resolved)
    assert stack.outcomes()["resolved-left-open"] == 1
    assert stack.github.issues[REPO][0]["state"] == "open"
    assert len(stack.github.comments[(REPO, 1)]) == 1


async def test_repo_label_routes_and_unknown_repos_fall_back_with_a_note(stack: Stack) -> None:
    stack.github.repos.add("thoth-station/storages")
    await stack.send(payload(group="storage", repo="storages"))
    await stack.send(payload(group="lost", repo="nobody/nowhere"))
    await stack.settle()
    assert len(stack.github.open_issues("thoth-station/storages")) == 1
    fallback = stack.github.open_issues()[0]
    assert fallback["body"].startswith("Routed to the default repository: the alert's repo "
                                       "label names `nobody/nowhere`")  # fmt: skip
    metrics = await (await stack.client.get("/metrics")).text()
    assert "thoth_alert_receiver_misrouted_notifications_total 1.0" in metrics


async def test_webhook_answers_before_github_writes(stack: Stack) -> None:
    stack.github.faults.append(Fault(502, delay=1.5))  # GitHub slow, then failing
    assert await stack.send(payload()) == (202, {"outcome": "queued"})
    assert stack.github.issues.get(REPO, []) == []  # answered, nothing written yet
    await stack.settle()
    assert len(stack.github.open_issues()) == 1
    assert stack.outcomes() == {"github_error": 1, "created": 1}


@pytest.mark.parametrize(
    "fault",
    [Fault(502, applied=True), Fault(502, applied=True, html=True),
     Fault(200, applied=True, html=True), Fault(201, applied=True, delay=2)],
    ids=["502", "html-502", "html-200", "timeout"],
)  # fmt: skip
async def test_a_create_github_applied_but_did_not_confirm_is_not_repeated(
    stack: Stack, fault: Fault
) -> None:
    stack.github.faults.append(fault)
    await stack.send(payload())
    await stack.settle()
    assert len(stack.github.issues[REPO]) == 1
    assert stack.github.requests["POST /repos/{owner}/{repo}/issues"] == 1
    assert stack.github.requests["GET /repos/{owner}/{repo}/issues"] == 2  # re-listed once
    assert stack.outcomes() == {"github_error": 1, "unchanged": 1}


async def test_a_resolution_comment_github_did_not_confirm_is_not_posted_twice(
    stack: Stack,
) -> None:
    await stack.deliver(payload())
    stack.github.faults.append(Fault(502, applied=True))  # the close goes through
    stack.github.faults.append(Fault(502, applied=True))  # the comment too, unconfirmed
    await stack.send(payload("resolved"))
    await stack.settle()
    assert stack.github.issues[REPO][0]["state"] == "closed"
    assert len(stack.github.comments[(REPO, 1)]) == 1


async def test_notifications_before_the_startup_listing_wait_for_it(idle_stack: Stack) -> None:
    stack = idle_stack
    unlabelled = payload()
    del unlabelled["commonLabels"]["repo"]  # the alert's labels too: the same dict
    first = stack.make_receiver()  # an earlier run filed the issue
    await first.deliver(Notification.model_validate(unlabelled))
    stack.github.faults += [Fault(502, writes_only=False, html=True) for _ in range(4)]
    stack.worker = asyncio.create_task(stack.receiver.run())
    assert await stack.send(unlabelled) == (202, {"outcome": "queued"})
    assert (await stack.client.get("/readyz")).status == 503
    await until(lambda: stack.receiver.ready, "the start-up listing")
    await stack.settle()
    assert len(stack.github.issues[REPO]) == 1
    assert stack.outcomes() == {"unchanged": 1}


async def test_a_newer_notification_supersedes_a_queued_older_one(idle_stack: Stack) -> None:
    stack = idle_stack
    changed = payload()
    changed["alerts"].append(copy.deepcopy(changed["alerts"][0]) | {"fingerprint": "def"})
    changed["alerts"][1]["labels"] |= {"instance": "me2:9701"}
    await stack.send(payload())
    await stack.send(changed)
    await stack.start()
    await stack.settle()
    assert stack.outcomes() == {"created": 1}
    assert "me2:9701" in stack.github.open_issues()[0]["body"]


async def test_recorded_notifications_survive_a_restart(idle_stack: Stack) -> None:
    await idle_stack.send(payload())  # recorded, the worker never ran
    await idle_stack.receiver.store.close()
    restarted = idle_stack.make_receiver()
    await restarted.store.open(time.time())
    idle_stack.receiver = restarted
    await idle_stack.start()
    await idle_stack.settle()
    assert len(idle_stack.github.open_issues()) == 1


async def test_github_failures_are_retried_and_file_one_issue(stack: Stack) -> None:
    stack.github.faults += [Fault(502) for _ in range(5)]
    assert (await stack.send(payload()))[0] == 202
    await stack.settle()
    assert len(stack.github.open_issues()) == 1
    assert stack.outcomes()["created"] == 1


async def test_a_group_github_refuses_for_good_is_dropped_and_the_others_go_on(
    stack: Stack,
) -> None:
    stack.github.faults.append(Fault(422, message="Validation Failed"))
    await stack.send(payload(group="a"))
    await stack.send(payload(group="b"))
    await stack.settle()
    assert len(stack.github.open_issues()) == 1
    assert stack.outcomes() == {"github_error": 1, "created": 1}


async def test_a_rate_limit_pauses_every_write_until_its_end_even_across_a_restart(
    stack: Stack,
) -> None:
    stack.github.faults.append(Fault(429, {"retry-after": "3"}))
    await stack.send(payload(group="a"))
    await until(lambda: stack.github.limited_until > 0, "the rate-limit answer")
    deadline = time.monotonic() + 30  # the worker stores the pause at its next step
    while not await stack.receiver.store.paused_until():
        assert time.monotonic() < deadline, "the pause was never stored"
        await asyncio.sleep(0.01)
    await stack.stop()  # restart inside the window
    assert await stack.receiver.store.paused_until() > time.time()
    restarted = stack.make_receiver()
    await restarted.store.open(time.time())
    stack.receiver = restarted
    await stack.start()
    await restarted.accept(_notification(payload(group="b")))
    await restarted.accept(_notification(payload(group="a")))  # Alertmanager's redelivery
    await stack.settle()
    assert len(stack.github.open_issues()) == 2
    assert stack.github.writes_while_limited == 0


async def test_a_rate_limit_answer_says_until_when() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response(
            {"message": "You have exceeded a secondary rate limit."}, status=403
        )

    app = web.Application()
    app.router.add_post("/repos/o/r/issues", answer)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        client = GitHubIssues(session, str(server.make_url("")), "t", write_spacing=0)
        started = time.time()
        with pytest.raises(RateLimited) as raised:
            await client.create_issue("o/r", "t", "b", [])
    assert raised.value.until >= started + 60  # no retry-after: a minute, as GitHub advises


async def test_a_full_queue_answers_503_at_once(idle_stack: Stack) -> None:
    idle_stack.receiver.settings = idle_stack.receiver.settings.model_copy(
        update={"max_pending": 2}
    )
    assert (await idle_stack.send(payload(group="a")))[0] == 202
    assert (await idle_stack.send(payload(group="b")))[0] == 202
    status, body = await idle_stack.send(payload(group="c"))
    assert (status, body) == (503, {"error": "2 alert groups wait for GitHub; retry later"})
    assert (await idle_stack.send(payload(group="a")))[0] == 202  # supersedes, no new slot
    metrics = await (await idle_stack.client.get("/metrics")).text()
    assert "thoth_alert_receiver_pending_groups 2.0" in metrics
    assert 'thoth_alert_receiver_recorded_notifications_total{outcome="queue_full"} 1.0' in metrics
    age = idle_stack.receiver.metrics.registry.get_sample_value(
        "thoth_alert_receiver_oldest_pending_age_seconds"
    )
    assert age is not None and age > 0


async def test_webhook_answers_503_when_the_state_cannot_be_written(
    idle_stack: Stack, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "state.sqlite3", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the file
    try:
        status, body = await idle_stack.send(payload())
    finally:
        other.close()
    assert (status, body) == (503, {"error": "cannot record notifications now"})
    assert (await idle_stack.send(payload()))[0] == 202


async def test_restarted_receiver_finds_its_issues_through_paginated_listing(stack: Stack) -> None:
    for n in range(150):
        stack.github._new(REPO, f"other {n}", "", ["thoth-alert"])
        stack.github.add_pull_request(REPO, ["thoth-alert"])
    await stack.send(payload())
    await stack.settle()
    fresh = stack.make_receiver()
    await fresh.warm()
    assert stack.github.requests["GET /repos/{owner}/{repo}/issues"] == 1 + 4  # 301 items
    assert await fresh.deliver(_notification(payload())) == "unchanged"


def _notification(body: dict[str, Any]) -> Notification:
    return Notification.model_validate(body)


async def test_credentials_are_required(stack: Stack) -> None:
    assert (await stack.send(payload(), auth=""))[0] == 401
    assert (await stack.send(payload(), auth="Bearer wrong"))[0] == 401
    basic = "Basic " + base64.b64encode(b"am:pw").decode()
    assert (await stack.send(payload(), auth=basic))[0] == 202


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
    await stack.settle()
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
    await stack.settle()
    issue = stack.github.open_issues()[0]
    assert len(issue["title"]) <= 255 and issue["title"].endswith("…")
    assert len(issue["body"]) < 65_536
    assert "truncated:" in issue["body"]
    assert "<!-- thoth-alert-key: " in issue["body"]


def test_key_template_groups_by_what_it_names() -> None:
    renderer = Renderer(key_template="{{ commonLabels.alertname }}")
    first, second = payload(group="a"), payload(group="b")
    keys = {renderer.render(_notification(body)).key for body in (first, second)}
    assert len(keys) == 1  # different groupKeys, same alert name: one issue
    assert len({Renderer().render(_notification(b)).key for b in (first, second)}) == 2
