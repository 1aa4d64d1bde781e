"""A throw-away cluster of Debian's PostgreSQL (which has the contrib extensions amcheck and
pgstattuple that the embedded pgserver build lacks), started and stopped by the tests."""

import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path


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
