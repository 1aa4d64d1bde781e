"""graph-exporter as a service: push mode against a real Pushgateway, --once, listen mode."""

import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from psycopg.conninfo import make_conninfo

from bench.common import free_port, stop, wait_for_http
from exporters.database import connection_parameters
from exporters.graph_exporter import GraphExporter, GraphExporterSettings, run_once
from tests.exporters.health.conftest import MakeDatabase, execute

COMMAND = str(Path(sys.executable).with_name("thoth-monitoring"))
UNREACHABLE = "postgresql://nobody@127.0.0.1:9/nothing"


@pytest.fixture
def pushgateway() -> Iterator[str]:
    binary = shutil.which("prometheus-pushgateway")
    assert binary, "prometheus-pushgateway missing: run .ci/system-deps"
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/-/ready", 30, process)
    yield url
    stop(process)


def gateway_metrics(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        return str(response.read().decode())


def only(task: str, **options: object) -> dict[str, object]:
    """Settings enabling just one task."""
    return {
        name: {"enabled": name == task}
        | ({"interval": 60, "deadline": 60} if name == "backups" else
           {"interval": 60, "deadline": 60, "statement_timeout": 30})
        for name in ("tables", "bloat", "amcheck", "backups")
    } | options  # fmt: skip


@pytest.fixture
def watched(health_database: MakeDatabase) -> str:
    url = health_database("amcheck")
    execute(
        url,
        "CREATE TABLE jobs (id int PRIMARY KEY)",
        "INSERT INTO jobs SELECT generate_series(1, 1000)",
        "ANALYZE jobs",
    )
    return url


async def test_tasks_pushed_one_after_the_other_do_not_overwrite_each_other(
    pushgateway: str, watched: str
) -> None:
    for task in ("tables", "bloat"):
        settings = GraphExporterSettings.model_validate(
            only(task, databases=[watched], push=pushgateway)
        )
        assert await run_once(settings) == 0
    pushed = gateway_metrics(pushgateway)
    database = watched.rsplit("/", 1)[1]
    assert (
        f'thoth_db_table_size_bytes{{database="{database}",instance="",job="thoth-graph-exporter",part="heap",schema="public",table="jobs",task="tables"}}'
        in pushed
    )
    assert 'table="jobs",task="bloat"}' in pushed
    for task in ("tables", "bloat"):
        assert (
            f'thoth_graph_exporter_task_last_success_timestamp_seconds{{database="{database}",'
            f'instance="",job="thoth-graph-exporter",task="{task}"}}'
        ) in pushed


async def test_failed_task_is_not_pushed_but_the_others_are(
    pushgateway: str, watched: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = GraphExporterSettings.model_validate(
        only("tables", databases=[UNREACHABLE, watched], push=pushgateway)
    )
    assert await run_once(settings) == 1
    assert "task tables (nothing) failed" in capsys.readouterr().err
    pushed = gateway_metrics(pushgateway)
    assert 'table="jobs",task="tables"' in pushed
    assert 'database="nothing"' not in pushed


async def test_listen_mode_serves_every_database_and_keeps_failures_apart(watched: str) -> None:
    settings = GraphExporterSettings.model_validate(
        only("amcheck", databases=[UNREACHABLE, watched])
    )
    exporter = GraphExporter.build(settings)
    failed = await exporter.run_all()
    assert [unit.database for unit in failed] == ["nothing"]
    async with TestClient(TestServer(exporter.app())) as client:
        body = await (await client.get("/metrics")).text()
    database = watched.rsplit("/", 1)[1]
    assert f'thoth_db_index_checks{{database="{database}",state="healthy"}} 1.0' in body
    assert 'thoth_graph_exporter_task_up{database="nothing",task="amcheck"} 0.0' in body
    assert f'thoth_graph_exporter_task_up{{database="{database}",task="amcheck"}} 1.0' in body
    assert 'thoth_graph_exporter_task_errors_total{database="nothing",task="amcheck"} 1.0' in body


def test_once_against_the_debian_server_prints_every_task(watched: str) -> None:
    result = subprocess.run(
        [COMMAND, "graph-exporter", "--once", "--database-url", watched],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("thoth_db_table_size_bytes", "thoth_db_table_bloat_ratio", "thoth_db_index_check"):
        assert f"\n{name}{{" in result.stdout
    promtool = shutil.which("promtool")
    assert promtool
    check = subprocess.run(
        [promtool, "check", "metrics"], input=result.stdout, capture_output=True, text=True
    )
    assert (check.returncode, check.stdout + check.stderr) == (0, "")


def test_once_against_the_embedded_server(server_url: str) -> None:
    result = subprocess.run(
        [COMMAND, "graph-exporter", "--once", "--database-url", server_url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "amcheck extension is not installed" in result.stderr
    assert 'thoth_db_index_checks{database="postgres",state="unchecked"}' in result.stdout


def test_once_with_a_key_value_dsn_labels_the_database_name_and_hides_the_password(
    watched: str,
) -> None:
    dsn = make_conninfo(**connection_parameters(watched), password="S3cret-never-shown")
    result = subprocess.run(
        [COMMAND, "graph-exporter", "--once", "--database-url", dsn],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    database = watched.rsplit("/", 1)[1]
    assert (
        f'thoth_graph_exporter_task_up{{database="{database}",task="bloat"}} 1.0' in result.stdout
    )
    assert f"task=bloat database={database} " in result.stderr
    assert "S3cret" not in result.stdout + result.stderr
