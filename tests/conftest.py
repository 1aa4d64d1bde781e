"""Shared fixtures: a real PostgreSQL server (embedded pgserver, or ``TEST_DATABASE_URL``),
throw-away databases on it, a seeded knowledge graph, and an S3 server (moto, over HTTP)."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from moto.server import ThreadedMotoServer

from tests.debian_postgres import DebianPostgres, find_bin_dir
from thoth_monitoring.core.database import embedded_url, psycopg_url, stop_embedded, with_database
from thoth_monitoring.exporters.knowledge_graph.seed import Dataset, build_dataset, seed

SEED_SCALE = 3_000
SEED_ANCHOR = datetime(2026, 11, 20, 12, 0)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the full-length stress tests")


@pytest.fixture(scope="session")
def run_slow(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--run-slow"))


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The PostgreSQL server every test database lives on."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    data_dir = tmp_path_factory.mktemp("pg") / "data"
    yield embedded_url(data_dir)
    stop_embedded(data_dir)


@pytest.fixture(scope="session")
def make_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Factory: a new empty database per call, dropped at the end of the session."""
    created: list[str] = []

    def make() -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(psycopg_url(server_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return with_database(server_url, name)

    yield make
    with psycopg.connect(psycopg_url(server_url), autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return build_dataset(SEED_SCALE, SEED_ANCHOR)


@pytest.fixture(scope="session")
def seeded_url(make_database: Callable[[], str]) -> str:
    """A knowledge graph created by our models and loaded with ``dataset``'s rows."""
    url = make_database()
    seed(url, SEED_SCALE, SEED_ANCHOR, progress=False)
    return url


@pytest.fixture(scope="session")
def debian_postgres() -> Iterator[DebianPostgres]:
    """Debian's PostgreSQL with contrib modules. Missing means failing, not skipping: the
    health tests must run for real (``make test`` installs the package)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.fail("Debian's PostgreSQL is missing: run .ci/system-deps (package postgresql)")
    # Not under pytest's private temporary folder: the server runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="thoth-debian-pg-"))
    server = DebianPostgres(bin_dir, root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def health_database(debian_postgres: DebianPostgres) -> Iterator[Callable[..., str]]:
    """Factory: a new database on the Debian server, with the given extensions installed."""
    created = []

    def make(*extensions: str) -> str:
        name = f"health_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(debian_postgres.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = debian_postgres.url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            for extension in extensions:
                conn.execute(f"CREATE EXTENSION {extension}")
        created.append(name)
        return url

    yield make
    with psycopg.connect(debian_postgres.url(), autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _s3_credentials() -> None:
    """moto accepts any credentials; boto3 only needs some to sign with."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


REPOSITORY = Path(__file__).resolve().parents[1]
