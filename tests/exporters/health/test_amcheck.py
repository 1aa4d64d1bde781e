"""amcheck's three outcomes, each produced for real: a healthy index, an index corrupted on disk,
and checks that cannot run (extension missing, timeout, unsupported index type, size limit)."""

import psycopg

from tests.support.postgres import LIMITS, MakeDatabase, execute
from thoth_monitoring.core.database import read_only
from thoth_monitoring.demo.debian_postgres import DebianPostgres
from thoth_monitoring.exporters.health.amcheck import Outcome, amcheck_metrics, check_indexes

TABLE = (
    "CREATE TABLE accounts (id int PRIMARY KEY, tags text[])",
    "INSERT INTO accounts SELECT i, ARRAY['t' || i % 7] FROM generate_series(1, 20000) i",
    "CREATE INDEX accounts_tags ON accounts USING gin (tags)",
)


async def check(
    url: str, max_bytes: int = 0, index_timeout: float | None = None
) -> dict[str, Outcome]:
    async with read_only(url, LIMITS) as conn:
        outcomes = await check_indexes(conn, "db", max_bytes, index_timeout)
    return {o.index: o for o in outcomes}


async def test_healthy_index_and_unsupported_type(make_database: MakeDatabase) -> None:
    url = make_database("amcheck")
    execute(url, *TABLE)
    outcomes = await check(url)
    assert outcomes["accounts_pkey"].state == "healthy"
    assert (outcomes["accounts_tags"].state, outcomes["accounts_tags"].reason) == (
        "unchecked",
        "gin_not_supported",
    )


async def test_missing_extension_means_unchecked_not_healthy(make_database: MakeDatabase) -> None:
    url = make_database()
    execute(url, *TABLE)
    outcomes = await check(url)
    assert {(o.state, o.reason) for o in outcomes.values()} == {("unchecked", "amcheck_missing")}
    counts = {
        tuple(s.labels.values()): s.value
        for s in amcheck_metrics("db", list(outcomes.values()))[1].samples
    }
    assert counts == {("db", "healthy"): 0, ("db", "corrupted"): 0, ("db", "unchecked"): 2}


async def test_timeout_and_size_limit_mean_unchecked(make_database: MakeDatabase) -> None:
    url = make_database("amcheck")
    execute(url, *TABLE)
    execute(url, "INSERT INTO accounts SELECT i, NULL FROM generate_series(20001, 400000) i")
    outcomes = await check(url, index_timeout=0.001)
    assert (outcomes["accounts_pkey"].state, outcomes["accounts_pkey"].reason) == (
        "unchecked",
        "timeout",
    )
    outcomes = await check(url, max_bytes=8192)
    assert outcomes["accounts_pkey"].reason == "size_limit"


async def test_index_corrupted_on_disk_is_reported_corrupted(
    make_database: MakeDatabase, debian_postgres: DebianPostgres
) -> None:
    url = make_database("amcheck")
    execute(
        url,
        "CREATE TABLE ledger (id int PRIMARY KEY, note text)",
        "INSERT INTO ledger SELECT i, 'n' FROM generate_series(1, 5000) i",
        "CHECKPOINT",
    )
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_relation_filepath('ledger_pkey')").fetchone()
    assert row is not None
    index_file = debian_postgres.file_path(row[0])
    debian_postgres.stop()
    try:
        with index_file.open("r+b") as handle:
            handle.seek(8192 + 8192 - 1024)  # inside the items of the first leaf page
            handle.write(b"\x7f" * 256)
    finally:
        debian_postgres.start()
    outcome = (await check(url))["ledger_pkey"]
    assert outcome.state == "corrupted", outcome
    assert outcome.reason
