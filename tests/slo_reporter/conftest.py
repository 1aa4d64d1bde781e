"""A real Prometheus (Debian) loaded with five weeks of known history via ``promtool tsdb
create-blocks-from openmetrics``; tests work out every expected number by hand from it."""

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from bench.common import free_port, stop, wait_for_http
from exporters.ceph import S3Settings
from exporters.knowledge_graph import models as m
from exporters.knowledge_graph.documents import adviser_documents, upload_adviser_documents
from exporters.knowledge_graph.seed import build_dataset
from exporters.processes import backfill, start_prometheus
from slo_reporter.report import Week

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


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_history(tmp_path_factory.mktemp("prometheus"), history()) as url:
        yield url


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


@pytest.fixture(scope="module")
def ceph(s3_endpoint: str) -> tuple[S3Settings, list[dict[str, Any]]]:
    """A bucket with the seeded adviser documents, one corrupt document inside the week and a
    request object beside a document; returns the settings and the documents of the week."""
    settings = S3Settings(endpoint_url=s3_endpoint, bucket=f"thoth-{uuid.uuid4().hex[:8]}",
                          deployment="ocp4-stage")  # fmt: skip
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=settings.bucket)
    data = build_dataset(3000, END.replace(tzinfo=None) + timedelta(days=3))
    documents = list(adviser_documents(data, "ocp4-stage"))
    folder = settings.folder("adviser")
    upload_adviser_documents(client, settings.bucket, folder, documents, progress=False)
    inside = (REPORT_WEEK.start + timedelta(hours=1)).strftime("%y%m%d%H%M%S")
    client.put_object(Bucket=settings.bucket, Key=f"{folder}adviser-{inside}-badbad", Body=b"{")
    request = folder + documents[0]["metadata"]["document_id"] + ".request"
    client.put_object(Bucket=settings.bucket, Key=request, Body=b"{}")
    start, end = (REPORT_WEEK.start.replace(tzinfo=None), REPORT_WEEK.end.replace(tzinfo=None))
    in_week = [d for d in data.records(m.adviser_run) if start <= d["datetime"] < end]
    assert 5 < len(in_week) < len(documents)  # the week is a true subset
    week_ids = {run["adviser_document_id"] for run in in_week}
    return settings, [d for d in documents if d["metadata"]["document_id"] in week_ids]


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
