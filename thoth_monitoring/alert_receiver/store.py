"""The receiver's durable record of what each alert group's issue should be: the ``Store``
interface, the rules both backends share, and the SQLite backend (one replica only; several
replicas share ``pg_store.PostgresGroupStore``).

The webhook records the newest notification of a group here and answers at once; the worker
drives GitHub to it. A row stays after it is done so that an older notification arriving late
(the other Alertmanager of an HA pair, or a redelivery) is recognised and ignored. A GitHub
rate-limit pause is kept here too, so a restart does not write inside it.

SQLite calls are blocking: they run on one dedicated thread, each under a deadline.
"""

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypeVar

T = TypeVar("T")
Recorded = Literal["queued", "stale", "queue_full"]
KEEP_DONE_SECONDS = 7 * 86400  # long past any redelivery of an older notification

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    key TEXT PRIMARY KEY,
    notification TEXT NOT NULL,  -- the newest notification's JSON: the desired state
    stamp REAL NOT NULL,         -- its latest alert start or end (orders notifications)
    version INTEGER NOT NULL,    -- bumped by every recorded notification
    pending INTEGER NOT NULL,    -- 1 until the worker brought GitHub to this state
    since REAL NOT NULL,         -- when it last became pending
    due REAL NOT NULL,           -- not before (a failed attempt backs off)
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS groups_due ON groups (pending, due);
CREATE TABLE IF NOT EXISTS pause (  -- GitHub allows no request before ``until``
    id INTEGER PRIMARY KEY CHECK (id = 1),
    until REAL NOT NULL
);
"""


class StoreUnavailable(Exception):
    """The state file could not be read or written in time."""


@dataclass(frozen=True)
class Pending:
    """A group to drive. ``issue`` is the (repo, number) the group is bound to, ``taken_over``
    says the previous claim expired unfinished, ``claim`` names this claim (shared stores)."""

    key: str
    notification: str
    version: int
    attempts: int
    issue: tuple[str, int] | None = None
    taken_over: bool = False
    claim: str | None = None


@dataclass(frozen=True)
class Backlog:
    size: int
    oldest_since: float | None


def decide(existing: tuple[float, bool] | None, stamp: float, backlog: int, limit: int) -> Recorded:
    """Whether a notification with ``stamp`` becomes its group's desired state, given the
    recorded (stamp, pending) of the group: the rule every backend applies."""
    if existing is not None and stamp < existing[0]:
        return "stale"
    if (existing is None or not existing[1]) and backlog >= limit:
        return "queue_full"
    return "queued"


class Store(Protocol):
    """Where the receiver keeps desired states, claims, issue bindings and GitHub pacing.
    ``shared``: other replicas use the same store; ``lease``: how long a claim holds (None:
    claims are not needed, one worker uses the store)."""

    shared: bool
    lease: float | None

    def describe(self) -> str: ...

    async def open(self, now: float) -> Backlog: ...

    async def close(self) -> None: ...

    async def record(
        self, key: str, notification: str, stamp: float, now: float, limit: int
    ) -> tuple[Recorded, Backlog]: ...

    async def next_due(self, now: float) -> Pending | None: ...

    async def next_due_time(self) -> float | None: ...

    async def done(self, group: Pending) -> Backlog: ...

    async def retry_later(self, group: Pending, due: float) -> None: ...

    async def release(self, group: Pending) -> None: ...

    async def bind(self, group: Pending, repo: str, number: int) -> None: ...

    async def pause(self, until: float) -> None: ...

    async def paused_until(self) -> float: ...

    async def write_slot(self, spacing: float) -> float: ...

    async def backlog(self) -> Backlog: ...


class GroupStore:
    """The SQLite store in the data folder: for one replica (one worker, in-process pacing)."""

    shared: bool = False
    lease: float | None = None

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="alert-receiver-store")
        self._db: sqlite3.Connection | None = None

    async def open(self, now: float) -> Backlog:
        """Create the file and tables if missing, forget long-done groups."""
        return await self._run(self._open, now)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
            self._executor.shutdown(wait=False)

    async def record(
        self, key: str, notification: str, stamp: float, now: float, limit: int
    ) -> tuple[Recorded, Backlog]:
        """Make ``notification`` the group's desired state unless an already recorded one is
        newer (``stale``) or the group is new and ``limit`` groups are pending (``queue_full``)."""
        return await self._run(self._record, key, notification, stamp, now, limit)

    async def next_due(self, now: float) -> Pending | None:
        return await self._run(self._next_due, now)

    async def next_due_time(self) -> float | None:
        return await self._run(self._scalar, "SELECT MIN(due) FROM groups WHERE pending = 1")

    async def done(self, group: Pending) -> Backlog:
        """Mark the group done unless a newer notification was recorded meanwhile."""
        return await self._run(self._done, group)

    async def retry_later(self, group: Pending, due: float) -> None:
        await self._run(
            self._write,
            "UPDATE groups SET attempts = attempts + 1, due = ? WHERE key = ?",
            (due, group.key),
        )

    async def release(self, group: Pending) -> None:
        """Nothing to release: one worker, no claims."""

    async def bind(self, group: Pending, repo: str, number: int) -> None:
        """Not kept: the one replica's cache is always current."""

    async def write_slot(self, spacing: float) -> float:
        return 0.0  # the client spaces its own writes

    def describe(self) -> str:
        return str(self.path)

    async def pause(self, until: float) -> None:
        await self._run(
            self._write,
            "INSERT INTO pause (id, until) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET until = MAX(until, excluded.until)",
            (until,),
        )

    async def paused_until(self) -> float:
        return await self._run(self._scalar, "SELECT until FROM pause WHERE id = 1") or 0.0

    async def backlog(self) -> Backlog:
        return await self._run(self._backlog)

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                return await loop.run_in_executor(self._executor, function, *args)
        except (sqlite3.Error, OSError, TimeoutError) as error:
            raise StoreUnavailable(f"{self.path}: {type(error).__name__}: {error}") from error

    # --- on the store's thread -----------------------------------------------------------

    def _open(self, now: float) -> Backlog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")  # an acknowledged notification survives
        self._db.executescript(SCHEMA)
        self._write(
            "DELETE FROM groups WHERE pending = 0 AND since < ?", (now - KEEP_DONE_SECONDS,)
        )
        return self._backlog()

    def _record(
        self, key: str, notification: str, stamp: float, now: float, limit: int
    ) -> tuple[Recorded, Backlog]:
        db = self._connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT stamp, pending FROM groups WHERE key = ?", (key,)).fetchone()
            outcome = decide(row, stamp, self._backlog().size, limit)
            if outcome != "queued":
                return outcome, self._backlog()
            db.execute(
                "INSERT INTO groups (key, notification, stamp, version, pending, since, due) "
                "VALUES (?, ?, ?, 1, 1, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "notification = excluded.notification, stamp = excluded.stamp, "
                "version = version + 1, since = CASE WHEN pending THEN since ELSE excluded.since "
                "END, due = CASE WHEN pending THEN due ELSE excluded.due END, pending = 1",
                (key, notification, stamp, now, now),
            )
        return "queued", self._backlog()

    def _next_due(self, now: float) -> Pending | None:
        row = (
            self._connection()
            .execute(
                "SELECT key, notification, version, attempts FROM groups "
                "WHERE pending = 1 AND due <= ? ORDER BY due, since LIMIT 1",
                (now,),
            )
            .fetchone()
        )
        return None if row is None else Pending(*row)

    def _done(self, group: Pending) -> Backlog:
        self._write(
            "UPDATE groups SET pending = 0, attempts = 0 WHERE key = ? AND version = ?",
            (group.key, group.version),
        )
        return self._backlog()

    def _backlog(self) -> Backlog:
        size, oldest = (
            self._connection()
            .execute("SELECT COUNT(*), MIN(since) FROM groups WHERE pending = 1")
            .fetchone()
        )
        return Backlog(int(size), oldest)

    def _scalar(self, query: str) -> float | None:
        row = self._connection().execute(query).fetchone()
        return None if row is None else row[0]

    def _write(self, statement: str, parameters: tuple[object, ...]) -> None:
        with self._connection() as db:
            db.execute(statement, parameters)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.OperationalError("the store is not open")
        return self._db
