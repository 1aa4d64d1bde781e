"""One collector at a time per repository when several repo-metrics pods share a store.

Each pod takes a PostgreSQL session-level advisory lock on a repository before collecting it
and releases it after its documents are saved; a pod that does not get the lock skips the
repository in this collection. The locks live in the knowledge graph repo-metrics already reads
Kebechet's installations from: they need no table and no write privilege, and PostgreSQL
releases them when a pod's connection ends (a killed pod leaves no stale lock behind).
Without a database URL there is no lock: one pod by configuration.
"""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from types import TracebackType

import psycopg

from thoth_monitoring.core.database import Limits, read_only

log = logging.getLogger(__name__)

# Advisory lock keys share one 64-bit space per database with every other user of it: the
# namespace keeps ours apart from theirs.
NAMESPACE = b"thoth-monitoring/repo-metrics/collect\0"
# A pod whose node vanished cannot close its connection: the server probes it (TCP keepalive)
# and ends the session, releasing its locks, within about a minute instead of hours.
KEEPALIVE = {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10",
             "tcp_keepalives_count": "3"}  # fmt: skip


def lock_key(repository: str) -> int:
    """The advisory lock key of a repository: the same in every process and release (GitHub
    names are case-insensitive, so is the key), a signed 64-bit integer as PostgreSQL wants."""
    digest = hashlib.blake2b(NAMESPACE + repository.lower().encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LocksUnavailable(Exception):
    """The database holding the locks could not be reached: collecting without the lock could
    double another pod's work, so the repository fails this collection instead."""


class RepositoryLocks:
    """The advisory locks of one collection, over one connection (a session's locks belong to
    its connection), opened on entry and closed on exit, which releases whatever is left."""

    def __init__(self, database_url: str | None, timeout: float) -> None:
        self.database_url = database_url
        self.timeout = timeout
        self._stack = contextlib.AsyncExitStack()
        self._conn: psycopg.AsyncConnection[object] | None = None
        self._error = "not connected"
        self._turn = asyncio.Lock()  # one statement at a time on the connection

    @property
    def shared(self) -> bool:
        """Whether the store may be shared with other pods (a database is configured)."""
        return self.database_url is not None

    async def __aenter__(self) -> "RepositoryLocks":
        if self.database_url is not None:
            limits = Limits(statement_timeout=self.timeout, lock_timeout=self.timeout)
            connection = read_only(self.database_url, limits, "thoth-repo-metrics-locks", KEEPALIVE)
            try:
                self._conn = await asyncio.wait_for(
                    self._stack.enter_async_context(connection), self.timeout + 5
                )
            except (psycopg.Error, OSError, TimeoutError) as error:
                self._error = str(error) or "timeout"
                log.error("repository_locks_unavailable", extra={"error": self._error})
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._conn = None
        with contextlib.suppress(psycopg.Error, OSError):
            await self._stack.aclose()

    @contextlib.asynccontextmanager
    async def held(self, repository: str) -> AsyncIterator[bool]:
        """Yield whether this pod may collect ``repository`` now (False: another pod is);
        raises ``LocksUnavailable`` when the database cannot say."""
        if self.database_url is None:
            yield True
            return
        key = lock_key(repository)
        if not await self._ask("SELECT pg_try_advisory_lock(%s)", key):
            yield False
            return
        try:
            yield True
        finally:
            try:
                await self._ask("SELECT pg_advisory_unlock(%s)", key)
            except LocksUnavailable as error:  # the session ended, and its locks with it
                log.warning(
                    "repository_unlock_failed",
                    extra={"repository": repository, "error": str(error)},
                )

    async def _ask(self, statement: str, key: int) -> bool:
        async with self._turn:
            if self._conn is None:
                raise LocksUnavailable(f"repository locks: {self._error}")
            try:
                cursor = await asyncio.wait_for(self._conn.execute(statement, (key,)), self.timeout)
                row = await cursor.fetchone()
            except (psycopg.Error, OSError, TimeoutError) as error:
                self._error = str(error) or "timeout"
                self._conn = None  # its locks are gone with it: never trust it again
                with contextlib.suppress(psycopg.Error, OSError):
                    await self._stack.aclose()
                raise LocksUnavailable(f"repository locks: {self._error}") from None
        return isinstance(row, tuple) and bool(row[0])
