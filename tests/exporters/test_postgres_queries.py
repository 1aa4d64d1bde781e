"""exporters/postgres/queries.yaml in the real postgres_exporter (Debian's 0.11.1): it loads
without error, every metric it defines is served, the names pass promtool, and servers without
pg_stat_statements or replicas still scrape cleanly."""

import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator

import psycopg
import pytest
import yaml

from bench.common import free_port, stop, wait_for_http
from tests.conftest import REPOSITORY
from tests.exporters.health.conftest import MakeDatabase
from thoth_monitoring.core.database import psycopg_url

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


@pytest.fixture
def statements_database(health_database: MakeDatabase) -> Iterator[str]:
    url = health_database("pg_stat_statements")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t SELECT generate_series(1, 100)")
        conn.execute("SELECT count(*) FROM t")
    yield url


def test_every_metric_is_served_with_pg_stat_statements(statements_database: str) -> None:
    exposition, log = scrape(statements_database + "?sslmode=disable")
    assert 'pg_exporter_user_queries_load_error{filename="' in exposition
    assert re.search(r"^pg_exporter_user_queries_load_error\{[^}]*\} 0$", exposition, re.M)
    assert re.search(r"^pg_exporter_last_scrape_error 0$", exposition, re.M), log
    expected = set().union(
        *(names for ns, names in defined_metrics().items() if ns not in EMPTY_WITHOUT_REPLICAS)
    )
    assert expected - served(exposition) == set()
    assert 'relname="t"' in exposition


def test_server_without_pg_stat_statements_scrapes_cleanly(server_url: str) -> None:
    exposition, log = scrape(psycopg_url(server_url) + "&sslmode=disable")
    assert re.search(r"^pg_exporter_last_scrape_error 0$", exposition, re.M), log
    assert "thoth_pg_top_statements_calls_total" not in served(exposition)
    assert "thoth_pg_connections_sessions" in served(exposition)


def test_metric_names_pass_promtool(statements_database: str) -> None:
    exposition, _ = scrape(statements_database + "?sslmode=disable")
    ours = "".join(
        line + "\n"
        for line in exposition.splitlines()
        if re.match(r"^(# (HELP|TYPE) )?thoth_pg_", line)
    )
    promtool = shutil.which("promtool")
    assert promtool
    result = subprocess.run(
        [promtool, "check", "metrics"], input=ours, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_file_uses_only_fields_that_0_11_1_reads() -> None:
    for namespace, spec in yaml.safe_load(QUERIES.read_text()).items():
        assert set(spec) <= {"query", "metrics", "master", "cache_seconds", "runonserver"}, (
            namespace
        )
        for mapping in spec["metrics"]:
            for column, options in mapping.items():
                assert set(options) <= {"usage", "description", "metric_mapping", "pg_version"}
                assert options["usage"] in {"LABEL", "COUNTER", "GAUGE"}, column
                if options["usage"] == "COUNTER":
                    assert column.endswith("_total"), column


def test_readme_lists_every_namespace() -> None:
    readme = (QUERIES.parent / "README.md").read_text()
    for namespace in defined_metrics():
        assert f"`{namespace}_" in readme, namespace
