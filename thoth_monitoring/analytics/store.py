"""The analytics tables in PostgreSQL, designed for Superset, and the one write: a day's runs
replaced in a single transaction.

``adviser_runs`` holds one row per readable document, ``adviser_daily`` the runs per day,
integration, recommendation type and outcome (computed from ``adviser_runs`` in the same
transaction, so both always agree), ``ingest_days`` the last key and the counts of each day
loaded. A day is deleted and written again as a whole: a failure anywhere leaves the day as it
was before, complete or absent, never half written and never twice.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from thoth_monitoring.analytics.documents import AdviserDocuments, error_class
from thoth_monitoring.core.database import CONNECT_TIMEOUT_SECONDS, psycopg_url

SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.adviser_runs (
    document_id text PRIMARY KEY,
    day date NOT NULL,
    created_at timestamptz NOT NULL,
    integration text NOT NULL,
    recommendation_type text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('success', 'error')),
    error_class text NULL,
    error_message text NULL,
    duration_seconds double precision NULL,
    os_name text NULL,
    os_version text NULL,
    python_version text NULL,
    kebechet boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS adviser_runs_created_at ON {schema}.adviser_runs (created_at);
CREATE INDEX IF NOT EXISTS adviser_runs_day_integration
    ON {schema}.adviser_runs (day, integration);
CREATE TABLE IF NOT EXISTS {schema}.adviser_daily (
    day date,
    integration text,
    recommendation_type text,
    outcome text,
    runs integer NOT NULL,
    PRIMARY KEY (day, integration, recommendation_type, outcome)
);
CREATE TABLE IF NOT EXISTS {schema}.ingest_days (
    day date PRIMARY KEY,
    last_key text,
    documents integer,
    unreadable integer,
    loaded_at timestamptz
);
"""

_INSERT_RUN = """
INSERT INTO {schema}.adviser_runs (document_id, day, created_at, integration,
    recommendation_type, outcome, error_class, error_message, duration_seconds, os_name,
    os_version, python_version, kebechet)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_AGGREGATE = """
INSERT INTO {schema}.adviser_daily (day, integration, recommendation_type, outcome, runs)
SELECT day, integration, recommendation_type, outcome, count(*)
FROM {schema}.adviser_runs WHERE day = %(day)s
GROUP BY day, integration, recommendation_type, outcome
"""
_RECORD_DAY = """
INSERT INTO {schema}.ingest_days (day, last_key, documents, unreadable, loaded_at)
VALUES (%(day)s, %(last_key)s, %(documents)s, %(unreadable)s, now())
ON CONFLICT (day) DO UPDATE SET last_key = excluded.last_key, documents = excluded.documents,
    unreadable = excluded.unreadable, loaded_at = excluded.loaded_at
"""


@dataclass(frozen=True)
class LoadedDay:
    """What ``ingest_days`` remembers of a day."""

    last_key: str | None
    documents: int


class AnalyticsStore:
    """The analytics schema on one database; each call opens its own short connection."""

    def __init__(self, url: str, schema: str, statement_timeout: float) -> None:
        self.url = psycopg_url(url)
        self.schema = sql.Identifier(schema)
        self.statement_timeout = statement_timeout

    def create(self) -> None:
        """The schema, tables and indexes, if missing."""
        with self._connect() as conn:
            conn.execute(self._sql(SCHEMA_DDL))

    def loaded(self, day: date) -> LoadedDay | None:
        query = "SELECT last_key, documents FROM {schema}.ingest_days WHERE day = %s"
        with self._connect() as conn:
            row = conn.execute(self._sql(query), (day,)).fetchone()
        return None if row is None else LoadedDay(row[0], row[1])

    def replace_day(self, day: date, documents: AdviserDocuments) -> int:
        """Replace the day's rows, aggregates and ingest record in one transaction; returns
        the rows written."""
        rows = [
            (
                run.document_id, day, run.created_at, run.integration, run.recommendation_type,
                "error" if run.error else "success",
                None if run.error_message is None else error_class(run.error_message),
                run.error_message, run.duration_seconds, run.os_name, run.os_version,
                run.python_version, run.integration == "KEBECHET",
            )
            for run in documents.runs
        ]  # fmt: skip
        record = {
            "day": day,
            "last_key": documents.last_key,
            "documents": len(documents.runs) + len(documents.unreadable),
            "unreadable": len(documents.unreadable),
        }
        with self._connect() as conn, conn.transaction():
            for table in ("adviser_daily", "adviser_runs"):
                query = sql.SQL("DELETE FROM {schema}.{table} WHERE day = %s").format(
                    schema=self.schema, table=sql.Identifier(table)
                )
                conn.execute(query, (day,))
            with conn.cursor() as cursor:
                cursor.executemany(self._sql(_INSERT_RUN), rows)
            conn.execute(self._sql(_AGGREGATE), {"day": day})
            conn.execute(self._sql(_RECORD_DAY), record)
        return len(rows)

    def _sql(self, text: str) -> sql.Composed:
        return sql.SQL(text.strip()).format(schema=self.schema)

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[TupleRow]]:
        options = (
            f"-c statement_timeout={int(self.statement_timeout * 1000)} "
            "-c lock_timeout=10000 -c TimeZone=UTC"
        )
        with psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            options=options,
            application_name="thoth-analytics",
        ) as conn:
            yield conn
