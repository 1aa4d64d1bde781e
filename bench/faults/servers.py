"""Servers a scenario starts for itself: a Debian PostgreSQL cluster it may stop or freeze, and
the processes of such a cluster."""

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg

from tests.debian_postgres import DebianPostgres, find_bin_dir


@contextmanager
def debian_cluster() -> Iterator[DebianPostgres]:
    """A fresh cluster of Debian's PostgreSQL, dedicated to one scenario."""
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
