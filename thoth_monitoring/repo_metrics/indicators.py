"""Indicators computed from the knowledge store: pure arithmetic over stored records, shared by
the metrics, the weekly report and the tests.

A period is half-open, ``[start, end)``. A pull request is *opened* in the period it was
created in, *merged* or *rejected* (closed without merge) in the period it was closed in, and
*open* at a period's end if it was created before and not closed by then. Durations run from
creation to the first review (by someone other than the author, not a bot) and to the merge;
each is counted in the period the event happened. Quantiles interpolate linearly between the
closest ranks (median of 1, 2, 3, 10 is 2.5).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from thoth_monitoring.repo_metrics.kebechet import classify
from thoth_monitoring.repo_metrics.knowledge import Knowledge, PullRequest


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def holds(self, timestamp: str | None) -> bool:
        return timestamp is not None and self.start <= _time(timestamp) < self.end


@dataclass(frozen=True)
class KebechetPullRequest:
    repository: str
    manager: str
    kind: str
    record: PullRequest


@dataclass
class Delivery:
    """Kebechet's pull requests of one group (a manager, a kind, a repository) in a period."""

    opened: int = 0
    merged: int = 0
    rejected: int = 0  # closed without merge
    open_at_end: int = 0
    review_seconds: list[float] = field(default_factory=list)
    merge_seconds: list[float] = field(default_factory=list)

    @property
    def delivery_ratio(self) -> float | None:
        """Merged ÷ closed: the share of the updates Kebechet proposed that users took."""
        closed = self.merged + self.rejected
        return self.merged / closed if closed else None

    def add(self, pull: PullRequest, period: Period) -> None:
        self.opened += period.holds(pull.created_at)
        if period.holds(pull.merged_at):
            self.merged += 1
            self.merge_seconds.append(seconds_between(pull.created_at, pull.merged_at))
        elif pull.merged_at is None and period.holds(pull.closed_at):
            self.rejected += 1
        if _time(pull.created_at) < period.end and (
            pull.closed_at is None or _time(pull.closed_at) >= period.end
        ):
            self.open_at_end += 1
        if period.holds(pull.first_review_at):
            self.review_seconds.append(seconds_between(pull.created_at, pull.first_review_at))


@dataclass
class IssueActivity:
    opened: int = 0
    closed: int = 0
    response_seconds: list[float] = field(default_factory=list)


def kebechet_pull_requests(
    knowledge: Iterable[Knowledge], kebechet_logins: frozenset[str]
) -> list[KebechetPullRequest]:
    """The pull requests Kebechet opened (recognised by author), each with its manager and
    kind."""
    found = []
    for repository in knowledge:
        for pull in repository.pull_requests.values():
            if pull.author in kebechet_logins:
                manager, kind = classify(pull.title)
                found.append(KebechetPullRequest(repository.repository, manager, kind, pull))
    return found


def delivery(
    pulls: Iterable[KebechetPullRequest], period: Period, by_repository: bool = False
) -> dict[tuple[str, ...], Delivery]:
    """Per (manager, kind), or per (repository, manager, kind)."""
    groups: dict[tuple[str, ...], Delivery] = defaultdict(Delivery)
    for pull in pulls:
        key = (pull.manager, pull.kind)
        groups[(pull.repository, *key) if by_repository else key].add(pull.record, period)
    return dict(groups)


def per_manager(groups: dict[tuple[str, ...], Delivery]) -> dict[str, Delivery]:
    """``delivery()``'s (manager, kind) groups summed per manager."""
    merged: dict[str, Delivery] = defaultdict(Delivery)
    for (manager, _kind), group in groups.items():
        total = merged[manager]
        total.opened += group.opened
        total.merged += group.merged
        total.rejected += group.rejected
        total.open_at_end += group.open_at_end
        total.review_seconds += group.review_seconds
        total.merge_seconds += group.merge_seconds
    return dict(merged)


def issue_activity(knowledge: Iterable[Knowledge], period: Period) -> dict[str, IssueActivity]:
    """Per repository: issues opened and closed in the period, and the times to a first
    response (by someone other than the author, not a bot) given in it."""
    activity: dict[str, IssueActivity] = {}
    for repository in knowledge:
        counts = activity[repository.repository] = IssueActivity()
        for issue in repository.issues.values():
            counts.opened += period.holds(issue.created_at)
            counts.closed += issue.state == "closed" and period.holds(issue.closed_at)
            if period.holds(issue.first_response_at):
                counts.response_seconds.append(
                    seconds_between(issue.created_at, issue.first_response_at)
                )
    return activity


def adopted_at(repository: Knowledge, kebechet_logins: frozenset[str]) -> str:
    """When Kebechet came to a repository: its first pull request there, or, without one yet,
    when repo-metrics first collected the repository."""
    first = [p.created_at for p in repository.pull_requests.values() if p.author in kebechet_logins]
    return min(first, default=repository.state.first_seen)


def quantile(values: Iterable[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def oldest_open(
    pulls: Iterable[KebechetPullRequest], at: datetime, limit: int
) -> list[tuple[KebechetPullRequest, float]]:
    """Kebechet's pull requests open at ``at``, oldest first, with their age in seconds."""
    still_open = [
        (pull, (at - _time(pull.record.created_at)).total_seconds())
        for pull in pulls
        if _time(pull.record.created_at) < at
        and (pull.record.closed_at is None or _time(pull.record.closed_at) >= at)
    ]
    return sorted(still_open, key=lambda item: -item[1])[:limit]


def _time(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def seconds_between(start: str, end: str | None) -> float:
    assert end is not None  # only asked for events that happened
    return (_time(end) - _time(start)).total_seconds()
