"""A real Prometheus (Debian) loaded with five weeks of known history via ``promtool tsdb
create-blocks-from openmetrics``; tests work out every expected number by hand from it."""

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bench.common import free_port, stop, wait_for_http

END = datetime(2026, 11, 23, tzinfo=UTC)  # Monday 00:00 UTC: the end of ISO week 2026-W47
STEP = 300  # seconds between samples: fine enough for weekly windows, quick to backfill
STEPS = 5 * 7 * 86400 // STEP
WEEK = 7 * 86400
WEEK_STEPS = WEEK // STEP
LAST_WEEK_START = STEPS - WEEK_STEPS
DOWN = range(STEPS - 40, STEPS - 20)  # the User API is down for 20 samples in the last week


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


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prometheus")
    (root / "history.om").write_text(history())
    promtool, binary = shutil.which("promtool"), shutil.which("prometheus")
    assert promtool and binary, "Debian's prometheus package is missing: run .ci/system-deps"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=840h",
         str(root / "history.om"),
         str(root / "data")], check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (root / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
         "--storage.tsdb.retention.time=10y", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/-/ready", 60, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
