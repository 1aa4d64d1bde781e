"""Shared fixtures: one real PostgreSQL server (Debian's, or ``TEST_DATABASE_URL``), throw-away
databases on it, a seeded knowledge graph, an S3 server (moto, over HTTP) and a Kafka broker
(Tansu). Helpers live in ``tests.support``."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from moto.server import ThreadedMotoServer

from tests.support.repository import SEED_ANCHOR, SEED_SCALE
from thoth_monitoring.core.database import psycopg_url, with_database
from thoth_monitoring.demo.debian_postgres import DebianPostgres, find_bin_dir
from thoth_monitoring.demo.kafka import TansuBroker, tansu_broker
from thoth_monitoring.exporters.knowledge_graph.seed import Dataset, build_dataset, seed

# The slow tiers by folder: the real binaries end to end, and the fault suite (bench/faults short).
E2E = (Path(__file__).with_name("e2e"), Path(__file__).with_name("faults"))
# A test using one of these reaches a real server (PostgreSQL, S3, Prometheus): integration tier.
SERVERS = {"server_url", "make_database", "seeded_url", "debian_postgres", "s3_endpoint",
           "prometheus", "ceph", "own_server", "kafka_broker"}  # fmt: skip


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the full-length stress tests")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One tier marker per test: e2e (tests/e2e/ and tests/faults/, or marked: our processes and
    the real binaries), integration (a real server through a fixture, or marked), else unit."""
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in E2E) or item.get_closest_marker(
            "e2e"
        ):
            item.add_marker(pytest.mark.e2e)
        elif item.get_closest_marker("integration") or SERVERS & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def run_slow(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--run-slow"))


@pytest.fixture(scope="session")
def server_url(debian_postgres: DebianPostgres) -> str:
    """The PostgreSQL server every test database lives on: ``TEST_DATABASE_URL``, or Debian's
    (it has the contrib extensions the health tasks need; the embedded server is tested
    through ``db up`` and the demo)."""
    return os.environ.get("TEST_DATABASE_URL") or debian_postgres.url()


@pytest.fixture(scope="session")
def make_database(server_url: str) -> Iterator[Callable[..., str]]:
    """Factory: a new database per call, with the given extensions installed; dropped at the end
    of the session."""
    created: list[str] = []

    def make(*extensions: str) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(psycopg_url(server_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        url = with_database(server_url, name)
        with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
            for extension in extensions:
                conn.execute(f"CREATE EXTENSION {extension}")
        return url

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


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[TansuBroker]:
    """One in-memory Tansu broker for the session; tests use unique topic and group names."""
    with tansu_broker() as broker:
        yield broker
