"""Connections for health tasks: read-only, with statement and lock timeouts set server-side."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg

from exporters.database import (
    CONNECT_TIMEOUT_SECONDS,
    DeadlineConnection,
    connection_parameters,
    psycopg_url,
)


@dataclass(frozen=True)
class Limits:
    """Server-side bounds for every statement a task sends."""

    statement_timeout: float
    lock_timeout: float


@asynccontextmanager
async def read_only(url: str, limits: Limits) -> AsyncIterator[psycopg.AsyncConnection[object]]:
    """An autocommit connection whose every statement is its own read-only transaction, so a
    failed statement (a corrupted index, a timeout) never poisons the next one; a task's
    deadline throws it away at once."""
    options = (
        f"-c statement_timeout={int(limits.statement_timeout * 1000)} "
        f"-c lock_timeout={int(limits.lock_timeout * 1000)} "
        "-c default_transaction_read_only=on"
    )
    conn = await DeadlineConnection.connect(
        psycopg_url(url),
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options=options,
        application_name="thoth-graph-exporter",
    )
    try:
        yield conn
    finally:
        await conn.close()


def database_name(url: str) -> str:
    """The database a URL or key=value string points at: the label every health metric
    carries, so never more than the name. Without one, libpq takes the user's name."""
    parameters = connection_parameters(url)
    return parameters.get("dbname") or parameters.get("user") or "postgres"
