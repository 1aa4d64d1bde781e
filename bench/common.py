"""Plumbing shared by the benchmarks: ports, processes, waiting, statistics, result files."""

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thoth_monitoring.demo.probes import database_counters as database_counters
from thoth_monitoring.demo.processes import free_port as free_port
from thoth_monitoring.demo.processes import stop as stop
from thoth_monitoring.demo.processes import wait_for_http as wait_for_http

RESULTS = Path(__file__).with_name("results")


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
