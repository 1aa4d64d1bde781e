"""bench/bloat: how close the statistical bloat estimate comes to pgstattuple's exact figures,
and what each costs, on Debian's PostgreSQL (the embedded build has no pgstattuple).

(1) 50 tables with known bloat — 0 to 80 % of rows deleted or updated, no vacuum, fresh
    statistics — the estimate vs pgstattuple per table: mean and max absolute error in
    percentage points (targets: mean <= 5, max <= 15);
(2) a database with 2 000 tables: wall time of the whole estimate (target < 2 s) vs the exact
    pgstattuple pass over the same tables.

Run with ``python -m bench.bloat`` (``make bench`` runs it). Results: bench/results/bloat.json.
"""

import argparse
import asyncio
import sys
import time
from typing import Any

import psycopg

from bench.common import print_table, write_result
from thoth_monitoring.core.database import Limits, read_only
from thoth_monitoring.demo.debian_postgres import DebianPostgres, debian_cluster
from thoth_monitoring.exporters.health.bloat import Estimate, estimate, exact_bloat, relations

LIMITS = Limits(statement_timeout=3600, lock_timeout=60)
# Column mixes, so the estimate meets fixed-width, variable-width and nullable columns.
SHAPES = (
    "id int PRIMARY KEY, amount numeric, note text",
    "id bigint PRIMARY KEY, created timestamptz, flag boolean, name varchar(40)",
    "id int PRIMARY KEY, payload text, maybe int",
    "id int PRIMARY KEY, a int, b int, c double precision, d date",
    "id int PRIMARY KEY, body text, tags text[]",
)
FILL = (
    "SELECT i, i * 1.25, 'note ' || i FROM generate_series(1, {rows}) i",
    "SELECT i, now() - i * interval '1 minute', i % 2 = 0, 'name-' || md5(i::text) "
    "FROM generate_series(1, {rows}) i",
    "SELECT i, repeat(md5(i::text), 1 + i % 4), CASE WHEN i % 3 = 0 THEN NULL ELSE i END "
    "FROM generate_series(1, {rows}) i",
    "SELECT i, i, i * 2, i / 3.0, date '2020-01-01' + i % 1000 FROM generate_series(1, {rows}) i",
    "SELECT i, md5(i::text), ARRAY[md5(i::text), 'x'] FROM generate_series(1, {rows}) i",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bloat", description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000, help="rows per accuracy table")
    parser.add_argument("--tables", type=int, default=2_000, help="tables in the timing database")
    args = parser.parse_args(argv)
    with debian_cluster() as server:
        result = {
            "accuracy": accuracy(create_database(server, "accuracy"), args.rows),
            "timing": timing(create_database(server, "timing"), args.tables),
        }
    report(result)
    print(f"\nwritten to {write_result('bloat', result)}")
    return 0


def create_database(server: DebianPostgres, name: str) -> str:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = server.url(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pgstattuple")
    return url


def accuracy(url: str, rows: int) -> dict[str, Any]:
    """50 tables: 25 with deleted rows, 25 with updated rows, 0-80 % each."""
    print(f"creating 50 tables of {rows:,} rows with known bloat ...", flush=True)
    plan: list[tuple[str, str, int]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(50):
            percent = round((n % 25) * 80 / 24)
            action = "delete" if n < 25 else "update"
            shape = n % len(SHAPES)
            table = f"bloat_{action}_{percent:02d}_{n}"
            conn.execute(f"CREATE TABLE {table} ({SHAPES[shape]}) WITH (autovacuum_enabled = off)")
            conn.execute(f"INSERT INTO {table} {FILL[shape].format(rows=rows)}")
            where = f"WHERE id % 100 < {percent}"
            if action == "delete":
                conn.execute(f"DELETE FROM {table} {where}")
            else:
                conn.execute(f"UPDATE {table} SET id = id + {rows * 10} {where}")
            conn.execute(f"ANALYZE {table}")
            plan.append((table, action, percent))
    estimates = asyncio.run(estimate_all(url))
    exact = exact_all(url, [table for table, _, _ in plan])
    per_table: list[dict[str, Any]] = []
    for table, action, percent in plan:
        estimated = estimates[table]
        measured = exact[table]
        per_table.append({
            "table": table, "action": action, "changed_percent": percent,
            "estimate_percent": 100 * estimated, "pgstattuple_percent": 100 * measured,
            "error_points": abs(100 * (estimated - measured)),
        })  # fmt: skip
    errors: list[float] = [row["error_points"] for row in per_table]
    return {
        "tables": per_table,
        "mean_error_points": sum(errors) / len(errors),
        "max_error_points": max(errors),
    }


async def estimate_all(url: str) -> dict[str, float]:
    async with read_only(url, LIMITS) as conn:
        found = await relations(conn)
    ratios = {}
    for relation in found:
        result = estimate(relation)
        if relation.index is None and isinstance(result, Estimate):
            ratios[relation.table] = result.bloat_ratio
    return ratios


def exact_all(url: str, tables: list[str]) -> dict[str, float]:
    ratios = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            row = conn.execute(
                "SELECT table_len, dead_tuple_len, free_space FROM pgstattuple(%s::regclass)",
                (table,),
            ).fetchone()
            assert row is not None
            ratios[table] = exact_bloat(row[0], row[1], row[2], fillfactor=100)[1]
    return ratios


def timing(url: str, tables: int) -> dict[str, Any]:
    print(f"creating {tables:,} tables ...", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(tables):
            shape = n % len(SHAPES)
            conn.execute(f"CREATE TABLE many_{n} ({SHAPES[shape]})")
            conn.execute(f"INSERT INTO many_{n} {FILL[shape].format(rows=50 + n % 200)}")
            if n % 3 == 0:
                conn.execute(f"DELETE FROM many_{n} WHERE id % 4 = 0")
        conn.execute("ANALYZE")
    started = time.perf_counter()
    estimated = asyncio.run(estimate_all(url))
    estimate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    exact_all(url, [f"many_{n}" for n in range(tables)])
    exact_seconds = time.perf_counter() - started
    return {
        "tables": tables,
        "tables_estimated": len(estimated),
        "estimate_seconds": estimate_seconds,
        "pgstattuple_seconds": exact_seconds,
        "pgstattuple_over_estimate": exact_seconds / estimate_seconds,
    }


def report(result: dict[str, Any]) -> None:
    accuracy_result = result["accuracy"]
    worst = sorted(accuracy_result["tables"], key=lambda row: -row["error_points"])[:5]
    print_table(
        f"(1) estimate vs pgstattuple on 50 tables: mean error "
        f"{accuracy_result['mean_error_points']:.2f} pp (target <= 5), max "
        f"{accuracy_result['max_error_points']:.2f} pp (target <= 15); worst five",
        ["table", "changed %", "estimate %", "pgstattuple %", "error pp"],
        [[r["table"], r["changed_percent"], r["estimate_percent"], r["pgstattuple_percent"],
          r["error_points"]] for r in worst],
    )  # fmt: skip
    timing_result = result["timing"]
    print_table(
        f"(2) {timing_result['tables']:,} tables",
        ["method", "seconds", "tables"],
        [
            ["estimate (one catalogue query)", timing_result["estimate_seconds"],
             timing_result["tables_estimated"]],
            ["pgstattuple (reads every table)", timing_result["pgstattuple_seconds"],
             timing_result["tables"]],
        ],
    )  # fmt: skip
    print(
        f"  pgstattuple takes {timing_result['pgstattuple_over_estimate']:.2f}x the estimate's time"
    )


if __name__ == "__main__":
    sys.exit(main())
