"""analytics' command line: --help, located configuration errors, --check-config."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.repository import REPOSITORY

CEPH = "ceph: {endpoint_url: 'http://127.0.0.1:9', bucket: b, deployment: d}\n"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_help_explains_tables_and_ways_of_running() -> None:
    result = run("analytics", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for words in ("adviser_runs", "adviser_daily", "ingest_days", "--once", "serve", "--days"):
        assert words in text


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("days: 2\n", "config.yaml: ceph: Field required"),
        (CEPH + "schema_name: 'a; DROP TABLE x'\n",
         "config.yaml: schema_name: 'a; DROP TABLE x' is not a plain schema name"),
        (CEPH + "days: 0\n", "config.yaml: days: Input should be greater than or equal to 1"),
        (CEPH + "schedule: 'every day'\n",
         "config.yaml: schedule: 'every day' is not a cron expression: Wrong number of fields"),
        (CEPH + "database_url: 'mysql://x/y'\n",
         "config.yaml: database_url: mysql:// is not a PostgreSQL URL"),
        (CEPH + "colour: red\n", "config.yaml: colour: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_configuration_is_located(in_tmp: Path, config: str, expected: str) -> None:
    (in_tmp / "config.yaml").write_text(config)
    result = run("analytics", "--config", "config.yaml", "--check-config")
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_says_what_it_will_do(in_tmp: Path) -> None:
    (in_tmp / "config.yaml").write_text(CEPH)
    result = run("analytics", "--config", "config.yaml", "--schema", "sup", "--check-config")
    assert result.returncode == 0
    assert result.stdout == (
        "configuration is valid: adviser documents of data/d/adviser/ into the embedded "
        "PostgreSQL, schema sup\n"
    )


def test_without_once_or_serve_it_says_what_to_do(in_tmp: Path) -> None:
    (in_tmp / "config.yaml").write_text(CEPH)
    result = run("analytics", "--config", "config.yaml")
    assert (result.returncode, result.stderr) == (
        2, "analytics: say --once or serve (see --help)\n")  # fmt: skip


def test_the_readme_example_config_is_valid(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (REPOSITORY / "README.md").read_text()
    example = readme.split("```yaml\n# analytics.yaml\n", 1)[1].split("```", 1)[0]
    (in_tmp / "analytics.yaml").write_text(example)
    monkeypatch.setenv("THOTH_ANALYTICS_DATABASE_URL", "postgresql://analytics:secret@db/superset")
    result = run("analytics", "--config", "analytics.yaml", "--check-config")
    assert (result.returncode, result.stdout) == (0, (
        "configuration is valid: adviser documents of data/ocp4-stage/adviser/ into "
        "--database-url, schema thoth_analytics\n"))  # fmt: skip
