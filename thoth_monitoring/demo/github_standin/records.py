"""The stand-in's data, kept as GitHub keeps it: one numbering per repository shared by issues
and pull requests, users referenced (so a deleted account turns into ``ghost`` everywhere at
once), and every change bumping the record's ``updated_at``. The test-data methods take an
explicit time so that tests and benches can lay out a history."""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]
REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED")
GHOST_ID = 10137  # the id GitHub shows for deleted accounts
PULL_ONLY = ("merged_at", "merged_by", "draft")  # fields /issues does not carry
ISSUE_ONLY = ("pull_request", "state_reason", "comments")  # fields /pulls does not carry


def stamp(at: datetime) -> str:
    """``at`` in GitHub's timestamp format; a naive time is refused rather than guessed."""
    if at.tzinfo is None:
        raise ValueError(f"timestamp {at!r} has no timezone; pass an aware UTC datetime")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue_view(record: Record) -> Record:
    return {k: v for k, v in record.items() if k not in PULL_ONLY}


def pull_view(record: Record) -> Record:
    return {k: v for k, v in record.items() if k not in ISSUE_ONLY}


@dataclass
class Records:
    repos: set[str] = field(default_factory=lambda: {"thoth-station/thoth-application"})
    forbidden: set[str] = field(default_factory=set)
    # per repository, the record numbered n at index n - 1
    issues: dict[str, list[Record]] = field(default_factory=dict)
    installations: dict[str, int] = field(default_factory=dict)  # repository -> installation
    user_owners: set[str] = field(default_factory=set)  # owners that are users, not orgs
    vanished: dict[str, int] = field(default_factory=dict)  # repository -> 404 or 451
    clock: Callable[[], float] = time.time  # the stand-in's "now" for HTTP writes and tokens
    token_user: str = "thoth-monitoring[bot]"  # who the HTTP writes are made by
    reviews: dict[tuple[str, int], list[Record]] = field(default_factory=dict)
    comment_records: dict[tuple[str, int], list[Record]] = field(default_factory=dict)
    _users: dict[str, Record] = field(default_factory=dict, init=False, repr=False)
    _next_id: int = field(default=1000, init=False, repr=False)

    @property
    def comments(self) -> dict[tuple[str, int], list[str]]:
        """The comment bodies per issue (the receiver tests' view)."""
        return {key: [c["body"] for c in records] for key, records in self.comment_records.items()}

    def add_repository(
        self, repo: str, installation_id: int | None = None, org_repo: bool = True
    ) -> None:
        self.repos.add(repo)
        if installation_id is not None:
            self.installations[repo] = installation_id
        if not org_repo:
            self.user_owners.add(repo.partition("/")[0])

    def add_pull_request(
        self,
        repo: str,
        labels: Iterable[str] = (),
        *,
        title: str = "a pull request",
        author: str = "someone",
        at: datetime | None = None,
        author_type: str = "User",
    ) -> int:
        record = self._new(repo, title, "", labels, author, at, author_type, pull=True)
        return int(record["number"])

    def add_issue(
        self,
        repo: str,
        title: str,
        author: str,
        at: datetime,
        author_type: str = "User",
        labels: Iterable[str] = (),
    ) -> int:
        return int(self._new(repo, title, "", labels, author, at, author_type)["number"])

    def review(
        self,
        repo: str,
        number: int,
        reviewer: str,
        at: datetime,
        state: str = "APPROVED",
        reviewer_type: str = "User",
    ) -> None:
        if state not in REVIEW_STATES:
            raise ValueError(f"review state {state!r}: expected one of {', '.join(REVIEW_STATES)}")
        pull = self._pull(repo, number)
        review = {"id": self._new_id(), "user": self._user(reviewer, reviewer_type),
                  "state": state, "submitted_at": stamp(at), "body": ""}  # fmt: skip
        self.reviews.setdefault((repo, number), []).append(review)
        pull["updated_at"] = stamp(at)

    def comment_on(
        self,
        repo: str,
        number: int,
        author: str,
        at: datetime,
        body: str = "",
        author_type: str = "User",
    ) -> Record:
        record = self.find(repo, number)
        comment = {"id": self._new_id(), "user": self._user(author, author_type), "body": body,
                   "created_at": stamp(at), "updated_at": stamp(at)}  # fmt: skip
        self.comment_records.setdefault((repo, number), []).append(comment)
        record["comments"] += 1
        record["updated_at"] = stamp(at)
        return comment

    def merge(
        self, repo: str, number: int, at: datetime, by: str = "someone", by_type: str = "User"
    ) -> None:
        pull = self._pull(repo, number)
        pull.update(state="closed", closed_at=stamp(at), merged_at=stamp(at),
                    merged_by=self._user(by, by_type), updated_at=stamp(at))  # fmt: skip
        pull["pull_request"]["merged_at"] = stamp(at)

    def close(self, repo: str, number: int, at: datetime) -> None:
        self.find(repo, number).update(state="closed", closed_at=stamp(at), updated_at=stamp(at))

    def reopen(self, repo: str, number: int, at: datetime) -> None:
        self.find(repo, number).update(state="open", closed_at=None, updated_at=stamp(at))

    def delete_user(self, login: str) -> None:
        """Every reference to ``login`` now shows GitHub's ``ghost``; the login is free again."""
        user = self._users.pop(login)
        user.update(login="ghost", id=GHOST_ID, type="User")

    def vanish(self, repo: str, status: int = 404) -> None:
        """The repository answers 404 (deleted, or access lost) or 451 (blocked) from now on."""
        if status not in (404, 451):
            raise ValueError(f"vanish status {status}: expected 404 or 451")
        self.vanished[repo] = status

    def open_issues(self, repo: str = "thoth-station/thoth-application") -> list[Record]:
        return [
            i for i in self.issues.get(repo, []) if i["state"] == "open" and "pull_request" not in i
        ]

    def find(self, repo: str, number: int) -> Record:
        """The record ``number`` of ``repo``; ``KeyError`` when there is none."""
        records = self.issues.get(repo, [])
        if not 1 <= number <= len(records):
            raise KeyError(f"{repo}#{number}")
        return records[number - 1]

    def _pull(self, repo: str, number: int) -> Record:
        record = self.find(repo, number)
        if "pull_request" not in record:
            raise ValueError(f"{repo}#{number} is an issue, not a pull request")
        return record

    def _new(
        self,
        repo: str,
        title: str,
        body: str,
        labels: Iterable[str],
        author: str = "someone",
        at: datetime | None = None,
        author_type: str = "User",
        pull: bool = False,
    ) -> Record:
        records = self.issues.setdefault(repo, [])
        number = len(records) + 1
        when = stamp(at or datetime.fromtimestamp(self.clock(), UTC))
        kind = "pull" if pull else "issues"
        record: Record = {
            "number": number, "title": title, "body": body,
            "user": self._user(author, author_type), "labels": [{"name": n} for n in labels],
            "state": "open", "state_reason": None, "created_at": when, "updated_at": when,
            "closed_at": None, "comments": 0,
            "html_url": f"https://github.example/{repo}/{kind}/{number}",
        }  # fmt: skip
        if pull:
            record["pull_request"] = {
                "url": f"https://api.github.example/repos/{repo}/pulls/{number}",
                "html_url": record["html_url"], "merged_at": None,
            }  # fmt: skip
            record |= {"merged_at": None, "merged_by": None, "draft": False}
        records.append(record)
        return record

    def _user(self, login: str, kind: str) -> Record:
        if kind not in ("User", "Bot"):
            raise ValueError(f"user type {kind!r}: expected 'User' or 'Bot'")
        if login not in self._users:
            self._users[login] = {"login": login, "id": self._new_id(), "type": kind}
        return self._users[login]

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id
