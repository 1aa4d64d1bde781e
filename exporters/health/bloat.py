"""Table and index bloat: a statistical estimate for every table, exact figures on request.

The estimate is the usual one: from ``pg_stats`` (average width and null fraction of each
column) and ``pg_class.reltuples``, compute the size a freshly packed relation with that many
rows would need, and call the rest of ``relpages`` bloat. It costs one catalogue query per
database, so it runs over thousands of tables in well under a second. Relations it cannot
cover (never analysed, columns without statistics, index types other than btree, expression
keys) are reported as such instead of being skipped. ``pgstattuple`` reads the whole table and
gives exact figures; it runs only for the tables asked for.
"""

import logging
import math
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client.metrics_core import Metric
from psycopg import errors

from exporters.health.families import gauge

log = logging.getLogger(__name__)

Rows = list[tuple[tuple[str, ...], float]]  # (label values, value) per sample
# Why pgstattuple could not measure a table (anything else: "error", detail in the log).
_SKIP_REASONS: dict[type[psycopg.Error], str] = {
    errors.InsufficientPrivilege: "permission_denied",
    errors.QueryCanceled: "timeout",
    errors.LockNotAvailable: "lock_timeout",
}

PAGE_HEADER_BYTES = 24
HEAP_TUPLE_HEADER_BYTES = 23
INDEX_TUPLE_HEADER_BYTES = 8
INDEX_NULL_BITMAP_BYTES = 4
BTREE_SPECIAL_BYTES = 16
ITEM_POINTER_BYTES = 4
MAXALIGN = 8
_ALIGNMENT = {"c": 1, "s": 2, "i": 4, "d": 8}
BTREE_DEFAULT_FILLFACTOR = 90
HEAP_DEFAULT_FILLFACTOR = 100


@dataclass(frozen=True)
class Column:
    """One stored column: type alignment (``c``/``s``/``i``/``d``), type length (-1 for
    variable), and its statistics (None when the column has none)."""

    align: str
    length: int
    avg_width: float | None
    null_fraction: float | None


@dataclass(frozen=True)
class Relation:
    """What the catalogue says about one table or index (columns in storage order)."""

    schema: str
    table: str
    index: str | None
    access_method: str
    reltuples: float
    relpages: int
    block_size: int
    fillfactor: int | None
    columns: tuple[Column, ...]
    expression_columns: int

    @property
    def has_nulls(self) -> bool:
        return any((c.null_fraction or 0) > 0 for c in self.columns)

    @property
    def data_width(self) -> float:
        """Average bytes of a row's data, laid out as PostgreSQL lays it out: each value
        aligned for its type, short variable-length values (1-byte header) unaligned, NULLs
        taking no space."""
        offset = 0.0
        for column in self.columns:
            present = 1 - (column.null_fraction or 0)
            width = column.avg_width or 0
            short_varlena = column.length == -1 and width < 127
            if present >= 0.5 and not short_varlena:
                offset = math.ceil(offset / _ALIGNMENT[column.align]) * _ALIGNMENT[column.align]
            offset += width * present
        return offset


@dataclass(frozen=True)
class Estimate:
    bloat_bytes: float
    bloat_ratio: float


@dataclass(frozen=True)
class Unavailable:
    reason: str
    detail: str


def estimate(relation: Relation) -> Estimate | Unavailable:
    """The bloat of a table (``index`` None) or of a btree index."""
    if relation.index is not None and relation.access_method != "btree":
        return Unavailable("unsupported_index_type", f"{relation.access_method} index")
    if relation.expression_columns:
        return Unavailable("expression_columns", "index keys are expressions without statistics")
    if relation.reltuples < 0:
        return Unavailable("never_analyzed", "never vacuumed or analysed: no row count")
    missing = sum(1 for column in relation.columns if column.avg_width is None)
    if missing:
        return Unavailable("missing_statistics", f"{missing} column(s) without pg_stats rows")
    if relation.relpages == 0:
        return Estimate(0.0, 0.0)
    expected = (_index_pages if relation.index is not None else _table_pages)(relation)
    actual = relation.relpages
    bloat_pages = max(0, actual - expected)
    return Estimate(bloat_pages * relation.block_size, bloat_pages / actual)


