"""Plumbing shared by the benchmarks: ports, processes, waiting, statistics, result files."""

import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from thoth_monitoring.demo.probes import database_counters as database_counters
from thoth_monitoring.demo.processes import free_port as free_port
from thoth_monitoring.demo.processes import stop as stop
from thoth_monitoring.demo.processes import wait_for_http as wait_for_http

RESULTS = Path(__file__).with_name("results")
T = TypeVar("T")


@dataclass
class Scrapes:
    """What open-loop scraping saw: each completed scrape's latency and body."""

    latencies: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    failures: int = 0
    skipped: int = 0  # the server was too slow for the rate: at most ``cap`` in flight

    def row(self, rate: float) -> dict[str, float]:
        return {
            "rate_per_second": rate,
            "scrapes_completed": len(self.latencies),
            "scrapes_failed": self.failures,
            "scrapes_skipped_at_cap": self.skipped,
            "p50_ms": percentile(self.latencies, 0.5) * 1000,
            "p99_ms": percentile(self.latencies, 0.99) * 1000,
        }


async def paced_scrapes(
    url: str,
    rate: float,
    window: float,
    at_end: Callable[[], T],
    cap: int = 100,
    timeout_seconds: float = 120,
    cancel_late: bool = True,
) -> tuple[Scrapes, T]:
    """GETs of ``url`` at ``rate``/s for ``window`` s, started on schedule whatever the
    answers take (open loop, never more than ``cap`` in flight), and ``at_end()`` taken when the
    window closes; scrapes still in flight then are cancelled, or awaited (``cancel_late``
    False)."""
    outcome = Scrapes()
    slots = asyncio.Semaphore(cap)
    started = time.perf_counter()
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_seconds)
    ) as session:

        async def scrape() -> None:
            begun = time.perf_counter()
            try:
                async with session.get(url) as response:
                    body = await response.read()
                if response.status != 200:
                    outcome.failures += 1
                    return
                outcome.latencies.append(time.perf_counter() - begun)
                outcome.bodies.append(body)
            except (aiohttp.ClientError, TimeoutError):
                outcome.failures += 1
            finally:
                slots.release()

        tasks = []
        for n in range(int(window * rate)):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            if slots.locked():
                outcome.skipped += 1
                continue
            await slots.acquire()
            tasks.append(asyncio.create_task(scrape()))
        await asyncio.sleep(max(0.0, started + window - time.perf_counter()))
        ended = at_end()
        for task in tasks if cancel_late else ():
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return outcome, ended


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
