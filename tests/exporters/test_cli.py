"""The command line as a user runs it: ``--once``, ``--check-config``, ``db seed``."""

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from bench.common import free_port, wait_for_http
from exporters.database import connection_parameters
from exporters.knowledge_graph.seed import build_dataset
from tests.conftest import SEED_ANCHOR, SEED_SCALE

COMMAND = str(Path(sys.executable).with_name("thoth-monitoring"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=120)


def test_once_prints_the_exposition_and_exits_zero(seeded_url: str) -> None:
    result = run("metrics-exporter", "--once", "--database-url", seeded_url)
    assert result.returncode == 0, result.stderr
    assert "\nthoth_graphdb_alembic_version_rows 1.0\n" in result.stdout
    assert "thoth_metrics_exporter_database_up 1.0" in result.stdout


def test_once_exits_one_and_names_each_failed_metric(seeded_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "metrics:\n  team_broken:\n    type: gauge\n    help: Broken.\n"
        "    sql: SELECT count(*) AS value FROM no_such_table\n"
    )
    result = run(
        "metrics-exporter", "--once", "--database-url", seeded_url, "--metrics", str(broken)
    )
    assert result.returncode == 1
    assert 'relation "no_such_table" does not exist' in result.stderr
    assert "team_broken failed" in result.stderr
    assert "thoth_graphdb_cves 30.0" in result.stdout  # the others still reported


def test_once_against_an_unreachable_database_fails_fast() -> None:
    url = "postgresql://nobody@127.0.0.1:9/nothing"
    result = run("metrics-exporter", "--once", "--database-url", url)
    assert result.returncode == 1
    assert "database failed" in result.stderr
    assert "thoth_metrics_exporter_database_up 0.0" in result.stdout


def test_check_config_validates_config_file_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "exporter.yaml"
    config.write_text("listen: 127.0.0.1:9999\nmax_concurrency: 0\n")
    result = run("metrics-exporter", "--config", str(config), "--check-config")
    assert result.returncode == 2
    assert f"{config}: max_concurrency: Input should be greater than or equal to 1" in result.stderr
    config.write_text("listen: 127.0.0.1:9999\nexpected_solvers: [solver-rhel-8-py38]\n")
    result = run("metrics-exporter", "--config", str(config), "--check-config")
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout


def test_seed_refuses_a_database_that_holds_data(seeded_url: str) -> None:
    result = run("db", "seed", "--database-url", seeded_url, "--scale", "10", "--quiet")
    assert result.returncode == 1
    assert "tables already hold rows" in result.stderr
    assert "--reset" in result.stderr


def test_seed_with_a_malformed_url_is_one_clear_line_and_exit_two() -> None:
    result = run("db", "seed", "--database-url", "postgresql://u:S3cret@db:notaport/x")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "db seed: --database-url: port 'notaport' is not a number from 1 to 65535"
    )
    assert "Traceback" not in result.stderr


