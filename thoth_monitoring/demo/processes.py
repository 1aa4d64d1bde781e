"""Child processes and local ports, for the demo (and the tests and benchmarks that start the
real binaries the same way)."""

import contextlib
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_http(url: str, seconds: float, process: "subprocess.Popen[Any] | None" = None) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 within {seconds:g}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def backfill(promtool: str, openmetrics: Path, data: Path, timeout: float = 1800) -> None:
    """Turn an OpenMetrics file into Prometheus blocks; blocks may span 5 weeks (840 h): fewer,
    larger blocks load faster and need no compaction. Raises ``RuntimeError`` with promtool's
    complaint."""
    try:
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=840h",
             str(openmetrics), str(data)], check=True, capture_output=True, timeout=timeout,
        )  # fmt: skip
    except subprocess.CalledProcessError as error:
        stderr = error.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"promtool could not backfill {openmetrics}: {stderr}") from error


def prometheus_command(binary: str, config: Path, data: Path, port: int) -> list[str]:
    """Prometheus on loopback; the long retention keeps backfilled blocks from being deleted."""
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=10y",
        f"--web.listen-address=127.0.0.1:{port}",
    ]


def start_prometheus(binary: str, config: Path, data: Path, port: int) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(
        prometheus_command(binary, config, data, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def answering(status: int, body: bytes, content_type: str = "text/plain") -> Iterator[str]:
    """A local HTTP server answering every GET with ``status`` and ``body``; yields its URL."""

    class Fixed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Fixed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
