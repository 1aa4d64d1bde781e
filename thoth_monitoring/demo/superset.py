"""A local Superset (an installation found on this machine, metadata in SQLite) for the demo and
the end-to-end test: set up once, started on loopback, the dashboard bundle imported through
the REST API against a database holding the analytics tables."""

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from thoth_monitoring.core.database import psycopg_url
from thoth_monitoring.demo.processes import free_port, stop, wait_for_http
from thoth_monitoring.superset_bundle.bundle import write_zip

ENV_VAR = "THOTH_DEMO_SUPERSET"  # the path of a `superset` executable
TEST_VENV = Path(".test-cache") / "superset-venv"  # tests/e2e/test_superset.py installs it here
TIMEOUT = 30  # seconds, for every request to Superset
ADMIN = ("admin", "admin-password")
DASHBOARD = "/superset/dashboard/thoth-adviser-analytics/"


def find_superset(cwd: Path) -> Path | None:
    """The ``superset`` executable named by ``THOTH_DEMO_SUPERSET``, else the test cache's in
    ``cwd``, else None. A name that is not an executable is an error, not a silent skip."""
    named = os.environ.get(ENV_VAR)
    if named:
        found = shutil.which(named)
        if found is None:
            raise ValueError(f"{ENV_VAR}={named} is not an executable superset")
        return Path(found)
    cached = cwd / TEST_VENV / "bin" / "superset"
    return cached if os.access(cached, os.X_OK) else None


@dataclass(frozen=True)
class Superset:
    """A set-up Superset installation (metadata in SQLite, an admin, roles) that can be started."""

    command: str
    env: dict[str, str]
    home: Path

    def run(self, *args: str) -> None:
        done = subprocess.run(
            [self.command, *args], env=self.env, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            raise RuntimeError(f"superset {args[0]} failed:\n{done.stderr[-3000:]}")

    def start(self, port: int, log: Path, public: bool = False) -> "subprocess.Popen[bytes]":
        """Superset on 127.0.0.1:``port``, logging to ``log``. ``public`` gives
        anonymous visitors the Admin role, so a browser draws a dashboard without a login form
        (it also bypasses the API's logins)."""
        env = {**self.env, "THOTH_PUBLIC_ADMIN": "1" if public else ""}
        with log.open("ab") as output:
            return subprocess.Popen(
                [self.command, "run", "-h", "127.0.0.1", "-p", str(port), "--with-threads"],
                env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

    @contextlib.contextmanager
    def serving(self, public: bool = False) -> Iterator[str]:
        """Superset started on a free port while the block runs; its base URL."""
        port = free_port()
        process = self.start(port, self.home / "superset.log", public)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/health", 120, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)


def set_up(command: Path, home: Path) -> Superset:
    """Superset with its metadata in ``home``: configured, upgraded, an admin and the roles.
    The first call does the work and leaves ``home/set-up``; later ones reuse it. A set-up cut
    short (a failure, the demo stopped) is done again from the start next time."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{command.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "SUPERSET_CONFIG_PATH": str(home / "superset_config.py"),
        "FLASK_APP": "superset",
    }
    superset = Superset(str(command), env, home)
    done = home / "set-up"
    if done.exists():
        return superset
    (home / "superset.db").unlink(missing_ok=True)
    (home / "superset_config.py").write_text(
        "import os\n"
        f'SECRET_KEY = "{secrets.token_hex(32)}"\n'
        f'SQLALCHEMY_DATABASE_URI = "sqlite:///{home}/superset.db"\n'
        'if os.environ.get("THOTH_PUBLIC_ADMIN"):\n'
        '    AUTH_ROLE_PUBLIC = "Admin"\n'
        "TALISMAN_ENABLED = False\n"
    )
    user, password = ADMIN
    superset.run("db", "upgrade")
    superset.run("fab", "create-admin", "--username", user, "--password", password,
                 "--firstname", "Thoth", "--lastname", "Admin",
                 "--email", "admin@example.org")  # fmt: skip
    superset.run("init")
    done.touch()
    return superset


def login(base: str) -> requests.Session:
    """A session with the JWT and the CSRF token the write endpoints ask for."""
    session = requests.Session()
    user, password = ADMIN
    answer = session.post(
        f"{base}/api/v1/security/login",
        json={"username": user, "password": password, "provider": "db", "refresh": False},
        timeout=TIMEOUT,
    )
    answer.raise_for_status()
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    csrf = session.get(f"{base}/api/v1/security/csrf_token/", timeout=TIMEOUT)
    csrf.raise_for_status()
    session.headers.update({"X-CSRFToken": csrf.json()["result"], "Referer": base})
    return session


def import_bundle(session: requests.Session, base: str, database_url: str, zip_path: Path) -> None:
    """The dashboard bundle, its connection pointed at ``database_url`` (without a password),
    imported (overwriting an earlier import); raises ``RuntimeError`` with Superset's answer."""
    bundle = write_zip(zip_path, superset_uri(database_url))
    with bundle.open("rb") as file:
        imported = session.post(
            f"{base}/api/v1/dashboard/import/",
            files={"formData": (bundle.name, file, "application/zip")},
            data={"overwrite": "true"},
            timeout=TIMEOUT,
        )
    if imported.status_code != 200:
        raise RuntimeError(f"Superset refused the bundle ({imported.status_code}): "
                           f"{imported.text[:500]}")  # fmt: skip


def superset_uri(database_url: str) -> str:
    """The SQLAlchemy URI Superset connects with (psycopg2) for a PostgreSQL URL."""
    uri = psycopg_url(database_url).replace("postgresql://", "postgresql+psycopg2://", 1)
    parts = urlsplit(uri)
    if parts.password == "":  # pgserver's URLs carry an empty one, which the bundle refuses
        uri = parts._replace(netloc=parts.netloc.replace(":@", "@", 1)).geturl()
    return uri
