"""Bloat: the estimate against pgstattuple on tables with known dead fractions, and every
relation the estimate cannot cover reported with its reason."""

import uuid

import psycopg
import pytest
from prometheus_client.metrics_core import Metric

from exporters.health.bloat import ExactRequest, bloat_metrics
from exporters.health.connection import read_only
from tests.exporters.health.conftest import LIMITS, MakeDatabase, execute


def samples(families: list[Metric], name: str) -> dict[tuple[str, ...], float]:
    family = next(f for f in families if f.name == name)
    return {tuple(s.labels.values()): s.value for s in family.samples}


def by_table(values: dict[tuple[str, ...], float], method: str) -> dict[str, float]:
    return {labels[2]: value for labels, value in values.items() if labels[3] == method}


async def run(url: str, exact: ExactRequest) -> list[Metric]:
    async with read_only(url, LIMITS) as conn:
        return await bloat_metrics(conn, "db", exact)


@pytest.mark.parametrize("deleted_percent", [0, 30, 60])
async def test_estimate_agrees_with_pgstattuple(
    health_database: MakeDatabase, deleted_percent: int
) -> None:
    url = health_database("pgstattuple")
    execute(
        url,
        "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, added timestamptz)",
        "INSERT INTO items SELECT i, 'item ' || i, i * 1.5, now() FROM generate_series(1, 20000) i",
        f"DELETE FROM items WHERE id % 100 < {deleted_percent}",
        "ANALYZE items",
    )
    families = await run(url, ExactRequest(frozenset({"items"}), 0))
    ratios = samples(families, "thoth_db_table_bloat_ratio")
    estimated = by_table(ratios, "estimate")["items"]
    exact = by_table(ratios, "exact")["items"]
    assert abs(estimated - exact) < 0.05
    assert abs(estimated - deleted_percent / 100) < 0.05
    assert samples(families, "thoth_db_pgstattuple_available") == {("db",): 1}


async def test_relations_the_estimate_cannot_cover_are_reported_with_a_reason(
    health_database: MakeDatabase,
) -> None:
    url = health_database()
    execute(
        url,
        "CREATE TABLE analysed (id int, tags text[])",
        "INSERT INTO analysed SELECT i, ARRAY['a'] FROM generate_series(1, 1000) i",
        "CREATE INDEX analysed_tags ON analysed USING gin (tags)",
        "CREATE INDEX analysed_expression ON analysed ((id * 2))",
        "ANALYZE analysed",
        "CREATE TABLE never_analysed (id int)",
        "ALTER TABLE analysed ADD COLUMN added_later int",
    )
    families = await run(url, ExactRequest(frozenset(), 0))
    unavailable = {
        (labels[2], labels[3])
        for labels in samples(families, "thoth_db_bloat_estimate_unavailable")
    }
    assert unavailable == {
        ("analysed_tags", "unsupported_index_type"),
        ("analysed_expression", "expression_columns"),
        ("never_analysed", "never_analyzed"),
        ("analysed", "missing_statistics"),
    }


async def test_missing_pgstattuple_is_reported_not_fatal(
    health_database: MakeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    url = health_database()
    execute(url, "CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)", "ANALYZE t")
    families = await run(url, ExactRequest(frozenset(), 1 << 30))
    assert samples(families, "thoth_db_pgstattuple_available") == {("db",): 0}
    assert "CREATE EXTENSION pgstattuple" in caplog.text
    assert by_table(samples(families, "thoth_db_table_bloat_ratio"), "estimate") == {"t": 0.0}


async def test_role_without_pgstattuple_rights_keeps_the_estimates(
    health_database: MakeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    url = health_database("pgstattuple")
    role = f"reader_{uuid.uuid4().hex[:8]}"
    execute(
        url,
        "CREATE TABLE t (id int)",
        "INSERT INTO t SELECT generate_series(1, 1000)",
        "CREATE TABLE u (id int)",
        "INSERT INTO u VALUES (1)",
        "ANALYZE t, u",
        "REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC",
        f"CREATE ROLE {role} LOGIN",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
    )
    reader = psycopg.conninfo.make_conninfo(url, user=role)
    families = await run(reader, ExactRequest(frozenset(), 1 << 30))
    assert set(by_table(samples(families, "thoth_db_table_bloat_ratio"), "estimate")) == {"t", "u"}
    assert by_table(samples(families, "thoth_db_table_bloat_ratio"), "exact") == {}
    assert samples(families, "thoth_db_bloat_exact_unavailable") == {
        ("db", "public", "t", "permission_denied"): 1,
        ("db", "public", "u", "permission_denied"): 1,
    }
    assert samples(families, "thoth_db_pgstattuple_available") == {("db",): 1}
    [warning] = [r.getMessage() for r in caplog.records if "bloat_exact_skipped" in r.getMessage()]
    assert "table=public.t reason=permission_denied" in warning
