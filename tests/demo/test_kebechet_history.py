"""The demo's Kebechet history: seeded, in the past, and showing every kind of pull request the
metrics tell apart, in the report's week and the week before it."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from thoth_monitoring.demo.github_standin.records import Record, Records
from thoth_monitoring.demo.kebechet_history import KEBECHET, MERGER, WINDOW, lay_out
from thoth_monitoring.repo_metrics.kebechet import UNKNOWN, classify
from thoth_monitoring.slo_reporter.report import Week

NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
REPOSITORIES = [f"org-{i % 7}/repo-{i}" for i in range(12)]


def history(now: datetime = NOW) -> Records:
    records = Records(repos=set())
    lay_out(records, REPOSITORIES, now)
    return records


def pulls(records: Records) -> list[Record]:
    return [r for rs in records.issues.values() for r in rs if "pull_request" in r]


def test_the_same_seed_lays_out_the_same_history_shifted_with_now() -> None:
    first, later = history(), history(NOW + timedelta(days=3))
    assert [(p["title"], p["state"], p["merged_at"] is None) for p in pulls(first)] == [
        (p["title"], p["state"], p["merged_at"] is None) for p in pulls(later)
    ]
    assert first.repos == later.repos == set(REPOSITORIES)


def test_every_event_lies_within_three_weeks_before_now() -> None:
    records = history()
    stamps = [
        value
        for rs in records.issues.values()
        for r in rs
        for key, value in r.items()
        if key.endswith("_at") and isinstance(value, str)
    ]
    stamps += [r["submitted_at"] for rs in records.reviews.values() for r in rs]
    stamps += [c["created_at"] for cs in records.comment_records.values() for c in cs]
    times = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps]
    assert len(times) > 100
    assert min(times) >= NOW - WINDOW and max(times) < NOW


def test_pull_requests_are_kebechets_of_every_manager_state_and_both_weeks() -> None:
    records = history()
    found = pulls(records)
    assert {(p["user"]["login"], p["user"]["type"]) for p in found} == {(KEBECHET, "Bot")}
    managers = Counter(classify(str(p["title"]))[0] for p in found)
    assert set(managers) == {"update", "version", "thoth-advise", "pipfile-requirements",
                             UNKNOWN[0]}  # fmt: skip
    assert managers["update"] == max(managers.values())
    states = Counter("merged" if p["merged_at"] else p["state"] for p in found)
    assert set(states) == {"merged", "closed", "open"}
    assert {p["merged_by"]["login"] for p in found if p["merged_at"]} == {MERGER}


def test_the_reports_week_and_the_week_before_both_have_pull_requests_on_any_day() -> None:
    for hours in range(0, 7 * 24, 11):
        now = NOW + timedelta(hours=hours)
        week = Week.last_full(now)
        opened = [datetime.fromisoformat(p["created_at"].replace("Z", "+00:00"))
                  for p in pulls(history(now))]  # fmt: skip
        for one in (week, week.previous()):
            assert sum(one.start <= t < one.end for t in opened) >= 5, (now, one.label)


def test_reviews_by_people_and_bots_and_issues_with_comments() -> None:
    records = history()
    reviewers = Counter(r["user"]["type"] for rs in records.reviews.values() for r in rs)
    assert reviewers["User"] > 0 and reviewers["Bot"] > 0
    issues = [r for rs in records.issues.values() for r in rs if "pull_request" not in r]
    assert len(issues) >= 3
    assert any(issue["comments"] > 0 for issue in issues)
    assert any(issue["state"] == "closed" for issue in issues)
