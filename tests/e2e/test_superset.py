"""The dashboard bundle in a real Superset (apache-superset 6 from PyPI, in its own virtual
environment under .test-cache/, reused once installed): SQLite metadata, ``db upgrade``, an admin,
``init``, the bundle imported through the REST API against a PostgreSQL holding known rows, and
every chart's data endpoint answering what SQL on the tables answers."""

import datetime
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.repository import REPOSITORY
from tests.support.screenshots import keep_for_readme, screenshot
from thoth_monitoring.core.database import psycopg_url
from thoth_monitoring.demo.superset import (
    DASHBOARD,
    TEST_VENV,
    TIMEOUT,
    Superset,
    import_bundle,
    login,
    set_up,
)
from thoth_monitoring.superset_bundle.bundle import CHARTS

pytestmark = pytest.mark.e2e

VENV = REPOSITORY / TEST_VENV
# Written once pip succeeded, headed by REQUIREMENTS: otherwise the venv is made again.
INSTALLED = VENV / "installed.txt"
# 6.1.0's wheel misses `rich` (its CLI) and `cachetools` (the bundle import), and accepts
# Flask-Caching 2.4+, whose cache factory passes an argument Superset's metastore cache refuses.
REQUIREMENTS = [
    "apache-superset==6.*",
    "psycopg2-binary",
    "rich",
    "cachetools",
    "flask-caching<2.4",
]

DDL = """
CREATE SCHEMA thoth_analytics;
CREATE TABLE thoth_analytics.adviser_runs(document_id text PRIMARY KEY, day date NOT NULL,
  created_at timestamptz NOT NULL, integration text NOT NULL, recommendation_type text NOT NULL,
  outcome text NOT NULL, error_class text NULL, error_message text NULL,
  duration_seconds double precision NULL, os_name text NULL, os_version text NULL,
  python_version text NULL, kebechet boolean NOT NULL);
CREATE TABLE thoth_analytics.adviser_daily(day date, integration text, recommendation_type text,
  outcome text, runs integer NOT NULL,
  PRIMARY KEY (day, integration, recommendation_type, outcome));
"""
# (day, integration, recommendation type, outcome, error class, kebechet, how many)
RUNS = [
    ("2026-11-23", "kebechet", "latest", "success", None, True, 5),
    ("2026-11-23", "kebechet", "latest", "error", "SolverError", True, 2),
    ("2026-11-23", "cli", "stable", "success", None, False, 7),
    ("2026-11-23", "cli", "stable", "error", "ResolutionTimeout", False, 3),
    ("2026-11-24", "github-app", "security", "success", None, False, 4),
    ("2026-11-24", "kebechet", "stable", "error", "ResolutionTimeout", True, 1),
    ("2026-11-24", "cli", "performance", "error", "UnresolvedDependency", False, 6),
    ("2026-11-25", "jupyter", "latest", "success", None, False, 9),
    ("2026-11-25", "kebechet", "latest", "success", None, True, 3),
]


