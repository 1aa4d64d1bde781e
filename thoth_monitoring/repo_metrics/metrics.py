"""The Prometheus families repo-metrics serves: indicators rebuilt from the knowledge store on
every collection, and the collector's own health.

Counts are gauges over everything stored (Prometheus' ``delta()``/``increase()`` turns them into
per-period numbers); durations are cumulative histograms, so ``histogram_quantile`` over
``increase(…_bucket[7d])`` gives a week's median. Repository labels appear only for the top N
repositories by Kebechet pull requests; the rest are summed as ``repository="other"``.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from prometheus_client.metrics_core import HistogramMetricFamily, Metric

from thoth_monitoring.core.exposition import gauge
from thoth_monitoring.repo_metrics.indicators import (
    KebechetPullRequest,
    kebechet_pull_requests,
    seconds_between,
)
from thoth_monitoring.repo_metrics.knowledge import Knowledge

# One hour to a quarter: how long Kebechet's pull requests wait to be reviewed and merged.
DURATION_BUCKETS = (3600.0, 6 * 3600.0, 86400.0, 2 * 86400.0, 3 * 86400.0, 7 * 86400.0,
                    14 * 86400.0, 30 * 86400.0, 90 * 86400.0)  # fmt: skip
OTHER = "other"


def indicator_families(
    knowledge: Sequence[Knowledge],
    kebechet_logins: frozenset[str],
    top_repositories: int,
    installations: Counter[bool] | None,
) -> list[Metric]:
    pulls = kebechet_pull_requests(knowledge, kebechet_logins)
    families: list[Metric] = [
        gauge(
            "thoth_kebechet_pull_requests",
            "Kebechet's pull requests in the store, by manager, kind and state "
            "(open, merged, closed: closed without merge).",
            ["manager", "kind", "state"],
            sorted(Counter((p.manager, p.kind, _state(p)) for p in pulls).items()),
        ),
        _histogram(
            "thoth_kebechet_pull_request_merge_duration_seconds",
            "Time from opening to merge of Kebechet's merged pull requests, by manager.",
            ["manager"],
            (
                ((p.manager,), seconds_between(p.record.created_at, p.record.merged_at))
                for p in pulls
                if p.record.merged_at is not None
            ),
        ),
        _histogram(
            "thoth_kebechet_pull_request_first_review_duration_seconds",
            "Time from opening to the first review (by someone other than the author, not a "
            "bot) of Kebechet's reviewed pull requests, by manager.",
            ["manager"],
            (
                ((p.manager,), seconds_between(p.record.created_at, p.record.first_review_at))
                for p in pulls
                if p.record.first_review_at is not None
            ),
        ),
        gauge(
            "thoth_kebechet_last_pull_request_timestamp_seconds",
            "When Kebechet opened its newest pull request in any collected repository.",
            [],
            [((), max(_epoch(p.record.created_at) for p in pulls))] if pulls else [],
        ),
        gauge(
            "thoth_kebechet_repository_pull_requests",
            f"Kebechet's pull requests per repository and state, for the {top_repositories} "
            f'repositories with most; the others summed as repository="{OTHER}".',
            ["repository", "state"],
            _top_repositories(pulls, top_repositories),
        ),
        *_issue_families(knowledge, top_repositories),
        gauge(
            "thoth_repo_metrics_repositories",
            "Repositories in the knowledge store, by state (collected; gone: GitHub answers "
            "404 or 451, the data is kept).",
            ["state"],
            sorted(Counter(("gone" if k.state.gone else "collected",) for k in knowledge).items()),
        ),
    ]
    if installations is not None:
        families.append(
            gauge(
                "thoth_kebechet_installations",
                "Repositories with a Kebechet installation in the knowledge graph, by activity.",
                ["active"],
                [
                    ((str(active).lower(),), count)
                    for active, count in sorted(installations.items())
                ],
            )
        )
    return families


def _issue_families(knowledge: Sequence[Knowledge], top: int) -> Iterator[Metric]:
    per_repository = {
        k.repository: Counter(issue.state for issue in k.issues.values()) for k in knowledge
    }
    ranked = sorted(per_repository, key=lambda r: (-sum(per_repository[r].values()), r))
    rows: dict[tuple[str, str], int] = defaultdict(int)
    for rank, repository in enumerate(ranked):
        for state, count in per_repository[repository].items():
            rows[(repository if rank < top else OTHER, state)] += count
    yield gauge(
        "thoth_github_issues",
        f"Issues (not pull requests) of the collected repositories by state, for the {top} "
        f'repositories with most; the others summed as repository="{OTHER}".',
        ["repository", "state"],
        sorted(rows.items()),
    )
    yield _histogram(
        "thoth_github_issue_first_response_duration_seconds",
        "Time from opening to the first comment by someone other than the author, not a bot, "
        "of the collected repositories' issues.",
        [],
        (((), seconds_between(issue.created_at, issue.first_response_at))
         for k in knowledge for issue in k.issues.values()
         if issue.first_response_at is not None),
    )  # fmt: skip


def _state(pull: KebechetPullRequest) -> str:
    if pull.record.merged_at is not None:
        return "merged"
    return "open" if pull.record.state == "open" else "closed"


def _top_repositories(
    pulls: Sequence[KebechetPullRequest], top: int
) -> list[tuple[tuple[str, str], float]]:
    totals = Counter(p.repository for p in pulls)
    kept = {
        repository for repository, _ in sorted(totals.items(), key=lambda i: (-i[1], i[0]))[:top]
    }
    rows = Counter((p.repository if p.repository in kept else OTHER, _state(p)) for p in pulls)
    return sorted(rows.items())


def _histogram(
    name: str,
    documentation: str,
    labels: list[str],
    samples: Iterable[tuple[tuple[str, ...], float]],
) -> Metric:
    """A histogram family from (label values, seconds) samples."""
    groups: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for values, seconds in samples:
        groups[values].append(seconds)
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for values, durations in sorted(groups.items()):
        buckets = [(f"{b:.1f}", float(sum(d <= b for d in durations))) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", float(len(durations))))
        family.add_metric(list(values), buckets, sum_value=sum(durations))
    return family


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
