"""The report's Kebechet delivery section, from repo-metrics' knowledge store: per manager, the
pull requests Kebechet opened, merged and rejected in the report week and the week before, the
oldest still open, and which repositories use Kebechet.

The report only reads the store. A corrupt document is left where it is (repo-metrics sets it
aside and collects its repository again on its next run) and makes the section unavailable:
numbers computed without some repositories' records would look complete and be wrong.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.repo_metrics.indicators import (
    Delivery,
    KebechetPullRequest,
    Period,
    adopted_at,
    delivery,
    kebechet_pull_requests,
    oldest_open,
    per_manager,
    quantile,
)
from thoth_monitoring.repo_metrics.knowledge import (
    Backend,
    KnowledgeStore,
    LocalBackend,
    S3Backend,
    StoreUnavailable,
)
from thoth_monitoring.slo_reporter.compute import week_over_week

TOTAL = "total"


class KebechetSettings(BaseModel):
    """Where repo-metrics keeps its knowledge: a local folder (``store``) or a Ceph/S3 prefix
    (``s3``); with neither, the report's ``ceph`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: Path | None = None
    s3: S3Settings | None = None
    kebechet_logins: list[str] = Field(default_factory=lambda: ["khebhut[bot]"], min_length=1)
    oldest_open: int = Field(5, ge=0, le=100)

    @model_validator(mode="after")
    def _one_store(self) -> "KebechetSettings":
        if self.store is not None and self.s3 is not None:
            raise ValueError("give store (a folder) or s3, not both")
        return self


class StoreUnreadable(Exception):
    """Some of the store's documents could not be read."""


@dataclass(frozen=True)
class KebechetSection:
    store: str  # where the numbers come from
    repositories: int  # collected (or with Kebechet pull requests) by the week's end
    adopted: tuple[str, ...]  # repositories Kebechet came to in the report week
    managers: list[dict[str, Any]]  # one row per manager with activity, then the totals row
    oldest_open: list[dict[str, Any]]


class _ReadOnly:
    """A backend the report cannot change: a corrupt document stays for repo-metrics."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def read(self, key: str) -> bytes | None:
        return self.backend.read(key)

    def write(self, key: str, data: bytes) -> None:
        raise RuntimeError("the report does not write to the knowledge store")

    def set_aside(self, key: str) -> str:
        return key

    def repositories(self) -> list[str]:
        return self.backend.repositories()

    def versions(self, prefix: str) -> dict[str, str]:
        return self.backend.versions(prefix)

    def describe(self) -> str:
        return self.backend.describe()


def backend(settings: KebechetSettings, ceph: S3Settings | None) -> Backend:
    s3 = settings.s3 if settings.store is None else None
    if s3 is None and settings.store is None:
        s3 = ceph
    if s3 is not None:
        return S3Backend(s3)
    assert settings.store is not None  # ReportSettings refuses a section with no store at all
    return LocalBackend(settings.store)


def read_section(
    store_backend: Backend,
    settings: KebechetSettings,
    start: datetime,
    end: datetime,
    before: datetime,
) -> KebechetSection:
    """The section for the week [start, end) and the week [before, start); raises
    ``StoreUnreadable`` when a document is corrupt or the store cannot be reached."""
    store = KnowledgeStore(_ReadOnly(store_backend))
    try:
        knowledge = [store.load(repository) for repository in store.repositories()]
    except StoreUnavailable as error:
        raise StoreUnreadable(str(error)) from error
    if store.corrupt:
        raise StoreUnreadable(
            f"{len(store.corrupt)} document(s) in {store_backend.describe()} could not be read, "
            f"e.g. {store.corrupt[0]}"
        )
    logins = frozenset(settings.kebechet_logins)
    week, previous = Period(start, end), Period(before, start)
    until_end = Period(datetime.min.replace(tzinfo=UTC), end)
    adoption = {repository.repository: adopted_at(repository, logins) for repository in knowledge}
    pulls = kebechet_pull_requests(knowledge, logins)
    return KebechetSection(
        store=store_backend.describe(),
        repositories=sum(bool(when) and until_end.holds(when) for when in adoption.values()),
        adopted=tuple(name for name, when in adoption.items() if when and week.holds(when)),
        managers=manager_rows(pulls, week, previous),
        oldest_open=[
            {"repository": pull.repository, "number": pull.record.number,
             "title": pull.record.title, "age_days": age / 86400}
            for pull, age in oldest_open(pulls, end, settings.oldest_open)
        ],
    )  # fmt: skip


def manager_rows(
    pulls: list[KebechetPullRequest], week: Period, previous: Period
) -> list[dict[str, Any]]:
    """Per manager active in either week, then the totals: this week's numbers, the week
    before's (``previous_…``) and the change of each."""
    now, before = per_manager(delivery(pulls, week)), per_manager(delivery(pulls, previous))
    active = sorted(
        (
            name
            for name in now.keys() | before.keys()
            if _active(now.get(name)) or _active(before.get(name))
        ),
        key=lambda name: (name == "unknown", name),
    )
    rows = [_row(name, now.get(name, Delivery()), before.get(name, Delivery())) for name in active]
    # per_manager sums groups keyed (manager, kind): keyed (total, manager) it sums the managers
    total_now = per_manager({(TOTAL, name): now[name] for name in active if name in now})
    total_before = per_manager({(TOTAL, name): before[name] for name in active if name in before})
    rows.append(_row(TOTAL, total_now.get(TOTAL, Delivery()), total_before.get(TOTAL, Delivery())))
    return rows


def _active(group: Delivery | None) -> bool:
    return group is not None and bool(group.opened or group.merged or group.rejected)


def _numbers(group: Delivery) -> dict[str, float | None]:
    return {
        "opened": group.opened,
        "merged": group.merged,
        "rejected": group.rejected,
        "delivery_ratio": group.delivery_ratio,
        "median_merge_seconds": quantile(group.merge_seconds, 0.5),
    }


def _row(manager: str, now: Delivery, before: Delivery) -> dict[str, Any]:
    row: dict[str, Any] = {"manager": manager}
    previous = _numbers(before)
    for name, value in _numbers(now).items():
        row[name], row[f"previous_{name}"] = value, previous[name]
        row[f"change_{name}"] = week_over_week(value, previous[name])[0]
    return row
