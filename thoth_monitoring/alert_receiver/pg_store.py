"""The group store in PostgreSQL, shared by every replica of the receiver.

Each replica's webhook records into the same rows (the ordering rules of ``store.decide``, and
an upsert that never lets an older notification overwrite a newer one that raced it in). A
worker *claims* a due group: ``FOR UPDATE SKIP LOCKED`` picks a row no other worker is claiming
at that instant, and a lease (``claimed_until``) keeps the others off it while it is driven; a
replica that dies mid-drive loses the group when the lease ends. Row claims rather than an
advisory lock per group: a lease survives the claiming connection (no session to keep alive
during slow GitHub calls), expires by itself, and the next eligible group is one indexed query.

The group's issue (repo, number) is kept with it, so whichever replica drives it next reads the
issue instead of trusting its own cache. GitHub's pacing of writes and its rate-limit pause are
rows too: secondary limits count per token, not per replica. Leases and write slots run on the
database's clock, so replicas with skewed clocks neither cut a live worker's lease short nor
crowd their writes.

One connection per replica, one operation at a time; each under ``statement_timeout`` on the
server and a client deadline a little longer (a hung connection is thrown away and reopened).
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg

from thoth_monitoring.alert_receiver.store import (
    KEEP_DONE_SECONDS,
    Backlog,
    Pending,
    Recorded,
    StoreUnavailable,
    decide,
)
from thoth_monitoring.core.database import (
    CONNECT_TIMEOUT_SECONDS,
    DeadlineConnection,
    psycopg_url,
    redact,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
SCHEMA = "thoth_alert_receiver"
LEASE_SECONDS = 300.0  # longer than the receiver lets one drive run (see Receiver._deadline)
_SETUP_LOCK = 0x7468_6F74  # an advisory lock id: replicas starting together create tables once
_NOW = "extract(epoch FROM clock_timestamp())"

TABLES = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.groups (
    key text PRIMARY KEY,
    notification text NOT NULL,       -- the newest notification's JSON: the desired state
    stamp double precision NOT NULL,  -- its latest alert start or end (orders notifications)
    version bigint NOT NULL,          -- bumped by every recorded notification
    pending boolean NOT NULL,         -- until a worker brought GitHub to this state
    since double precision NOT NULL,  -- when it last became pending (Unix time)
    due double precision NOT NULL,    -- not before (a failed attempt backs off)
    attempts integer NOT NULL DEFAULT 0,
    claimed_by text,                  -- the claim of the worker driving it
    claimed_until double precision,   -- its lease: after this another worker may take over
    issue_repo text,                  -- the issue the group is bound to
    issue_number integer
);
CREATE INDEX IF NOT EXISTS groups_due ON {SCHEMA}.groups (pending, due);
CREATE TABLE IF NOT EXISTS {SCHEMA}.github (  -- one row: GitHub's pause and write pacing
    id integer PRIMARY KEY CHECK (id = 1),
    paused_until double precision NOT NULL DEFAULT 0,
    next_write double precision NOT NULL DEFAULT 0
);
INSERT INTO {SCHEMA}.github (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
"""

_CLAIM = f"""
WITH candidate AS (
    SELECT key, claimed_by AS previous FROM {SCHEMA}.groups
    WHERE pending AND due <= %(now)s AND (claimed_until IS NULL OR claimed_until < {_NOW})
    ORDER BY due, since LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE {SCHEMA}.groups AS g SET claimed_by = %(claim)s, claimed_until = {_NOW} + %(lease)s
FROM candidate WHERE g.key = candidate.key
RETURNING g.key, g.notification, g.version, g.attempts, g.issue_repo, g.issue_number,
          candidate.previous
"""

_UPSERT = f"""
INSERT INTO {SCHEMA}.groups AS g (key, notification, stamp, version, pending, since, due)
VALUES (%(key)s, %(notification)s, %(stamp)s, 1, true, %(now)s, %(now)s)
ON CONFLICT (key) DO UPDATE SET
    notification = excluded.notification, stamp = excluded.stamp, version = g.version + 1,
    since = CASE WHEN g.pending THEN g.since ELSE excluded.since END,
    due = CASE WHEN g.pending THEN g.due ELSE excluded.due END, pending = true
WHERE g.stamp <= excluded.stamp
RETURNING key
"""