@pytest.fixture(scope="session")
def superset_bin() -> Path:
    """Superset's virtual environment, created (and timed) when missing."""
    header = f"# {' '.join(REQUIREMENTS)}\n"
    if not INSTALLED.exists() or not INSTALLED.read_text().startswith(header):
        shutil.rmtree(VENV, ignore_errors=True)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
        pip = [str(VENV / "bin" / "pip"), "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "--quiet", *REQUIREMENTS], check=True, timeout=1800)
        freeze = subprocess.run(
            [*pip, "freeze"], check=True, capture_output=True, text=True, timeout=120
        )
        INSTALLED.write_text(header + freeze.stdout)
        print(f"superset_install_seconds={time.monotonic() - started:.0f}")
    return VENV / "bin"


@pytest.fixture(scope="module")
def analytics_url(make_database: Callable[[], str]) -> str:
    """A database with the analytics tables and RUNS in them (adviser_daily summed from it)."""
    url = make_database()
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute(DDL)
        number = 0
        for day, integration, kind, outcome, error, kebechet, count in RUNS:
            for _ in range(count):
                number += 1
                conn.execute(
                    "INSERT INTO thoth_analytics.adviser_runs (document_id, day, created_at,"
                    " integration, recommendation_type, outcome, error_class, kebechet)"
                    " VALUES (%s, %s, %s::date + time '12:00', %s, %s, %s, %s, %s)",
                    (f"adviser-{number}", day, day, integration, kind, outcome, error, kebechet),
                )
        conn.execute(
            "INSERT INTO thoth_analytics.adviser_daily SELECT day, integration,"
            " recommendation_type, outcome, count(*) FROM thoth_analytics.adviser_runs"
            " GROUP BY 1, 2, 3, 4"
        )
    return url


@pytest.fixture(scope="module")
def superset(superset_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Superset:
    return set_up(superset_bin / "superset", tmp_path_factory.mktemp("superset"))


def test_dashboard_charts_answer_what_sql_on_the_tables_answers(
    superset: Superset, analytics_url: str, tmp_path: Path
) -> None:
    with superset.serving() as base:
        check_charts(base, analytics_url, tmp_path)
    with superset.serving(public=True) as base:
        picture = screenshot(
            f"{base}{DASHBOARD}?standalone=1",
            tmp_path / "superset.png", 1200, settle_ms=30_000,
        )  # fmt: skip
    keep_for_readme(picture, "superset-dashboard.png")


def check_charts(superset: str, analytics_url: str, tmp_path: Path) -> None:
    """Import the bundle through the REST API, then compare each chart's data with SQL."""
    session = login(superset)
    import_bundle(session, superset, analytics_url, tmp_path / "thoth-analytics.zip")

    listed = session.get(
        f"{superset}/api/v1/dashboard/thoth-adviser-analytics/charts", timeout=TIMEOUT
    )
    listed.raise_for_status()
    ids = {chart["slice_name"]: chart["id"] for chart in listed.json()["result"]}
    assert sorted(ids) == sorted(chart.title for chart in CHARTS)

    def data(title: str) -> list[dict[str, Any]]:
        answer = session.get(f"{superset}/api/v1/chart/{ids[title]}/data/", timeout=TIMEOUT)
        assert answer.status_code == 200, f"{title}: {answer.text}"
        rows: list[dict[str, Any]] = answer.json()["result"][0]["data"]
        return rows

    with psycopg.connect(psycopg_url(analytics_url)) as conn:

        def sql(query: str) -> list[tuple[Any, ...]]:
            return conn.execute(query.replace("FROM ", "FROM thoth_analytics.")).fetchall()

        per_day = sql("SELECT day, integration, sum(runs) FROM adviser_daily GROUP BY 1, 2")
        assert sorted((day_of(r["day"]), r["integration"], r["runs"]) for r in data(
            "Adviser runs per day by integration"
        )) == sorted(per_day)  # fmt: skip
        assert len(per_day) == 7

        shares = sql(
            "SELECT integration, coalesce(sum(runs) FILTER (WHERE outcome = 'error'), 0)::float"
            " / sum(runs) FROM adviser_daily GROUP BY 1"
        )
        got = [(r["integration"], r["error_share"]) for r in data("Error share by integration")]
        assert dict(got) == pytest.approx(dict(shares))
        assert [share for _, share in got] == sorted((share for _, share in got), reverse=True)
        assert dict(shares)["cli"] == pytest.approx(9 / 16)
        assert dict(shares)["jupyter"] == 0

        errors = sql(
            "SELECT error_class, count(*) FROM adviser_runs WHERE outcome = 'error'"
            " GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
        )
        assert [(r["error_class"], r["count"]) for r in data("Top error classes")] == errors
        assert errors[0] == ("UnresolvedDependency", 6)

        kinds = sql("SELECT recommendation_type, sum(runs) FROM adviser_daily GROUP BY 1")
        got_kinds = {r["recommendation_type"]: r["runs"] for r in data("Recommendation types")}
        assert got_kinds == dict(kinds)

        (ratio,) = sql("SELECT avg((outcome = 'success')::int) FROM adviser_runs WHERE kebechet")[0]
        (answer,) = data("Kebechet's success ratio")
        assert answer["kebechet_success_ratio"] == pytest.approx(float(ratio))
        assert float(ratio) == pytest.approx(8 / 11)


def day_of(value: Any) -> datetime.date:
    """Superset sends temporal columns as epoch milliseconds."""
    return datetime.datetime.fromtimestamp(value / 1000, datetime.UTC).date()
