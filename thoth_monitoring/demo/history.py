"""Five weeks of synthetic service history for the demo Prometheus, written as OpenMetrics for
``promtool tsdb create-blocks-from openmetrics``: the series the SLOs in
``slo_reporter/slos.yaml`` read (Argo workflow outcomes and durations, the User API's requests
and ``up``, the metrics exporter's freshness) and the content gauges of the report's KPI section.

The story it tells, so that the report on the last full week has something to say: kebechet
fails 10 % of its runs from two weeks before it on (breached), inspection has a six-hour incident
in it, the User API is down for 70 minutes in it (at risk), the solver is slow (latency
breached); the rest is healthy.
"""

import math
import random
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

WORKFLOWS = ("adviser", "kebechet", "inspection", "package-extract", "provenance-checker",
             "solver", "security-indicator")  # fmt: skip
LATENCY_BUCKETS = ("300", "900", "+Inf")
WEEK = 7 * 86400


def write_history(
    path: Path, end: datetime, exporter_instance: str, weeks: int = 5, step: int = 300
) -> int:
    """Write the history ending at ``end`` (one sample per ``step`` seconds); returns how many
    samples were written."""
    steps = weeks * WEEK // step
    start = int(end.timestamp()) - steps * step
    times = [start + i * step for i in range(steps + 1)]
    rng = random.Random(2026)
    samples = 0
    with path.open("w") as out:
        for family, series in _families(times, end.timestamp(), exporter_instance, step, rng):
            out.write(f"# TYPE {family} gauge\n")
            for labels, values in series:
                name = f"{family}{{{labels}}}" if labels else family
                late = times[len(times) - len(values) :]  # a series may start late
                out.writelines(f"{name} {v:.12g} {t}\n" for t, v in zip(late, values, strict=True))
                samples += len(values)
        out.write("# EOF\n")
    return samples


Series = list[tuple[str, list[float]]]


def _families(
    times: list[int], end: float, instance: str, step: int, rng: random.Random
) -> Iterator[tuple[str, Series]]:
    # Incidents are placed before the last Monday 00:00 UTC, so that they fall into the week
    # the report covers, whatever day the demo runs.
    monday = end - (end - 4 * 86400) % WEEK  # the Unix epoch was a Thursday

    def ago(t: int) -> float:
        return monday - t

    def daily(t: int) -> float:
        """Busier in the (UTC) afternoon."""
        return 1 + 0.5 * math.sin(2 * math.pi * ((t % 86400) / 86400 - 0.25))

    def failure_ratio(workflow: str, t: int) -> float:
        if workflow == "kebechet" and ago(t) < 2 * WEEK:  # and on into this week
            return 0.1
        if workflow == "inspection" and 3 * 86400 <= ago(t) < 3 * 86400 + 6 * 3600:
            return 0.35
        return {"adviser": 0.02, "solver": 0.004, "inspection": 0.015}.get(workflow, 0.01)

    status: Series = []
    buckets: Series = []
    for index, workflow in enumerate(WORKFLOWS):
        per_step = [(3 + index) * daily(t) * step / 300 for t in times]
        failed = [n * failure_ratio(workflow, t) for n, t in zip(per_step, times, strict=True)]
        status += [
            (f'name="{workflow}",status="Succeeded"',
             _counter([n - f for n, f in zip(per_step, failed, strict=True)])),
            (f'name="{workflow}",status="Failed"', _counter([f * 0.8 for f in failed])),
            (f'name="{workflow}",status="Error"', _counter([f * 0.2 for f in failed])),
        ]  # fmt: skip
        slow = 0.2 if workflow == "solver" else 0.03
        shares = {"300": 0.6, "900": 1 - slow, "+Inf": 1.0}
        succeeded = [n - f for n, f in zip(per_step, failed, strict=True)]
        for le in LATENCY_BUCKETS:
            buckets.append((f'name="{workflow}",le="{le}"',
                            _counter([n * shares[le] for n in succeeded])))  # fmt: skip
        count = _counter(succeeded)
        yield "argo_workflows_duration_seconds_histogram_count", [(f'name="{workflow}"', count)]
        yield (
            "argo_workflows_duration_seconds_histogram_sum",
            [(f'name="{workflow}"', [c * 420 for c in count])],
        )
    yield "argo_workflows_status_counter", status
    yield "argo_workflows_duration_seconds_histogram_bucket", buckets

    api = 'job="user-api",instance="user-api:8080"'
    down = [2 * 86400 <= ago(t) < 2 * 86400 + 70 * 60 for t in times]
    requests = [0.0 if d else 600 * daily(t) * step / 300 for t, d in zip(times, down, strict=True)]
    yield "up", [(api, [0.0 if d else 1.0 for d in down])]
    yield (
        "flask_http_request_total",
        [
            (f'{api},method="GET",status="200"', _counter([r * 0.9955 for r in requests])),
            (f'{api},method="GET",status="500"', _counter([r * 0.0045 for r in requests])),
        ],
    )
    yield "thoth_metrics_exporter_last_success_timestamp_seconds", [
        (f'job="thoth-metrics-exporter",instance="{instance}",metric="thoth_graphdb_cves"',
         [t - rng.uniform(0, 120) for t in times]),
    ]  # fmt: skip
    yield from _content(times, instance)


def _content(times: list[int], instance: str) -> Iterator[tuple[str, Series]]:
    """Content gauges growing at different rates; CVE data starts three weeks in."""
    labels = f'job="thoth-metrics-exporter",instance="{instance}"'
    first = times[0]

    def grow(base: float, per_day: float) -> Callable[[int], float]:
        return lambda t: base + per_day * (t - first) / 86400

    gauges = {
        "thoth_graphdb_python_package_versions": grow(180_000, 900),
        "thoth_graphdb_solved_python_packages": grow(150_000, 850),
        "thoth_graphdb_unsolved_python_packages_all_solvers": grow(9_000, 20),
        "thoth_graphdb_si_analyzed_python_packages": grow(40_000, 300),
        "thoth_graphdb_adviser_runs": grow(12_000, 150),
        "thoth_graphdb_adviser_users": grow(800, 4),
        "thoth_kebechet_active_repositories": grow(300, 1),
    }
    for name, value in gauges.items():
        yield name, [(labels, [float(round(value(t))) for t in times])]
    cves_from = first + 21 * 86400
    cves = [float(round(2000 + (t - cves_from) / 3600)) for t in times if t >= cves_from]
    yield "thoth_graphdb_cves", [(labels, cves)]


def _counter(per_step: list[float]) -> list[float]:
    """Cumulative totals, starting at 0."""
    total, values = 0.0, []
    for value in per_step:
        values.append(total)
        total += value
    return values
