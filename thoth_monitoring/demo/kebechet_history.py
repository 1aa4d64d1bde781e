"""Three weeks of Kebechet's work on GitHub, laid out in the stand-in for the demo (and for any
test or bench that wants the same history): per repository a few pull requests by Kebechet's
bot account with its real titles (and one title no template knows), reviewed by people and by
bots, merged by ``sesheta``, closed unmerged or still open; and a few issues with comments.

Seeded: the same repositories get the same history, placed relative to ``now`` so that the
weekly report's "this week" and "last week" both have pull requests in them.
"""

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from thoth_monitoring.demo.github_standin.records import Records

KEBECHET = "khebhut[bot]"
MERGER = "sesheta"  # merges once a pull request is approved (a bot by repo-metrics' settings)
PEOPLE = ("mara-lopez", "tkovacs", "priya-n", "odin-ek")
REVIEW_BOT = "sefkhet-abwy[bot]"
WINDOW = timedelta(days=21)
# (title template, weight); the last one matches none of Kebechet's templates on purpose
TITLES = (
    ("Automatic update of dependencies by Kebechet for the {env} environment", 6),
    ("Initial dependency lock", 1),
    ("Release of version {version}", 2),
    ("Auto generated update", 2),
    ("Syncing requirements.txt using Pipfile.lock", 2),
    ("Bump the base image to UBI 9", 1),
)
ENVIRONMENTS = ("default", "jupyterhub", "ubi8-py38")
ISSUE_TITLES = ("Kebechet did not update the lock file", "Release job failed",
                "Kebechet info", "Pipfile.lock out of date after merge")  # fmt: skip


def lay_out(records: Records, repositories: Sequence[str], now: datetime, seed: int = 2026) -> None:
    """Add ``repositories`` to ``records`` with their history, every event before ``now``
    (an aware UTC time)."""
    rng = random.Random(seed)
    for repo in repositories:
        records.add_repository(repo)
        for _ in range(rng.randint(3, 6)):
            _pull_request(records, repo, now, rng)
        for _ in range(rng.randint(0, 2)):
            _issue(records, repo, now, rng)


def _pull_request(records: Records, repo: str, now: datetime, rng: random.Random) -> None:
    templates, weights = zip(*TITLES, strict=True)
    title = rng.choices(templates, weights)[0].format(
        env=rng.choice(ENVIRONMENTS), version=f"0.{rng.randint(1, 12)}.{rng.randint(0, 9)}"
    )
    opened = now - WINDOW * rng.uniform(0.01, 1)
    number = records.add_pull_request(repo, title=title, author=KEBECHET, at=opened,
                                      author_type="Bot")  # fmt: skip
    at = opened
    if rng.random() < 0.3:  # a bot comments first; repo-metrics does not count it as a review
        at = _later(at, now, 0.5, rng)
        records.review(repo, number, REVIEW_BOT, at, "COMMENTED", reviewer_type="Bot")
    outcome = rng.random()
    if outcome < 0.6:  # approved by a person, then merged
        at = _later(at, now, 20, rng)
        records.review(repo, number, rng.choice(PEOPLE), at)
        records.merge(repo, number, _later(at, now, 2, rng), by=MERGER)
    elif outcome < 0.8:  # superseded by a newer one, closed unmerged
        records.close(repo, number, _later(at, now, 48, rng))
    elif outcome < 0.9:  # still open, changes asked for
        records.review(repo, number, rng.choice(PEOPLE), _later(at, now, 30, rng),
                       "CHANGES_REQUESTED")  # fmt: skip


def _issue(records: Records, repo: str, now: datetime, rng: random.Random) -> None:
    author, responder = rng.sample(PEOPLE, 2)
    at = now - WINDOW * rng.uniform(0.01, 1)
    number = records.add_issue(repo, rng.choice(ISSUE_TITLES), author, at)
    if rng.random() < 0.5:  # a bot's comment is not a response
        at = _later(at, now, 0.2, rng)
        records.comment_on(repo, number, MERGER, at, "Thanks, triaging.")
    if rng.random() < 0.7:
        at = _later(at, now, 24, rng)
        records.comment_on(repo, number, responder, at, "Looking into it.")
        if rng.random() < 0.5:
            records.close(repo, number, _later(at, now, 24, rng))


def _later(start: datetime, now: datetime, mean_hours: float, rng: random.Random) -> datetime:
    """A moment after ``start``, ``mean_hours`` later on average, but never past halfway to
    ``now`` (so that whatever follows still happens before it)."""
    delay = timedelta(hours=rng.expovariate(1 / mean_hours))
    return start + min(delay, (now - start) / 2)
