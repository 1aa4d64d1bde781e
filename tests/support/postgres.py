"""PostgreSQL helpers: statements, health-task limits and families, and what the upstream
postgres_exporter serves with our queries.yaml (the fixtures are in tests/conftest.py)."""

import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Callable

import psycopg
import yaml
from prometheus_client.metrics_core import Metric

from tests.support.repository import REPOSITORY
from thoth_monitoring.core.database import Limits
from thoth_monitoring.demo.processes import free_port, stop, wait_for_http

LIMITS = Limits(statement_timeout=60, lock_timeout=5)
MakeDatabase = Callable[..., str]


def execute(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


QUERIES = REPOSITORY / "thoth_monitoring" / "exporters" / "postgres" / "queries.yaml"


# Namespaces that legitimately have no rows on a lone test server.
EMPTY_WITHOUT_REPLICAS = {"thoth_pg_replication"}


def defined_metrics() -> dict[str, set[str]]:
    """{namespace: metric names} for every non-label column of the file."""
    namespaces = yaml.safe_load(QUERIES.read_text())
    return {
        namespace: {
            f"{namespace}_{column}"
            for mapping in spec["metrics"]
            for column, options in mapping.items()
            if options["usage"] != "LABEL"
        }
        for namespace, spec in namespaces.items()
    }


def scrape(dsn: str) -> tuple[str, str]:
    """Start the exporter with our queries against ``dsn``, scrape once; (exposition, log)."""
    binary = shutil.which("prometheus-postgres-exporter")
    assert binary, "prometheus-postgres-exporter missing: run .ci/system-deps"
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", f"--extend.query-path={QUERIES}"],
        env={**os.environ, "DATA_SOURCE_NAME": dsn},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", 30, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as response:
            exposition = response.read().decode()
    finally:
        stop(process)
    assert process.stderr is not None
    return exposition, process.stderr.read().decode()


def served(exposition: str) -> set[str]:
    return {
        match.group(1)
        for match in re.finditer(r"^(thoth_pg_[a-z0-9_]+)[{ ]", exposition, re.MULTILINE)
    }


def samples(families: list[Metric], name: str) -> dict[tuple[str, ...], float]:
    family = next(f for f in families if f.name == name)
    return {tuple(s.labels.values()): s.value for s in family.samples}
