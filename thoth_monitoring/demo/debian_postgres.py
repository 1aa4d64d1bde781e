"""A throw-away cluster of Debian's PostgreSQL (which has the contrib extensions amcheck and
pgstattuple that the embedded pgserver build lacks), started and stopped by the tests."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb, if Debian's server is here."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    return Path(found[-1]).parent if found else None


class DebianPostgres:
    """One cluster in ``root``: ``start()``, ``stop()``, ``url(database)``."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "server.log"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.user = "postgres" if os.geteuid() == 0 else None  # the server refuses to run as root
        for path in (root, self.sockets):
            path.mkdir(parents=True, exist_ok=True)
            if self.user:
                shutil.chown(path, self.user, self.user)
        self._run("initdb", "--auth=trust", "--username=postgres", "--encoding=UTF8",
                  "--no-sync", "-D", str(self.data))  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c shared_preload_libraries=pg_stat_statements -c autovacuum=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def file_path(self, relative: str) -> Path:
        """A file inside the data folder (``pg_relation_filepath`` output)."""
        return self.data / relative

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{program} failed: {result.stderr}\n{log}")


@contextmanager
def debian_cluster() -> Iterator[DebianPostgres]:
    """A fresh cluster of Debian's PostgreSQL for one run (a benchmark, a fault scenario), with a
    small ``fault_table`` in its ``postgres`` database; removed afterwards."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("Debian's PostgreSQL is missing: run .ci/system-deps")
    root = Path(tempfile.mkdtemp(prefix="thoth-faults-pg-"))
    server = DebianPostgres(bin_dir, root)
    server.start()
    try:
        with psycopg.connect(server.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE TABLE fault_table AS SELECT generate_series(1, 100) AS id")
        yield server
    finally:
        _resume(cluster_pids(server))  # never leave a frozen cluster behind
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def cluster_pids(server: DebianPostgres) -> list[int]:
    """The postmaster and its children (the backends and auxiliary processes)."""
    pid_file = server.data / "postmaster.pid"
    if not pid_file.exists():
        return []
    postmaster = int(pid_file.read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == postmaster:
                children.append(int(entry.name))
    return [postmaster, *children]


@contextmanager
def frozen(server: DebianPostgres) -> Iterator[int]:
    """Every process of the cluster stopped with SIGSTOP; yields how many; SIGCONT after."""
    pids = cluster_pids(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield len(pids)
    finally:
        _resume(pids)


def _resume(pids: list[int]) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
