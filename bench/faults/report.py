"""slo-report as a user runs it (the real command, in a subprocess) when Prometheus, Ceph/S3 or
the SMTP server fails, and when several ``--send`` runs race for the same week."""

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.faults import Row, Size
from thoth_monitoring.demo.processes import (
    answering,
    free_port,
    start_prometheus,
    stop,
    wait_for_http,
)
from thoth_monitoring.demo.smtp import Handler, smtp_server

COMMAND = str(Path(sys.executable).with_name("thoth-monitoring"))
WEEK = "2026-W47"
LOG_LINE = ("ts=", '{"ts"')  # the service's own log lines; the rest is what the user reads
INVALID_PROMQL = """slos:
  - service: faults
    name: broken
    description: PromQL Prometheus refuses.
    objective: 0.99
    sli: {promql: {expr: "sum(rate(up[{{window}}]) +"}}
"""


@dataclass(frozen=True)
class Run:
    exit: int
    stdout: str
    stderr: str

    @property
    def said(self) -> list[str]:
        """What the command printed for the user (not its log lines)."""
        return [line for line in self.stderr.splitlines() if line and not line.startswith(LOG_LINE)]

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr or "Traceback" in self.stdout

    def brief(self) -> str:
        last = self.said[-1] if self.said else "(nothing)"
        return f"exit {self.exit}, {len(self.said)} line(s): {last[:70]!r}"


def slo_report(folder: Path, config: dict[str, Any], *args: str, timeout: float = 120) -> Run:
    path = folder / "report.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    result = subprocess.run(
        [COMMAND, "slo-report", "--config", str(path), "--week", WEEK, *args],
        capture_output=True, text=True, timeout=timeout, cwd=folder,
    )  # fmt: skip
    return Run(result.returncode, result.stdout, result.stderr)


def base_config(folder: Path, prometheus: str, smtp_port: int | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "prometheus": {"url": prometheus, "timeout": "3s", "retries": 1},
        "store_dir": str(folder),
    }
    if smtp_port is not None:
        config["mail"] = {"host": "127.0.0.1", "port": smtp_port, "security": "none",
                          "sender": "slo@example.org", "to": ["sre@example.org"],
                          "timeout": "2s", "attempts": 2, "backoff": "100ms"}  # fmt: skip
    return config


# --- servers that misbehave ------------------------------------------------------------------


