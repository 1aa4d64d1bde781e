"""Index corruption checks with amcheck's ``bt_index_check``, three outcomes kept apart:

- ``healthy``: amcheck checked the index and found nothing;
- ``corrupted``: amcheck reported corruption (SQLSTATE class XX: index_corrupted, data_corrupted);
- ``unchecked``: the check could not run (extension missing, permission, timeout, lock, size
  limit, an index type amcheck does not verify, any other error), with the reason in the logs.

``bt_index_check`` takes only ACCESS SHARE locks (``bt_index_parent_check`` would take SHARE,
which blocks writes, so it is never used). Each index is checked in its own read-only statement
under the task's statement and lock timeouts.
"""

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client.metrics_core import Metric
from psycopg import errors

from thoth_monitoring.core.database import USER_SCHEMAS
from thoth_monitoring.core.exposition import gauge

log = logging.getLogger(__name__)

STATES = ("healthy", "corrupted", "unchecked")

INDEXES_SQL = f"""
SELECT c.oid, n.nspname, t.relname, c.relname, am.amname, pg_relation_size(c.oid)
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_am AS am ON am.oid = c.relam
WHERE i.indisvalid AND i.indisready AND c.relpersistence <> 't'
  AND {USER_SCHEMAS}
ORDER BY n.nspname, c.relname
"""


@dataclass(frozen=True)
class Outcome:
    schema: str
    table: str
    index: str
    state: str
    reason: str = ""


async def check_indexes(
    conn: psycopg.AsyncConnection[Any],
    database: str,
    max_bytes: int,
    index_timeout: float | None = None,
) -> list[Outcome]:
    """Check every user index of the connected database, each under ``index_timeout`` (the
    connection's statement timeout when None)."""
    cursor = await conn.execute(INDEXES_SQL)
    indexes = await cursor.fetchall()
    installed = await (
        await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")
    ).fetchone()
    if installed is None:
        log.warning(
            "amcheck_missing",
            extra={
                "database": database,
                "advice": "the amcheck extension is not installed: CREATE EXTENSION amcheck; "
                "no index is checked",
            },
        )
    if index_timeout is not None:
        milliseconds = str(max(1, int(index_timeout * 1000)))
        await conn.execute("SELECT set_config('statement_timeout', %s, false)", (milliseconds,))
    outcomes = []
    for oid, schema, table, index, method, size in indexes:
        if installed is None:
            outcome = Outcome(schema, table, index, "unchecked", "amcheck_missing")
        elif method != "btree":
            outcome = Outcome(schema, table, index, "unchecked", f"{method}_not_supported")
        elif max_bytes and size > max_bytes:
            outcome = Outcome(schema, table, index, "unchecked", "size_limit")
        else:
            outcome = await _check(conn, oid, schema, table, index)
        if outcome.state != "healthy" and outcome.reason != "amcheck_missing":
            log.warning("index_check", extra={
                "database": database, "index": f"{schema}.{index}", "state": outcome.state,
                "reason": outcome.reason,
            })  # fmt: skip
        outcomes.append(outcome)
    return outcomes


async def _check(
    conn: psycopg.AsyncConnection[Any], oid: int, schema: str, table: str, index: str
) -> Outcome:
    try:
        await conn.execute("SELECT bt_index_check(index => %s::oid::regclass)", (oid,))
    except (errors.IndexCorrupted, errors.DataCorrupted) as error:
        return Outcome(schema, table, index, "corrupted", _first_line(error))
    except errors.QueryCanceled:
        return Outcome(schema, table, index, "unchecked", "timeout")
    except errors.LockNotAvailable:
        return Outcome(schema, table, index, "unchecked", "lock_timeout")
    except errors.InsufficientPrivilege:
        return Outcome(schema, table, index, "unchecked", "permission_denied")
    except psycopg.DatabaseError as error:
        if error.sqlstate and error.sqlstate.startswith("XX"):
            return Outcome(schema, table, index, "corrupted", _first_line(error))
        return Outcome(schema, table, index, "unchecked", f"error: {_first_line(error)}")
    return Outcome(schema, table, index, "healthy")


def amcheck_metrics(database: str, outcomes: list[Outcome]) -> list[Metric]:
    index_labels = ["database", "schema", "table", "index", "state"]
    per_index = [
        ((database, o.schema, o.table, o.index, state), int(o.state == state))
        for o in outcomes
        for state in STATES
    ]
    counts = Counter(o.state for o in outcomes)
    return [
        gauge("thoth_db_index_check", "Outcome of the last amcheck of each index: 1 for its "
              "state (healthy, corrupted, unchecked = the check could not run), 0 for the others.",
              index_labels, per_index),
        gauge("thoth_db_index_checks", "Indexes per outcome of the last amcheck pass.",
              ["database", "state"], [((database, s), counts[s]) for s in STATES]),
    ]  # fmt: skip


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
