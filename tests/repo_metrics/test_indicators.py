"""Indicators from stored records, against numbers worked out by hand."""

from datetime import UTC, datetime

from thoth_monitoring.repo_metrics.indicators import (
    Period,
    adopted_at,
    delivery,
    issue_activity,
    kebechet_pull_requests,
    oldest_open,
    per_manager,
    quantile,
)
from thoth_monitoring.repo_metrics.knowledge import Issue, Knowledge, PullRequest, State

KEBECHET = frozenset({"khebhut[bot]"})
WEEK = Period(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
UPDATE = "Automatic update of dependencies by Kebechet for the default environment"
RELEASE = "Release of version 1.0.0"


def pull(
    number: int, created: str, title: str = UPDATE, author: str = "khebhut[bot]", **fields: object
) -> PullRequest:
    record = PullRequest(number, title, author, author.endswith("[bot]"), [], "open",
                         created, created)  # fmt: skip
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def repository() -> Knowledge:
    pulls = [
        # merged in the week after 2 days; first review after 1 day (in the week)
        pull(1, "2026-11-22T00:00:00Z", state="closed", closed_at="2026-11-24T00:00:00Z",
             merged_at="2026-11-24T00:00:00Z", first_review_at="2026-11-23T00:00:00Z"),
        # opened and merged in the week after 6 h; merged by a bot: a merge all the same
        pull(2, "2026-11-25T00:00:00Z", state="closed", closed_at="2026-11-25T06:00:00Z",
             merged_at="2026-11-25T06:00:00Z"),
        # opened in the week, closed unmerged in it, never reviewed
        pull(3, "2026-11-26T00:00:00Z", state="closed", closed_at="2026-11-27T00:00:00Z"),
        # closed and reopened: open now, closed_at cleared (as GitHub does)
        pull(4, "2026-11-20T00:00:00Z"),
        # a release, opened in the week, open at its end
        pull(5, "2026-11-28T00:00:00Z", title=RELEASE),
        # merged after the week: open at the week's end, not merged in it
        pull(6, "2026-11-29T00:00:00Z", state="closed", closed_at="2026-12-01T00:00:00Z",
             merged_at="2026-12-01T00:00:00Z"),
        # a title no template matches: counted, as unknown/other
        pull(7, "2026-11-24T00:00:00Z", title="Bump everything"),
        # not Kebechet's: a person's, and one whose author was deleted
        pull(8, "2026-11-24T00:00:00Z", author="someone"),
        pull(9, "2026-11-24T00:00:00Z", author="ghost"),
    ]  # fmt: skip
    issues = [
        Issue(1, "a bug", "someone", False, "closed", "2026-11-23T00:00:00Z",
              "2026-11-25T00:00:00Z", closed_at="2026-11-25T00:00:00Z", comments=2,
              first_response_at="2026-11-23T12:00:00Z"),
        Issue(2, "a question", "ghost", False, "open", "2026-11-10T00:00:00Z",
              "2026-11-24T00:00:00Z", comments=1, first_response_at="2026-11-24T00:00:00Z"),
        Issue(3, "never answered", "someone", False, "open", "2026-11-29T00:00:00Z",
              "2026-11-29T00:00:00Z"),
    ]  # fmt: skip
    return Knowledge(
        "thoth-station/example",
        {p.number: p for p in pulls},
        {i.number: i for i in issues},
        State(first_seen="2026-11-26T10:00:00Z"),
    )


def test_delivery_per_manager_and_kind() -> None:
    pulls = kebechet_pull_requests([repository()], KEBECHET)
    assert sorted(p.record.number for p in pulls) == [1, 2, 3, 4, 5, 6, 7]
    groups = delivery(pulls, WEEK)
    update = groups[("update", "dependencies")]
    assert (update.opened, update.merged, update.rejected, update.open_at_end) == (3, 2, 1, 2)
    assert update.delivery_ratio == 2 / 3
    assert sorted(update.merge_seconds) == [6 * 3600, 2 * 86400]
    assert update.review_seconds == [86400]
    release = groups[("version", "release")]
    assert (release.opened, release.merged, release.rejected, release.open_at_end) == (1, 0, 0, 1)
    assert release.delivery_ratio is None  # nothing closed: no ratio, not 0
    other = groups[("unknown", "other")]
    assert (other.opened, other.open_at_end) == (1, 1)


def test_per_manager_sums_kinds_and_by_repository_keys_by_repository() -> None:
    pulls = kebechet_pull_requests([repository()], KEBECHET)
    managers = per_manager(delivery(pulls, WEEK))
    assert managers["update"].opened == 3
    assert managers["version"].opened == 1
    by_repository = delivery(pulls, WEEK, by_repository=True)
    assert by_repository[("thoth-station/example", "update", "dependencies")].merged == 2


def test_quantiles_interpolate_between_closest_ranks() -> None:
    assert quantile([10, 1, 3, 2], 0.5) == 2.5
    assert quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9.1
    assert quantile([7], 0.9) == 7
    assert quantile([], 0.5) is None


def test_issue_activity_and_first_response() -> None:
    activity = issue_activity([repository()], WEEK)["thoth-station/example"]
    assert (activity.opened, activity.closed) == (2, 1)
    # issue 1 answered after 12 h; issue 2 (a deleted author) answered in the week after 14 days
    assert sorted(activity.response_seconds) == [12 * 3600, 14 * 86400]


def test_oldest_open_pull_requests_at_the_week_end() -> None:
    pulls = kebechet_pull_requests([repository()], KEBECHET)
    oldest = oldest_open(pulls, WEEK.end, limit=2)
    assert [(p.record.number, age) for p, age in oldest] == [(4, 10 * 86400), (7, 6 * 86400)]


def test_adoption_is_the_first_kebechet_pull_request_or_first_collection() -> None:
    assert adopted_at(repository(), KEBECHET) == "2026-11-20T00:00:00Z"
    empty = Knowledge("o/new", state=State(first_seen="2026-11-26T10:00:00Z"))
    assert adopted_at(empty, KEBECHET) == "2026-11-26T10:00:00Z"
