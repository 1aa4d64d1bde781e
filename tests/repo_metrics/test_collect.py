"""Collection against the GitHub stand-in: what is stored, and what it costs in requests."""

import logging
from collections import Counter

import pytest

from tests.repo_metrics.conftest import KEBECHET, UPDATE, Collection, at, knowledge_of
from thoth_monitoring.demo.github_standin import Fault

ALPHA, BETA = "thoth-station/alpha", "thoth-station/beta"


def populate(collection: Collection) -> None:
    """Two repositories with the edge cases the indicators must get right."""
    github = collection.github
    for repo in (ALPHA, BETA):
        github.add_repository(repo)
    kebechet = {"author": KEBECHET, "author_type": "Bot"}
    # 1: reviewed by a person, merged by a bot account
    github.add_pull_request(ALPHA, title=UPDATE, at=at(0), **kebechet)
    github.review(ALPHA, 1, "bob", at(10))
    github.merge(ALPHA, 1, at(20), by="sesheta")
    # 2: reviewed by bots only, closed unmerged: never reviewed
    github.add_pull_request(ALPHA, title="Release of version 1.0.0", at=at(1), **kebechet)
    github.review(ALPHA, 2, "review-bot[bot]", at(3), reviewer_type="Bot")
    github.review(ALPHA, 2, "sesheta", at(4), state="COMMENTED")
    github.close(ALPHA, 2, at(30))
    # 3: a person's, with the author's own review first
    github.add_pull_request(ALPHA, title="Fix the docs", author="alice", at=at(2))
    github.review(ALPHA, 3, "alice", at(5), state="COMMENTED")
    github.review(ALPHA, 3, "bob", at(6), state="CHANGES_REQUESTED")
    # 4: a title no template matches; open, never reviewed
    github.add_pull_request(ALPHA, title="Bump all the things", at=at(3), **kebechet)
    # 5: closed and reopened
    github.add_pull_request(ALPHA, title=UPDATE, at=at(2), **kebechet)
    github.close(ALPHA, 5, at(4))
    github.reopen(ALPHA, 5, at(5))
    # 6: a person who deleted their account since
    github.add_pull_request(ALPHA, title="A change", author="carol", at=at(6))
    github.delete_user("carol")
    # 7: an issue answered by its author, a bot, then someone else
    github.add_issue(ALPHA, "It breaks", "dave", at(7))
    github.comment_on(ALPHA, 7, "dave", at(8))
    github.comment_on(ALPHA, 7, "sesheta", at(9))
    github.comment_on(ALPHA, 7, "erin", at(11))
    # 8: an issue nobody answered
    github.add_issue(ALPHA, "A question", "frank", at(12))
    # beta: one Kebechet pull request, merged by Kebechet's own app
    github.add_pull_request(BETA, title=UPDATE, at=at(0), **kebechet)
    github.merge(BETA, 1, at(1), by=KEBECHET, by_type="Bot")


async def test_first_collection_stores_what_the_indicators_need(collection: Collection) -> None:
    populate(collection)
    metrics = await collection.run()
    alpha = knowledge_of(metrics, ALPHA)
    pulls = alpha.pull_requests
    assert sorted(pulls) == [1, 2, 3, 4, 5, 6]
    assert sorted(alpha.issues) == [7, 8]  # pull requests are not issues
    assert (pulls[1].first_review_at, pulls[1].merged_at) == ("2026-11-02T10:00:00Z",
                                                              "2026-11-02T20:00:00Z")  # fmt: skip
    assert pulls[2].first_review_at is None and pulls[2].merged_at is None
    assert pulls[2].state == "closed"
    assert pulls[3].first_review_at == "2026-11-02T06:00:00Z"
    assert pulls[4].first_review_at is None and pulls[4].author == KEBECHET
    assert (pulls[5].state, pulls[5].closed_at) == ("open", None)
    assert pulls[6].author == "ghost"
    assert alpha.issues[7].first_response_at == "2026-11-02T11:00:00Z"
    assert alpha.issues[8].first_response_at is None
    assert knowledge_of(metrics, BETA).pull_requests[1].merged_at == "2026-11-02T01:00:00Z"
    # every pull request's reviews once; comments only of the issue that has comments
    assert collection.github.requests["GET /repos/{owner}/{repo}/pulls/{number}/reviews"] == 7
    assert collection.github.requests["GET /repos/{owner}/{repo}/issues/{number}/comments"] == 1


