"""Five weeks of service history in a real Prometheus, the SLO report tests' data."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from thoth_monitoring.demo.processes import (
    backfill,
    free_port,
    start_prometheus,
    stop,
    wait_for_http,
)
from thoth_monitoring.slo_reporter.report import Week

END = datetime(2026, 11, 23, tzinfo=UTC)  # Monday 00:00 UTC: the end of ISO week 2026-W47


STEP = 300  # seconds between samples: fine enough for weekly windows, quick to backfill


STEPS = 5 * 7 * 86400 // STEP


WEEK = 7 * 86400


WEEK_STEPS = WEEK // STEP


LAST_WEEK_START = STEPS - WEEK_STEPS


DOWN = range(STEPS - 40, STEPS - 20)  # the User API is down for 20 samples in the last week


REPORT_WEEK = Week.parse("2026-W47")  # ends at END


def history() -> str:
    """Per step: User API 98 good + 2 failed requests (95 + 5 in the last week); adviser
    3 succeeded + 1 failed workflow runs, solver 4 succeeded; `up` 1 except while down."""
    start = END.timestamp() - STEPS * STEP
    series: dict[str, list[float]] = {}

    def counter(name: str, per_minute: list[float]) -> None:
        total, values = 0.0, []
        for value in per_minute:
            values.append(total)
            total += value
        values.append(total)
        series[name] = values

    last_week = [m >= LAST_WEEK_START for m in range(STEPS)]
    counter(
        'flask_http_request_total{job="user-api",status="200"}',
        [95 if w else 98 for w in last_week],
    )
    counter(
        'flask_http_request_total{job="user-api",status="500"}', [5 if w else 2 for w in last_week]
    )
    counter('argo_workflows_status_counter{name="adviser",status="Succeeded"}', [3] * STEPS)
    counter('argo_workflows_status_counter{name="adviser",status="Failed"}', [1] * STEPS)
    counter('argo_workflows_status_counter{name="solver",status="Succeeded"}', [4] * STEPS)
    counter('argo_workflows_status_counter{name="solver",status="Failed"}', [0] * STEPS)
    series['up{job="user-api"}'] = [0.0 if m in DOWN else 1.0 for m in range(STEPS + 1)]
    # Content gauges: package versions grow by 1 a step; CVE records appear in the last week.
    series["thoth_graphdb_python_package_versions"] = [1000.0 + m for m in range(STEPS + 1)]
    series["thoth_graphdb_cves"] = [float(m) for m in range(LAST_WEEK_START + 10, STEPS + 1)]
    lines = []
    families = ("flask_http_request_total", "argo_workflows_status_counter", "up",
                "thoth_graphdb_python_package_versions", "thoth_graphdb_cves")  # fmt: skip
    for family in families:
        lines.append(f"# TYPE {family} gauge")
        for name, values in series.items():
            if name == family or name.startswith(family + "{"):
                offset = STEPS + 1 - len(values)  # a series may start late
                lines.extend(
                    f"{name} {v:g} {start + (offset + i) * STEP:.0f}" for i, v in enumerate(values)
                )
    return "\n".join(lines) + "\n# EOF\n"


@contextmanager
def serve_history(root: Path, openmetrics: str) -> Iterator[str]:
    """A Prometheus serving ``openmetrics`` (backfilled into ``root``); yields its URL."""
    (root / "history.om").write_text(openmetrics)
    promtool, binary = shutil.which("promtool"), shutil.which("prometheus")
    assert promtool and binary, "Debian's prometheus package is missing: run .ci/system-deps"
    backfill(promtool, root / "history.om", root / "data", timeout=300)
    (root / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    port = free_port()
    process = start_prometheus(binary, root / "prometheus.yml", root / "data", port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/-/ready", 60, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def range_query(
    prometheus: str, query: str, start: datetime, end: datetime, step: int
) -> list[dict[str, Any]]:
    """Prometheus' own answer to a range query, asked directly (not through our source), for
    tests that check our numbers against it."""
    params: dict[str, str | float] = {
        "query": query, "start": start.timestamp(), "end": end.timestamp(), "step": step,
    }  # fmt: skip
    response = requests.get(f"{prometheus}/api/v1/query_range", params=params, timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result