class PostgresGroupStore:
    """The ``Store`` of several replicas (``state_url``)."""

    shared: bool = True

    def __init__(
        self,
        url: str,
        replica: str,
        timeout: float = 5.0,
        lease: float = LEASE_SECONDS,
    ) -> None:
        self.url = url
        self.replica = replica
        self.timeout = timeout
        self.lease: float | None = lease
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    def describe(self) -> str:
        return f"{redact(self.url)} schema={SCHEMA}"

    async def open(self, now: float) -> Backlog:
        """Create the schema and tables if missing, forget long-done groups."""

        async def setup(conn: psycopg.AsyncConnection[Any]) -> None:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
                await conn.execute(TABLES)
            await conn.execute(
                f"DELETE FROM {SCHEMA}.groups WHERE NOT pending AND since < %s",
                (now - KEEP_DONE_SECONDS,),
            )

        await self._run(setup)
        return await self.backlog()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def record(
        self, key: str, notification: str, stamp: float, now: float, limit: int
    ) -> tuple[Recorded, Backlog]:
        """As ``store.GroupStore.record``; the upsert's condition also stops an older
        notification that another replica's webhook raced in."""

        async def record(conn: psycopg.AsyncConnection[Any]) -> Recorded:
            async with conn.transaction():
                cursor = await conn.execute(
                    f"SELECT stamp, pending FROM {SCHEMA}.groups WHERE key = %s FOR UPDATE",
                    (key,),
                )
                row = await cursor.fetchone()
                outcome = decide(row, stamp, (await _backlog(conn)).size, limit)
                if outcome != "queued":
                    return outcome
                values = {"key": key, "notification": notification, "stamp": stamp, "now": now}
                cursor = await conn.execute(_UPSERT, values)
                return "queued" if await cursor.fetchone() else "stale"

        outcome = await self._run(record)
        return outcome, await self.backlog()

    async def next_due(self, now: float) -> Pending | None:
        """Claim the longest-waiting due group nobody holds (or whose lease ended)."""
        assert self.lease is not None
        claim = f"{self.replica}/{uuid.uuid4().hex[:8]}"
        values = {"now": now, "claim": claim, "lease": self.lease}
        row = await self._fetchone(_CLAIM, values)
        if row is None:
            return None
        key, notification, version, attempts, repo, number, previous = row
        issue = (repo, number) if repo is not None else None
        if previous is not None:
            log.warning("claim_taken_over", extra={"key": key, "previous": previous})
        return Pending(key, notification, version, attempts, issue, previous is not None, claim)

    async def next_due_time(self) -> float | None:
        row = await self._fetchone(
            f"SELECT MIN(GREATEST(due, COALESCE(claimed_until, 0))) FROM {SCHEMA}.groups "
            "WHERE pending"
        )
        return None if row is None else row[0]

    async def done(self, group: Pending) -> Backlog:
        """Release the claim; mark the group done unless a newer notification came meanwhile."""
        await self._execute(
            f"UPDATE {SCHEMA}.groups SET pending = pending AND version <> %(version)s, "
            "attempts = CASE WHEN version = %(version)s THEN 0 ELSE attempts END, "
            "claimed_by = NULL, claimed_until = NULL "
            "WHERE key = %(key)s AND claimed_by = %(claim)s",
            {"version": group.version, "key": group.key, "claim": group.claim},
        )
        return await self.backlog()

    async def retry_later(self, group: Pending, due: float) -> None:
        await self._execute(
            f"UPDATE {SCHEMA}.groups SET attempts = attempts + 1, due = %s, claimed_by = NULL, "
            "claimed_until = NULL WHERE key = %s AND claimed_by = %s",
            (due, group.key, group.claim),
        )

    async def release(self, group: Pending) -> None:
        """Give the group back unchanged (a rate limit refused the attempt)."""
        await self._execute(
            f"UPDATE {SCHEMA}.groups SET claimed_by = NULL, claimed_until = NULL "
            "WHERE key = %s AND claimed_by = %s",
            (group.key, group.claim),
        )

    async def bind(self, group: Pending, repo: str, number: int) -> None:
        await self._execute(
            f"UPDATE {SCHEMA}.groups SET issue_repo = %s, issue_number = %s WHERE key = %s",
            (repo, number, group.key),
        )

    async def pause(self, until: float) -> None:
        await self._execute(
            f"UPDATE {SCHEMA}.github SET paused_until = GREATEST(paused_until, %s) WHERE id = 1",
            (until,),
        )

    async def paused_until(self) -> float:
        row = await self._fetchone(f"SELECT paused_until FROM {SCHEMA}.github WHERE id = 1")
        return 0.0 if row is None else float(row[0])

    async def write_slot(self, spacing: float) -> float:
        """Reserve the next write slot of every replica together: seconds to wait for it."""
        row = await self._fetchone(
            f"UPDATE {SCHEMA}.github SET next_write = GREATEST(next_write, {_NOW}) + %(spacing)s "
            f"WHERE id = 1 RETURNING next_write - %(spacing)s - {_NOW}",
            {"spacing": spacing},
        )
        return 0.0 if row is None else max(float(row[0]), 0.0)

    async def backlog(self) -> Backlog:
        return await self._run(_backlog)

    async def _execute(self, statement: str, values: Any) -> None:
        async def execute(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(statement, values)

        await self._run(execute)

    async def _fetchone(self, query: str, values: Any = None) -> tuple[Any, ...] | None:
        async def fetch(conn: psycopg.AsyncConnection[Any]) -> tuple[Any, ...] | None:
            cursor = await conn.execute(query, values)
            row: tuple[Any, ...] | None = await cursor.fetchone()
            return row

        return await self._run(fetch)

    async def _run(self, operation: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """One operation on the replica's connection under the client deadline; a failure
        while holding it drops the connection (the next operation reconnects); every failure
        raises StoreUnavailable."""
        try:
            async with asyncio.timeout(self.timeout), self._lock:
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = await self._connect()
                    return await operation(self._conn)
                except BaseException:  # a timeout or stop included: its state is unknown
                    if self._conn is not None:
                        self._conn.pgconn.finish()
                        self._conn = None
                    raise
        except (psycopg.Error, OSError, TimeoutError) as error:
            raise StoreUnavailable(f"{SCHEMA}: {type(error).__name__}: {error}") from error

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        statement_ms = int(self.timeout * 1000 * 0.8)  # the server gives up before we do
        return await DeadlineConnection.connect(
            psycopg_url(self.url),
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            options=f"-c statement_timeout={statement_ms} -c lock_timeout={statement_ms}",
            application_name=f"thoth-alert-receiver {self.replica}"[:63],
        )


async def _backlog(conn: psycopg.AsyncConnection[Any]) -> Backlog:
    cursor = await conn.execute(f"SELECT COUNT(*), MIN(since) FROM {SCHEMA}.groups WHERE pending")
    row = await cursor.fetchone()
    assert row is not None
    return Backlog(int(row[0]), row[1])