async def test_an_unchanged_repository_costs_one_free_request(collection: Collection) -> None:
    populate(collection)
    await collection.run()
    before = collection.requests()
    charged = sum(collection.github.charged.values())
    statuses = Counter(collection.github.statuses)
    metrics = await collection.run()
    assert collection.requests() - before == 2  # one per repository
    assert collection.github.statuses[304] - statuses[304] == 2
    assert sum(collection.github.charged.values()) == charged  # 304s are free
    assert metrics.health.outcomes == Counter({"unchanged": 2})


async def test_changes_cost_a_listing_and_a_request_per_changed_item(
    collection: Collection,
) -> None:
    populate(collection)
    await collection.run()
    github = collection.github
    github.review(ALPHA, 4, "bob", at(40))
    github.comment_on(ALPHA, 8, "erin", at(41))
    github.merge(ALPHA, 5, at(42))
    before = Counter(github.requests)
    metrics = await collection.run()
    spent = Counter(github.requests)
    spent.subtract(before)
    assert +spent == Counter({
        "GET /repos/{owner}/{repo}/issues": 2,  # both repositories' first page: 304 for beta
        "GET /repos/{owner}/{repo}/pulls": 1,
        "GET /repos/{owner}/{repo}/pulls/{number}/reviews": 2,  # 4 and 5, nothing else
        "GET /repos/{owner}/{repo}/issues/{number}/comments": 1,  # 8
    })  # fmt: skip
    alpha = knowledge_of(metrics, ALPHA)
    assert alpha.pull_requests[4].first_review_at == "2026-11-03T16:00:00Z"
    assert alpha.pull_requests[5].merged_at == "2026-11-03T18:00:00Z"
    assert alpha.issues[8].first_response_at == "2026-11-03T17:00:00Z"


async def test_reviews_are_not_read_again_once_read_for_the_closed_pull_request(
    collection: Collection,
) -> None:
    populate(collection)
    await collection.run()
    collection.github.comment_on(ALPHA, 2, "bob", at(50))  # closed earlier, reviews read since
    collection.github.comment_on(ALPHA, 4, "bob", at(51))  # open, unreviewed: asked again
    before = collection.github.requests["GET /repos/{owner}/{repo}/pulls/{number}/reviews"]
    await collection.run()
    after = collection.github.requests["GET /repos/{owner}/{repo}/pulls/{number}/reviews"]
    assert after - before == 1


async def test_a_repository_that_vanishes_is_reported_and_kept(
    collection: Collection, caplog: pytest.LogCaptureFixture
) -> None:
    populate(collection)
    await collection.run()
    collection.github.vanish(BETA, 451)
    with caplog.at_level(logging.WARNING):
        metrics = await collection.run()
    beta = knowledge_of(metrics, BETA)
    assert (beta.state.gone, len(beta.pull_requests)) == (451, 1)
    assert any(r.msg == "repository_gone" and r.repository == BETA for r in caplog.records)  # type: ignore[attr-defined]
    assert metrics.health.outcomes["gone"] == 1
    assert metrics.health.last_success is not None  # a gone repository is not a failure
    sample = {tuple(s.labels.values()): s.value for f in metrics.collect()
              if f.name == "thoth_repo_metrics_repositories" for s in f.samples}  # fmt: skip
    assert sample == {("collected",): 1, ("gone",): 1}


async def test_server_errors_and_secondary_limits_are_waited_out(collection: Collection) -> None:
    populate(collection)
    collection.github.faults += [
        Fault(502, writes_only=False, path="/reviews"),
        Fault.secondary_limit(retry_after=1, path="/pulls"),
    ]
    metrics = await collection.run()
    assert metrics.health.outcomes == Counter({"changed": 2})
    assert knowledge_of(metrics, ALPHA).pull_requests[1].first_review_at == "2026-11-02T10:00:00Z"
    assert not collection.github.faults


async def test_a_repository_failing_for_good_fails_the_run_but_not_the_others(
    collection: Collection,
) -> None:
    populate(collection)
    collection.github.faults += [Fault(500, writes_only=False, path="/beta/") for _ in range(3)]
    metrics = await collection.run()
    assert metrics.health.outcomes == Counter({"changed": 1, "failed": 1})
    assert metrics.health.last_success is None
    assert sorted(knowledge_of(metrics, ALPHA).pull_requests) == [1, 2, 3, 4, 5, 6]
