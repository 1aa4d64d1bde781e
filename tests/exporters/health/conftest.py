"""Helpers for the health-task tests (the ``health_database`` fixture is in tests/conftest.py)."""

from collections.abc import Callable

import psycopg

from thoth_monitoring.exporters.health.connection import Limits

LIMITS = Limits(statement_timeout=60, lock_timeout=5)
MakeDatabase = Callable[..., str]


def execute(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