def _align(size: float) -> float:
    return math.ceil(size / MAXALIGN) * MAXALIGN


def _table_pages(relation: Relation) -> int:
    null_bitmap = math.ceil(len(relation.columns) / 8) if relation.has_nulls else 0
    tuple_bytes = _align(HEAP_TUPLE_HEADER_BYTES + null_bitmap) + _align(relation.data_width)
    fillfactor = relation.fillfactor or HEAP_DEFAULT_FILLFACTOR
    reserved = relation.block_size * (100 - fillfactor) / 100
    usable = relation.block_size - PAGE_HEADER_BYTES - reserved
    per_page = max(1, math.floor(usable / (tuple_bytes + ITEM_POINTER_BYTES)))
    return math.ceil(relation.reltuples / per_page)


def _index_pages(relation: Relation) -> int:
    null_bitmap = INDEX_NULL_BITMAP_BYTES if relation.has_nulls else 0
    tuple_bytes = _align(INDEX_TUPLE_HEADER_BYTES + null_bitmap + relation.data_width)
    usable = relation.block_size - PAGE_HEADER_BYTES - BTREE_SPECIAL_BYTES
    fillfactor = relation.fillfactor or BTREE_DEFAULT_FILLFACTOR
    fanout = max(2, math.floor(usable / (tuple_bytes + ITEM_POINTER_BYTES)))
    per_leaf = max(1, math.floor(usable * fillfactor / 100 / (tuple_bytes + ITEM_POINTER_BYTES)))
    leaves = math.ceil(relation.reltuples / per_leaf)
    return 1 + leaves + math.ceil(leaves / fanout)  # metapage, leaves, inner pages


_FILLFACTOR = """
    (SELECT substring(option FROM 'fillfactor=([0-9]+)')::int
     FROM unnest({alias}.reloptions) AS option WHERE option LIKE 'fillfactor=%%')
"""
_COLUMNS = """
    coalesce(json_agg(json_build_array(ty.typalign, ty.typlen, s.avg_width, s.null_frac)
                      ORDER BY {order}) FILTER (WHERE a.attnum IS NOT NULL), '[]')
"""
_USER_SCHEMAS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
    AND n.nspname NOT LIKE 'pg\\_temp%%'
"""
TABLES_SQL = f"""
SELECT n.nspname AS schema, c.relname AS "table", NULL AS index, 'heap' AS access_method,
       c.reltuples, c.relpages, current_setting('block_size')::int AS block_size,
       {_FILLFACTOR.format(alias="c")} AS fillfactor,
       {_COLUMNS.format(order="a.attnum")} AS columns, 0 AS expression_columns
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type AS ty ON ty.oid = a.atttypid
LEFT JOIN pg_stats AS s
  ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
 AND NOT s.inherited
WHERE c.relkind IN ('r', 'm') AND {_USER_SCHEMAS}
GROUP BY n.nspname, c.relname, c.reltuples, c.relpages, c.reloptions
"""
INDEXES_SQL = f"""
SELECT n.nspname AS schema, t.relname AS "table", c.relname AS index, am.amname AS access_method,
       c.reltuples, c.relpages, current_setting('block_size')::int AS block_size,
       {_FILLFACTOR.format(alias="c")} AS fillfactor,
       {_COLUMNS.format(order="k.position")} AS columns,
       count(*) FILTER (WHERE k.attnum = 0) AS expression_columns
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_am AS am ON am.oid = c.relam
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
LEFT JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0
LEFT JOIN pg_type AS ty ON ty.oid = a.atttypid
LEFT JOIN pg_stats AS s
  ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
 AND NOT s.inherited
