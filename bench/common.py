"""Plumbing shared by the benchmarks: ports, processes, waiting, statistics, result files."""

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from thoth_monitoring.core.database import psycopg_url
from thoth_monitoring.demo.processes import free_port as free_port
from thoth_monitoring.demo.processes import stop as stop
from thoth_monitoring.demo.processes import wait_for_http as wait_for_http

RESULTS = Path(__file__).with_name("results")


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


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported p99 was really observed)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
