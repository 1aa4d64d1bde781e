"""Where the database comes from: a given URL, or the embedded PostgreSQL of the ``pgserver``
wheel started under a data folder (Unix socket only, so it never takes a TCP port)."""

import asyncio
import functools
import logging
import os
import subprocess
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import waiting
from psycopg.abc import RV, PQGen
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow
from pydantic import AfterValidator, SecretStr

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(os.environ.get("THOTH_MONITORING_DATA", ".thoth-monitoring")) / "postgres"
CONNECT_TIMEOUT_SECONDS = 10
# Every connection we open is read-only: set at connect time, so no statement can forget it.
READ_ONLY = "-c default_transaction_read_only=on"
# The schemas a user's tables live in (PostgreSQL reserves pg_* for its own), as a condition on
# pg_namespace aliased ``n``.
USER_SCHEMAS = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'"


def embedded_url(data_dir: Path = DEFAULT_DATA_DIR, database: str | None = None) -> str:
    """Start (or reuse) the embedded server in ``data_dir`` and return its URL.

    The server keeps running after this process exits; ``stop_embedded`` stops it.
    """
    pgserver = _pgserver()
    data_dir = data_dir.absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    with server._lock:  # a handle cached by this process may point at a server stopped since
        server.ensure_postgres_running()
    url: str = server.get_uri(database)
    log.info("embedded_postgres_ready", extra={"data_dir": data_dir})
    return url


def stop_embedded(data_dir: Path = DEFAULT_DATA_DIR) -> bool:
    """Stop the embedded server in ``data_dir``; False when none was running."""
    pg_ctl = _pgserver()._commands.pg_ctl
    data_dir = data_dir.absolute()
    if not (data_dir / "postmaster.pid").exists():
        return False
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user, timeout=30)
    except subprocess.CalledProcessError:
        return False
    return True


def _pgserver() -> Any:
    """The pgserver module, imported lazily (importing it creates a lock file) and without the
    warning platformdirs prints when XDG_RUNTIME_DIR is unset."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import pgserver
        import pgserver._commands
    return pgserver


def resolve_url(database_url: str | None, data_dir: Path = DEFAULT_DATA_DIR) -> str:
    """The given URL, or the embedded server's when none was given."""
    return database_url or embedded_url(data_dir)


def psycopg_url(url: str) -> str:
    """A libpq URL (``postgresql://``) from any SQLAlchemy-style PostgreSQL URL; a libpq
    ``key=value`` string is returned as it is."""
    _, separator, rest = url.partition("://")
    return f"postgresql://{rest}" if separator else url


def connection_parameters(url: str) -> dict[str, str]:
    """libpq's parameters of a PostgreSQL URL (``postgresql://``, ``postgresql+psycopg://``)
    or of a ``key=value`` string. The ValueError says what is wrong without repeating the
    input, which may hold a password."""
    scheme, separator, _ = url.partition("://")
    if separator and not scheme.startswith("postgres"):
        raise ValueError(f"{scheme}:// is not a PostgreSQL URL (postgresql://…)")
    dsn = psycopg_url(url)
    try:
        parameters = {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    except psycopg.ProgrammingError as error:
        reason = " ".join(str(error).replace(f': "{dsn}"', "").replace(dsn, "…").split())
        raise ValueError(f"not a PostgreSQL URL or key=value string: {reason}") from None
    for port in parameters.get("port", "").split(","):
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"port {port!r} is not a number from 1 to 65535")
    return parameters


def _checked_url(url: SecretStr) -> SecretStr:
    connection_parameters(url.get_secret_value())
    return url


DatabaseUrl = Annotated[SecretStr, AfterValidator(_checked_url)]
"""A setting holding a database URL or key=value string: secret, and checked when loaded."""


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def redact(url: str) -> str:
    """Where ``url`` points (host, port, database and user) for logs and output: never the
    password nor any other option."""
    parameters = connection_parameters(url)
    shown = ("host", "port", "dbname", "user")
    return make_conninfo(**{key: parameters[key] for key in shown if key in parameters})


class DeadlineConnection(psycopg.AsyncConnection[TupleRow]):
    """A psycopg connection that is closed at once when a wait on the server is cancelled.

    Our deadlines cancel the task; psycopg answers a cancellation by asking the server to
    cancel the query and waiting up to 5s for that, then up to 5s more for the query to end,
    so against a frozen server a 6s deadline took 16s. A deadline means the server stopped
    answering: the connection is thrown away instead (its backend, if it ever wakes up, ends
    the statement under its statement_timeout and sees the closed socket)."""

    async def wait(
        self,
        gen: PQGen[RV],
        interval: float = 0.1,  # psycopg's own
        timeout: float | None = None,  # noqa: ASYNC109 (psycopg's signature)
    ) -> RV:
        try:
            return await waiting.wait_async(
                gen, self.pgconn.socket, interval=interval, timeout=timeout
            )
        except asyncio.CancelledError:
            self.pgconn.finish()
            raise


def create_engine(url: str, pool_size: int, application_name: str) -> "AsyncEngine":
    """An async engine with pre-ping, bounded pool waits, a connect timeout and connections
    that a deadline throws away without a round trip to the server."""
    from sqlalchemy.ext.asyncio import create_async_engine  # only the services need it

    parameters: dict[str, Any] = {
        **connection_parameters(url),
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "application_name": application_name,
        "options": READ_ONLY,
    }
    return create_async_engine(
        "postgresql+psycopg://",  # everything goes to psycopg as arguments, never in a URL
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        pool_recycle=3600,
        async_creator=functools.partial(DeadlineConnection.connect, **parameters),
    )


@dataclass(frozen=True)
class Limits:
    """Server-side bounds for every statement a task sends."""

    statement_timeout: float
    lock_timeout: float


@asynccontextmanager
async def read_only(
    url: str,
    limits: Limits,
    application_name: str = "thoth-graph-exporter",
    server_settings: dict[str, str] | None = None,
) -> AsyncIterator[psycopg.AsyncConnection[object]]:
    """An autocommit connection whose every statement is its own read-only transaction, so a
    failed statement (a corrupted index, a timeout) never poisons the next one; a task's
    deadline throws it away at once. ``server_settings`` are more session settings."""
    options = (
        f"-c statement_timeout={int(limits.statement_timeout * 1000)} "
        f"-c lock_timeout={int(limits.lock_timeout * 1000)} {READ_ONLY}"
    )
    for name, value in (server_settings or {}).items():
        options += f" -c {name}={value}"
    conn = await DeadlineConnection.connect(
        psycopg_url(url),
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options=options,
        application_name=application_name,
    )
    try:
        yield conn
    finally:
        await conn.close()


def database_name(url: str) -> str:
    """The database a URL or key=value string points at: the label every health metric
    carries, so never more than the name. Without one, libpq takes the user's name."""
    parameters = connection_parameters(url)
    return parameters.get("dbname") or parameters.get("user") or "postgres"