def test_seed_reset_reloads_deterministically(make_database: Callable[[], str]) -> None:
    url = make_database()
    for extra in ([], ["--reset"]):
        result = run(
            "db", "seed", "--database-url", url, "--scale", str(SEED_SCALE),
            "--anchor", SEED_ANCHOR.isoformat(), "--quiet", *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    expected = build_dataset(SEED_SCALE, SEED_ANCHOR).total_rows
    assert f"loaded {expected} rows" in result.stdout


def test_graph_exporter_check_config_names_the_bad_field(tmp_path: Path) -> None:
    config = tmp_path / "graph.yaml"
    config.write_text("bloat: {interval: 1h, deadline: 10m, statement_timeout: 1m, exact: yes}\n")
    result = run("graph-exporter", "--config", str(config), "--check-config")
    assert result.returncode == 2
    assert f"{config}: bloat.exact: Extra inputs are not permitted" in result.stderr
    config.write_text("databases: [postgresql://monitor@db/thoth]\nbloat: {interval: 2h, "
                      "deadline: 10m, statement_timeout: 1m}\n")  # fmt: skip
    result = run("graph-exporter", "--config", str(config), "--check-config")
    assert (result.returncode, result.stdout) == (0, "configuration is valid: 1 database(s)\n")


@pytest.mark.parametrize(
    ("command", "ready", "expected"),
    [
        ("metrics-exporter", "/readyz", "thoth_graphdb_alembic_version_rows 1.0"),
        ("graph-exporter", "/healthz", "thoth_graph_exporter_task_up{database="),
    ],
)
def test_services_listen_and_stop_cleanly_on_ctrl_c(
    seeded_url: str, command: str, ready: str, expected: str
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [COMMAND, command, "--listen", f"127.0.0.1:{port}", "--database-url", seeded_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}{ready}", 60, process)
        deadline = time.monotonic() + 60
        body = ""
        while expected not in body and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                body = answer.read().decode()
            time.sleep(0.2)
        assert expected in body
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr


def test_db_documents_writes_one_readable_document_per_seeded_adviser_run(
    s3_endpoint: str,
) -> None:
    from exporters.ceph import S3Settings
    from exporters.knowledge_graph import models as m
    from exporters.knowledge_graph.seed import build_dataset
    from slo_reporter.adviser import read_adviser_runs

    anchor = "2026-11-20T12:00"
    result = run("db", "documents", "--s3-endpoint", s3_endpoint, "--bucket", "seeded-docs",
                 "--scale", "2000", "--anchor", anchor, "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = build_dataset(2000, datetime.fromisoformat(anchor)).records(m.adviser_run)
    assert result.stdout == (
        f"wrote {len(runs)} adviser documents to s3://seeded-docs/data/ocp4-stage/adviser/\n"
    )
    settings = S3Settings(endpoint_url=s3_endpoint, bucket="seeded-docs", deployment="ocp4-stage")
    read = read_adviser_runs(
        settings, datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert read.unreadable == ()
    assert sorted(read.runs["document_id"]) == sorted(r["adviser_document_id"] for r in runs)
    assert read.runs["error"].sum() == sum(r["adviser_error"] for r in runs)


@pytest.mark.parametrize("url", ["postgresql://monitor:S3cret@db:notaport/thoth",
                                 "postgresql://monitor:S3cret@[::1/thoth"])  # fmt: skip
@pytest.mark.parametrize("command", ["metrics-exporter", "graph-exporter"])
def test_malformed_database_url_is_one_clear_line_and_exit_two(command: str, url: str) -> None:
    result = run(command, "--check-config", "--database-url", url)
    assert result.returncode == 2
    key = "database_url" if command == "metrics-exporter" else "databases.0"
    [line] = result.stderr.splitlines()
    assert line.startswith(f"command line: {key}: ")
    assert "notaport' is not a number" in line or 'matching "]" in IPv6 host' in line
    assert "S3cret" not in result.stderr


def test_once_accepts_a_key_value_dsn_and_never_shows_its_password(seeded_url: str) -> None:
    dsn = make_conninfo(**connection_parameters(seeded_url), password="S3cret-never-shown")
    result = run("metrics-exporter", "--once", "--database-url", dsn)
    assert result.returncode == 0, result.stderr
    assert "thoth_metrics_exporter_database_up 1.0" in result.stdout
    assert "S3cret" not in result.stdout + result.stderr


def test_check_config_explains_every_query_when_the_database_answers(
    seeded_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "metrics:\n  team_broken:\n    type: gauge\n    help: Broken.\n"
        "    sql: SELECT count(*) AS value FROM no_such_table\n"
    )
    result = run("metrics-exporter", "--check-config", "--database-url", seeded_url,
                 "--metrics", str(broken))  # fmt: skip
    assert result.returncode == 2
    assert (
        f'{broken}: metrics.team_broken.sql: relation "no_such_table" does not exist'
        in result.stderr
    )
    assert "1 of 37 queries failed EXPLAIN" in result.stderr
    assert "query checked with EXPLAIN: thoth_graphdb_cves\n" in result.stdout


def test_check_config_says_when_queries_could_not_be_checked() -> None:
    result = run("metrics-exporter", "--check-config", "--database-url",
                 "postgresql://nobody:S3cret@127.0.0.1:9/nothing")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "queries not checked: the database (host=127.0.0.1 port=9 dbname=nothing " in (
        result.stdout
    )
    assert "S3cret" not in result.stdout + result.stderr