WHERE k.position <= i.indnkeyatts AND {_USER_SCHEMAS}
GROUP BY n.nspname, t.relname, c.relname, am.amname, c.reltuples, c.relpages, c.reloptions
"""
PGSTATTUPLE_SQL = """
SELECT n.nspname, c.relname, s.table_len, s.dead_tuple_len, s.free_space,
       coalesce((SELECT substring(option FROM 'fillfactor=([0-9]+)')::int
                 FROM unnest(c.reloptions) AS option WHERE option LIKE 'fillfactor=%%'), 100)
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL pgstattuple(c.oid) AS s
WHERE c.oid = %s
"""


async def relations(conn: psycopg.AsyncConnection[Any]) -> list[Relation]:
    """Every user table and index of the connected database, as the estimate needs them."""
    found: list[Relation] = []
    for sql in (TABLES_SQL, INDEXES_SQL):
        cursor = await conn.execute(sql)
        for row in await cursor.fetchall():
            schema, table, index, method, reltuples, relpages, block_size, fillfactor = row[:8]
            found.append(
                Relation(
                    schema, table, index, method, reltuples, relpages, block_size, fillfactor,
                    columns=tuple(Column(*column) for column in row[8]),
                    expression_columns=row[9],
                )
            )  # fmt: skip
    return found


@dataclass(frozen=True)
class ExactRequest:
    """Which tables get exact figures from pgstattuple."""

    tables: frozenset[str]
    max_bytes: int

    @property
    def wanted(self) -> bool:
        return bool(self.tables) or self.max_bytes > 0


async def bloat_metrics(
    conn: psycopg.AsyncConnection[Any], database: str, exact: ExactRequest
) -> list[Metric]:
    """The bloat families for one database."""
    table_rows: list[tuple[tuple[str, ...], float]] = []
    table_ratio_rows: list[tuple[tuple[str, ...], float]] = []
    index_rows: list[tuple[tuple[str, ...], float]] = []
    index_ratio_rows: list[tuple[tuple[str, ...], float]] = []
    unavailable: list[tuple[tuple[str, ...], float]] = []
    for relation in await relations(conn):
        result = estimate(relation)
        name = relation.index or relation.table
        labels: tuple[str, ...]
        if isinstance(result, Unavailable):
            unavailable.append(((database, relation.schema, name, result.reason), 1))
            log.info(
                "event=bloat_estimate_unavailable database=%s relation=%s.%s reason=%s detail=%r",
                database, relation.schema, name, result.reason, result.detail,
            )  # fmt: skip
        elif relation.index is None:
            labels = (database, relation.schema, relation.table, "estimate")
            table_rows.append((labels, result.bloat_bytes))
            table_ratio_rows.append((labels, result.bloat_ratio))
        else:
            labels = (database, relation.schema, relation.table, relation.index)
            index_rows.append((labels, result.bloat_bytes))
            index_ratio_rows.append((labels, result.bloat_ratio))
    families: list[Metric] = []
    if exact.wanted:
        exact_rows, skipped, available = await _exact(conn, database, exact)
        for labels, (bloat_bytes, ratio) in exact_rows:
            table_rows.append((labels, bloat_bytes))
            table_ratio_rows.append((labels, ratio))
        families += [
            gauge("thoth_db_pgstattuple_available", "1 if the pgstattuple extension is "
                  "installed for exact bloat figures, else 0.",
                  ["database"], [((database,), int(available))]),
            gauge("thoth_db_bloat_exact_unavailable", "1 for each table whose exact bloat "
                  "figures were asked for but could not be measured, with the reason "
                  "(permission_denied, timeout, lock_timeout, error); its estimate remains.",
                  ["database", "schema", "table", "reason"], skipped),
        ]  # fmt: skip
    table_labels = ["database", "schema", "table", "method"]
    index_labels = ["database", "schema", "table", "index"]
    return [
        gauge("thoth_db_table_bloat_bytes", "Space in a table beyond what its live rows need "
              "(method: estimate from statistics, or exact from pgstattuple).",
              table_labels, table_rows),
        gauge("thoth_db_table_bloat_ratio", "Share of a table's size that is bloat (0-1).",
              table_labels, table_ratio_rows),
        gauge("thoth_db_index_bloat_bytes", "Estimated space in a btree index beyond what its "
              "entries need.", index_labels, index_rows),
        gauge("thoth_db_index_bloat_ratio", "Estimated share of a btree index's size that is "
              "bloat (0-1).", index_labels, index_ratio_rows),
        gauge("thoth_db_bloat_estimate_unavailable", "1 for each table or index the estimate "
              "cannot cover, with the reason.",
              ["database", "schema", "relation", "reason"], unavailable),
        *families,
    ]  # fmt: skip


async def _exact(
    conn: psycopg.AsyncConnection[Any], database: str, exact: ExactRequest
) -> tuple[list[tuple[tuple[str, ...], tuple[float, float]]], Rows, bool]:
    """Exact figures of the selected tables, the tables skipped with the reason (as amcheck
    leaves an index unchecked: the estimate stays), and whether pgstattuple is installed."""
    cursor = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pgstattuple'")
    if await cursor.fetchone() is None:
        log.warning(
            "event=pgstattuple_missing database=%s message=%r", database,
            "exact bloat figures were asked for but the pgstattuple extension is not installed; "
            "run CREATE EXTENSION pgstattuple (as a superuser) and grant pg_stat_scan_tables",
        )  # fmt: skip
        return [], [], False
    cursor = await conn.execute(
        "SELECT c.oid, n.nspname, c.relname, pg_relation_size(c.oid) FROM pg_class AS c "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        f"WHERE c.relkind IN ('r', 'm') AND {_USER_SCHEMAS}"
    )
    rows: list[tuple[tuple[str, ...], tuple[float, float]]] = []
    skipped: Rows = []
    denied = False
    for oid, schema, table, size in await cursor.fetchall():
        if not _selected(exact, schema, table, size):
            continue
        # once the role may not run pgstattuple, it may not for any table: do not ask again
        measured = (
            "permission_denied" if denied else await _measure(conn, database, oid, schema, table)
        )
        if isinstance(measured, str):
            denied = measured == "permission_denied"
            skipped.append(((database, schema, table, measured), 1))
        elif measured is not None:
            rows.append(((database, schema, table, "exact"), measured))
    return rows, skipped, True


async def _measure(
    conn: psycopg.AsyncConnection[Any], database: str, oid: int, schema: str, table: str
) -> tuple[float, float] | str | None:
    """One table's exact bloat; the reason when pgstattuple cannot run; None when the table
    went away since it was listed."""
    try:
        measured = await (await conn.execute(PGSTATTUPLE_SQL, (oid,))).fetchone()
    except psycopg.DatabaseError as error:
        reason = _SKIP_REASONS.get(type(error), "error")
        log.warning(
            "event=bloat_exact_skipped database=%s table=%s.%s reason=%s detail=%r",
            database, schema, table, reason, " ".join(str(error).split()),
        )  # fmt: skip
        return reason
    return None if measured is None else exact_bloat(*measured[2:])


def _selected(exact: ExactRequest, schema: str, table: str, size: int) -> bool:
    named = {table, f"{schema}.{table}"} & exact.tables
    return bool(named) or (exact.max_bytes > 0 and size <= exact.max_bytes)


def exact_bloat(
    table_len: int, dead_tuple_len: int, free_space: int, fillfactor: int
) -> tuple[float, float]:
    """Bloat from pgstattuple: dead tuples plus free space, less what fillfactor reserves."""
    if table_len == 0:
        return 0.0, 0.0
    reserved = table_len * (100 - fillfactor) / 100
    bloat = max(0.0, dead_tuple_len + free_space - reserved)
    return bloat, bloat / table_len
