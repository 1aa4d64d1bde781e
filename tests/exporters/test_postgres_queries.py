"""exporters/postgres/queries.yaml in the real postgres_exporter (Debian's 0.11.1): it loads
without error, every metric it defines is served, the names pass promtool, and servers without
pg_stat_statements or replicas still scrape cleanly."""

import re
import shutil
import subprocess
from collections.abc import Iterator

import psycopg
import pytest
import yaml

from tests.support.postgres import (
    EMPTY_WITHOUT_REPLICAS,
    QUERIES,
    MakeDatabase,
    defined_metrics,
    scrape,
    served,
)


@pytest.fixture
def statements_database(make_database: MakeDatabase) -> Iterator[str]:
    url = make_database("pg_stat_statements")
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


def test_server_without_pg_stat_statements_scrapes_cleanly(make_database: MakeDatabase) -> None:
    exposition, log = scrape(make_database() + "?sslmode=disable")
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
