"""Databases on Debian's PostgreSQL for the health tasks, with or without contrib extensions."""

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from exporters.health.connection import Limits
from tests.debian_postgres import DebianPostgres

LIMITS = Limits(statement_timeout=60, lock_timeout=5)
MakeDatabase = Callable[..., str]


@pytest.fixture(scope="session")
def health_database(debian_postgres: DebianPostgres) -> Iterator[MakeDatabase]:
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


def execute(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
