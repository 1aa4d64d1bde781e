"""What the tests and benchmarks observe of a database from outside."""

import time

import psycopg

from thoth_monitoring.core.database import psycopg_url


def database_counters(url: str, settle: float = 11.0) -> tuple[int, int]:
    """(transactions, rows read) of the database so far.

    Waits ``settle`` seconds first: a busy backend flushes its statistics at most once a second,
    an idle one within 10 s (PostgreSQL 15+); a closed connection's are flushed at exit.
    """
    time.sleep(settle)
    with psycopg.connect(psycopg_url(url), connect_timeout=10) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched "
            "FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