@contextlib.contextmanager
def empty_prometheus() -> Iterator[str]:
    """A real Prometheus with no data: every SLO of the report is 'no data'."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("Debian's prometheus is missing: run .ci/system-deps")
    with tempfile.TemporaryDirectory(prefix="thoth-faults-prom-") as root:
        config = Path(root) / "prometheus.yml"
        config.write_text("global: {scrape_interval: 1m}\n")
        port = free_port()
        process = start_prometheus(binary, config, Path(root) / "data", port)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/-/ready", 60, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def closed_port() -> int:
    return free_port()  # nothing listens there


# --- (1) Prometheus unusable -----------------------------------------------------------------


def prometheus_faults(size: Size) -> Row:
    """Each way Prometheus can fail ends in one clear line and exit 1, never a traceback."""
    outcomes: list[str] = []
    wrong: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="thoth-faults-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        folder = Path(tmp)
        (folder / "slos.yaml").write_text(INVALID_PROMQL)
        real = stack.enter_context(empty_prometheus())
        cases = {
            "down": (f"http://127.0.0.1:{closed_port()}", {}),
            "500": (stack.enter_context(answering(500, b"oops", "text/plain")), {}),
            "html": (stack.enter_context(answering(200, b"<html>login</html>", "text/html")), {}),
            "silent": (f"http://127.0.0.1:{stack.enter_context(silent_port())}", {}),
            "invalid PromQL": (real, {"slos": str(folder / "slos.yaml")}),
        }
        if size == "short":
            cases = {name: cases[name] for name in ("down", "500", "invalid PromQL")}
        for name, (url, extra) in cases.items():
            run = slo_report(folder, base_config(folder, url) | extra)
            outcomes.append(f"{name}: {run.brief()}")
            if run.exit != 1 or run.traceback or len(run.said) != 1:
                wrong.append(name)
    return Row("slo-report: Prometheus unusable", ", ".join(cases) + " (no --send)",
               "; ".join(outcomes), not wrong)  # fmt: skip


# --- (2) S3 down -----------------------------------------------------------------------------


def s3_down(size: Size) -> Row:
    """Ceph, holding the adviser documents, down: the report is still built, stored and sent
    without that section, and the exit status says partial (neither 0 nor 1)."""
    handler = Handler()
    with (tempfile.TemporaryDirectory(prefix="thoth-faults-") as tmp, empty_prometheus() as url,
          smtp_server(handler) as smtp):  # fmt: skip
        folder = Path(tmp)
        run = slo_report(folder, base_config(folder, url, smtp) | {"ceph": _dead_ceph()}, "--send")
        stored = (folder / "slo-reports" / WEEK / "report.html").exists()
    sent = len(handler.received)
    return Row("slo-report: S3 down (documents)", "Ceph refusing, report stored locally, --send",
               f"{run.brief()}, stored: {stored}, mails sent: {sent}",
               run.exit not in (0, 1) and stored and sent == 1 and not run.traceback)  # fmt: skip


def s3_store_down(size: Size) -> Row:
    """Ceph, holding the report store too, down: the run fails with one clear line, never a
    traceback."""
    with (tempfile.TemporaryDirectory(prefix="thoth-faults-") as tmp, empty_prometheus() as url,
          smtp_server(Handler()) as smtp):  # fmt: skip
        folder = Path(tmp)
        config = base_config(folder, url, smtp) | {"ceph": _dead_ceph(), "store": "ceph"}
        run = slo_report(folder, config, "--send")
    return Row("slo-report: S3 down (store)", "Ceph refusing, report stored on Ceph, --send",
               run.brief(), run.exit != 0 and len(run.said) == 1 and not run.traceback)  # fmt: skip


def _dead_ceph() -> dict[str, str]:
    return {"endpoint_url": f"http://127.0.0.1:{closed_port()}", "bucket": "thoth",
            "deployment": "ocp4-stage", "access_key_id": "k", "secret_access_key": "s",
            "timeout": "2s"}  # fmt: skip


# --- (3) SMTP refused, 5xx, hanging ----------------------------------------------------------


def smtp_faults(size: Size) -> Row:
    """A failed send: exit 1, one clear line, the report stored, no sent marker (a later run
    sends it), within the configured timeouts."""
    outcomes: list[str] = []
    wrong: list[str] = []
    with tempfile.TemporaryDirectory(prefix="thoth-faults-") as tmp, empty_prometheus() as url:
        kinds = ("refused", "hanging") if size == "short" else SMTP_FAULTS
        for name in kinds:
            folder = Path(tmp) / name.replace(" ", "-")
            folder.mkdir()
            with _smtp_fault(name) as port:
                run = slo_report(folder, base_config(folder, url, port), "--send")
            stored = folder / "slo-reports" / WEEK
            kept = (stored / "report.html").exists() and not (stored / "sent.json").exists()
            outcomes.append(f"{name}: {run.brief()}, report kept: {kept}")
            if run.exit != 1 or run.traceback or len(run.said) != 1 or not kept:
                wrong.append(name)
    return Row("slo-report: SMTP faults", ", ".join(kinds) + " (--send)",
               "; ".join(outcomes), not wrong)  # fmt: skip


SMTP_FAULTS = ("refused", "554 always", "451 then 554", "hanging")


@contextlib.contextmanager
def _smtp_fault(name: str) -> Iterator[int]:
    if name == "refused":
        yield closed_port()
    elif name == "hanging":
        with silent_port() as port:
            yield port
    else:
        refusals = ["554 5.7.1 rejected"] * 5
        if name == "451 then 554":
            refusals.insert(0, "451 4.3.0 try later")
        with smtp_server(Handler(refusals=refusals)) as port:
            yield port


# --- (4) concurrent --send -------------------------------------------------------------------


def concurrent_send(size: Size) -> Row:
    """Several ``--send`` runs of one week started at once: exactly one mail."""
    runs = 3 if size == "short" else 8
    handler = Handler()
    with (tempfile.TemporaryDirectory(prefix="thoth-faults-") as tmp, empty_prometheus() as url,
          smtp_server(handler) as smtp):  # fmt: skip
        folder = Path(tmp)
        path = folder / "report.yaml"
        path.write_text(json.dumps(base_config(folder, url, smtp)))
        command = [COMMAND, "slo-report", "--config", str(path), "--week", WEEK, "--send"]
        processes = [
            subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            for _ in range(runs)
        ]  # fmt: skip
        results = [process.communicate(timeout=180) for process in processes]
    exits = sorted(process.returncode for process in processes)
    tracebacks = sum("Traceback" in err for _, err in results)
    sent = len(handler.received)
    return Row("slo-report: concurrent --send", f"{runs} runs of --send for {WEEK} at once",
               f"mails sent: {sent}; exit statuses {exits}; tracebacks: {tracebacks}",
               sent == 1 and tracebacks == 0 and exits.count(0) >= 1)  # fmt: skip


SCENARIOS = {
    "prometheus-faults": prometheus_faults,
    "s3-down": s3_down,
    "s3-store-down": s3_store_down,
    "smtp-faults": smtp_faults,
    "concurrent-send": concurrent_send,
}
