"""Sizes, tuples, maintenance times and wraparound ages against a real server."""

import asyncio
import time
from collections.abc import Callable

from tests.support.postgres import LIMITS, MakeDatabase, execute, samples
from thoth_monitoring.core.database import read_only
from thoth_monitoring.exporters.health.tables import table_metrics

Values = dict[str, dict[tuple[str, ...], float]]


async def collect_until(url: str, done: Callable[[Values], bool]) -> Values:
    """The statistics collector lags a second or so behind; poll until ``done`` holds."""
    deadline = time.monotonic() + 20
    while True:
        async with read_only(url, LIMITS) as conn:
            families = await table_metrics(conn, "db", oldest=3)
        values = {f.name: samples([f], f.name) for f in families}
        if done(values) or time.monotonic() > deadline:
            return values
        await asyncio.sleep(0.3)


async def test_tables_report_sizes_tuples_maintenance_and_xid_age(
    make_database: MakeDatabase,
) -> None:
    url = make_database()
    events = ("db", "public", "events")
    execute(
        url,
        "CREATE TABLE events (id int PRIMARY KEY, body text)",
        "INSERT INTO events SELECT i, repeat('x', 3000) FROM generate_series(1, 1000) i",
        "DELETE FROM events WHERE id <= 250",
    )
    values = await collect_until(
        url, lambda v: v["thoth_db_table_tuples"].get((*events, "dead")) == 250
    )
    tuples = values["thoth_db_table_tuples"]
    assert (tuples[(*events, "live")], tuples[(*events, "dead")]) == (750, 250)
    sizes = values["thoth_db_table_size_bytes"]
    assert sizes[(*events, "heap")] > 0
    assert sizes[(*events, "indexes")] > 0
    assert sizes[(*events, "toast")] <= 8192  # values stay inline: only the TOAST index page
    assert values["thoth_db_size_bytes"][("db",)] > sizes[(*events, "heap")]
    assert values["thoth_db_xid_age"][("db",)] > 0
    assert len(values["thoth_db_table_xid_age"]) == 3
    maintenance = "thoth_db_table_last_maintenance_timestamp_seconds"
    assert (*events, "vacuum") not in values[maintenance]

    execute(url, "VACUUM ANALYZE events")
    values = await collect_until(url, lambda v: (*events, "vacuum") in v[maintenance])
    for operation in ("vacuum", "analyze"):
        assert abs(values[maintenance][(*events, operation)] - time.time()) < 60
    assert values["thoth_db_table_tuples"][(*events, "dead")] == 0
