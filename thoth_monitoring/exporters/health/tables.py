"""Cheap per-table statistics: sizes, live and dead tuples, maintenance times, and
transaction-ID wraparound age of the database and of its oldest tables."""

from typing import Any

import psycopg
from prometheus_client.metrics_core import Metric

from thoth_monitoring.core.exposition import gauge

TABLES_SQL = """
SELECT s.schemaname, s.relname,
       pg_relation_size(s.relid) AS heap,
       pg_indexes_size(s.relid) AS indexes,
       coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast,
       s.n_live_tup, s.n_dead_tup,
       EXTRACT(EPOCH FROM s.last_vacuum), EXTRACT(EPOCH FROM s.last_autovacuum),
       EXTRACT(EPOCH FROM s.last_analyze), EXTRACT(EPOCH FROM s.last_autoanalyze)
FROM pg_stat_user_tables AS s
JOIN pg_class AS c ON c.oid = s.relid
"""
DATABASE_SQL = """
SELECT pg_database_size(d.oid), age(d.datfrozenxid), mxid_age(d.datminmxid)
FROM pg_database AS d WHERE d.datname = current_database()
"""
OLDEST_SQL = """
SELECT n.nspname, c.relname, age(c.relfrozenxid)
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'
ORDER BY age(c.relfrozenxid) DESC
LIMIT %s
"""
MAINTENANCE = ("vacuum", "autovacuum", "analyze", "autoanalyze")


async def table_metrics(
    conn: psycopg.AsyncConnection[Any], database: str, oldest: int
) -> list[Metric]:
    tables = await (await conn.execute(TABLES_SQL)).fetchall()
    size, xid_age, mxid_age = await (await conn.execute(DATABASE_SQL)).fetchone() or (0, 0, 0)
    oldest_tables = await (await conn.execute(OLDEST_SQL, (oldest,))).fetchall()
    sizes, tuples, maintenance = [], [], []
    for schema, table, heap, indexes, toast, live, dead, *times in tables:
        key = (database, schema, table)
        sizes += [((*key, "heap"), heap), ((*key, "indexes"), indexes), ((*key, "toast"), toast)]
        tuples += [((*key, "live"), live), ((*key, "dead"), dead)]
        maintenance += [
            ((*key, operation), float(when))
            for operation, when in zip(MAINTENANCE, times, strict=True)
            if when is not None
        ]
    table = ["database", "schema", "table"]
    return [
        gauge("thoth_db_size_bytes", "On-disk size of the database.", ["database"],
              [((database,), size)]),
        gauge("thoth_db_xid_age", "Transactions since the database's oldest unfrozen "
              "transaction ID (wraparound at about 2.1e9; autovacuum forces a freeze at "
              "autovacuum_freeze_max_age).", ["database"], [((database,), xid_age)]),
        gauge("thoth_db_mxid_age", "Multixacts since the database's oldest unfrozen multixact ID.",
              ["database"], [((database,), mxid_age)]),
        gauge("thoth_db_table_size_bytes", "On-disk size of each table by part (heap, indexes, "
              "toast).", [*table, "part"], sizes),
        gauge("thoth_db_table_tuples", "Live and dead tuples of each table (statistics "
              "collector estimate).", [*table, "state"], tuples),
        gauge("thoth_db_table_last_maintenance_timestamp_seconds", "Unix time each table was "
              "last vacuumed or analysed, by hand or by autovacuum (absent when never).",
              [*table, "operation"], maintenance),
        gauge("thoth_db_table_xid_age", "Transaction-ID age of the tables closest to "
              "wraparound (the oldest ones only).", table,
              [((database, schema, name), age) for schema, name, age in oldest_tables]),
    ]  # fmt: skip
