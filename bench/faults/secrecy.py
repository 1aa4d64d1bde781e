"""Secrets set every supported way — webhook and GitHub tokens (value, file, environment), basic
passwords, database passwords (URL and key=value DSN), S3 secret keys, SMTP passwords (value,
file) — each a distinct random string; then every place a secret could surface is searched:
logs, error output, ``/metrics`` and other HTTP answers, the issues written, the stored report
and the mail. The commands run for real and meet failures on the way (a GitHub that answers
garbage, an unreachable S3, a database that refuses), since error paths are where secrets leak."""

import asyncio
import base64
import contextlib
import io
import json
import logging
import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import boto3
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from moto.server import ThreadedMotoServer

from bench.faults import Row, Size
from bench.faults.receiver import GOOD_HEADERS, TOKEN, notification, receiver_stack
from bench.faults.report import COMMAND, WEEK, closed_port, empty_prometheus
from thoth_monitoring.demo.debian_postgres import debian_cluster
from thoth_monitoring.demo.smtp import Handler


@dataclass
class Evidence:
    """Every secret by how it was set, and every text produced, by where it was seen."""

    secrets: dict[str, str] = field(default_factory=dict)
    seen: dict[str, list[str]] = field(default_factory=dict)
    exercised: dict[str, bool] = field(default_factory=dict)  # the secret was really used

    def secret(self, way: str) -> str:
        value = f"s3cr3t{secrets.token_hex(10)}"
        self.secrets[way] = value
        return value

    def add(self, place: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.seen.setdefault(place, []).append(text)

    def hits(self) -> list[str]:
        """``way in place`` for each secret found (also base64-encoded, as in Basic auth)."""
        found = []
        for way, value in self.secrets.items():
            forms = {value, base64.b64encode(f"am:{value}".encode()).decode()}
            for place, texts in self.seen.items():
                if any(form in text for form in forms for text in texts):
                    found.append(f"{way} in {place}")
        return found


def secret_leaks(size: Size) -> Row:
    evidence = Evidence()
    formats = ["keyvalue"] if size == "short" else ["keyvalue", "json"]
    with tempfile.TemporaryDirectory(prefix="thoth-faults-") as tmp:
        folder = Path(tmp)
        asyncio.run(_receiver(evidence, folder))
        with debian_cluster() as server, _moto() as s3:
            for log_format in formats:
                _exporters(evidence, folder, server.port, s3, log_format)
        with empty_prometheus() as prometheus, _moto() as s3, _smtp() as (port, handler):
            for log_format in formats:
                _slo_report(evidence, folder, prometheus, s3, port, log_format)
            evidence.add("mails", "\n".join(r.message.as_string() for r in handler.received))
    hits = evidence.hits()
    unused = [what for what, used in evidence.exercised.items() if not used]
    texts = sum(len(texts) for texts in evidence.seen.values())
    outcome = f"{texts} texts searched in {', '.join(evidence.seen)}: " + (
        f"{len(hits)} hits: {'; '.join(hits)}" if hits else "0 hits"
    )
    if unused:
        outcome += f"; not exercised (the command failed first): {', '.join(unused)}"
    return Row(
        "secrets", f"{len(evidence.secrets)} distinct secrets, one per way of setting one; "
        f"log formats {'/'.join(formats)}", outcome, not hits and not unused,
    )  # fmt: skip


# --- alert-receiver (in this process: its logs are captured) ---------------------------------


async def _receiver(evidence: Evidence, folder: Path) -> None:
    bearer_file = folder / "bearer"
    bearer_file.write_text(evidence.secret("receiver bearer_token_file") + "\n")
    bearer = evidence.secret("receiver bearer_token")
    basic = evidence.secret("receiver basic_password")
    token_file = folder / "github-token"
    token_file.write_text(evidence.secret("receiver github_token_file") + "\n")
    tokens: dict[str, dict[str, str | None]] = {
        "value": {"github_token": evidence.secret("receiver github_token")},
        "file": {"github_token": None, "github_token_file": str(token_file)},
        "environment": {"github_token": None},
    }
    environment = evidence.secret("receiver GITHUB_TOKEN")
    auth = {"bearer_token": bearer, "bearer_token_file": str(bearer_file),
            "basic_password": basic}  # fmt: skip
    with _captured_logs() as logs, _environment(GITHUB_TOKEN=environment):
        for source, token_settings in tokens.items():
            token = token_settings.get("github_token") or (
                token_file.read_text().strip() if source == "file" else environment
            )
            async with receiver_stack(token, **auth, **token_settings) as stack:
                headers = [
                    [(b"Authorization", f"Bearer {bearer}".encode())],
                    [(b"Authorization", b"Bearer " + bearer_file.read_bytes().strip())],
                    [(b"Authorization", b"Basic " + base64.b64encode(f"am:{basic}".encode()))],
                    [(b"Authorization", f"Bearer {bearer}x".encode())],  # refused
                    [(b"Authorization", f"Bearer {TOKEN}".encode())],  # refused
                ]
                payloads = [notification(f"secret-{source}-{n}") for n in range(len(headers))]
                statuses = []
                for payload, header in zip(payloads, headers, strict=True):
                    answer = await stack.post(json.dumps(payload).encode(),
                                              [*header, GOOD_HEADERS[1]])  # fmt: skip
                    evidence.add("receiver answers", answer.body)
                    statuses.append(answer.status)
                stack.github.broken[:] = ["html-200", "json-500"]  # error paths, logged
                for n in range(2):
                    body = json.dumps(notification(f"broken-{source}-{n}")).encode()
                    answer = await stack.post(body, [*headers[0], GOOD_HEADERS[1]])
                    evidence.add("receiver answers", answer.body)
                await stack.settle(payloads[:3])  # filed with the GitHub token: it was used
                evidence.exercised[f"receiver with the GitHub token from its {source}"] = (
                    all(200 <= status < 300 for status in statuses[:3])
                    and statuses[3:] == [401, 401]
                    and all(stack.issues_of(payload) for payload in payloads[:3])
                )
                async with aiohttp.ClientSession() as session:
                    for path in ("/metrics", "/healthz", "/readyz"):
                        async with session.get(stack.url + path) as response:
                            evidence.add("receiver /metrics", await response.read())
                for issues in stack.github.standin.issues.values():
                    evidence.add("issues", json.dumps(issues))
                evidence.add("issues", json.dumps([*stack.github.standin.comments.values()]))
    evidence.add("receiver logs", logs.getvalue())


@contextlib.contextmanager
def _captured_logs() -> Iterator[io.StringIO]:
    """Everything logged (any level, with tracebacks) into a string."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- the exporters and slo-report (the real command, in a subprocess) ------------------------


def _command(evidence: Evidence, name: str, args: list[str], env: dict[str, str]) -> str:
    """Run the command; returns its output."""
    result = subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=180,
                            env=os.environ | env)  # fmt: skip
    evidence.add(f"{name} output", result.stdout)
    evidence.add(f"{name} errors and logs", result.stderr)
    return result.stdout


def _write(folder: Path, name: str, content: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps(content))  # JSON is YAML
    return path


def _exporters(evidence: Evidence, folder: Path, port: int, s3: str, log_format: str) -> None:
    """metrics-exporter with a URL password (through ${VAR}), a key=value DSN password and an
    S3 secret key, against a working and a refusing server; graph-exporter likewise."""
    url_password = evidence.secret(f"metrics-exporter database URL password ({log_format})")
    dsn_password = evidence.secret(f"metrics-exporter key=value DSN password ({log_format})")
    s3_settings = {"endpoint_url": s3, "bucket": "thoth", "deployment": "ocp4-stage",
                   "access_key_id": "fault-key", "timeout": "5s"}  # fmt: skip
    config = _write(folder, "metrics-exporter.yaml", {
        "database_url": "postgresql://postgres:${FAULT_PASSWORD}@127.0.0.1:${FAULT_PORT}/postgres",
        "log_format": log_format, "timeout": "5s",
        "s3": s3_settings | {"secret_access_key": evidence.secret(
            f"metrics-exporter S3 secret key ({log_format})")},
    })  # fmt: skip
    up = "thoth_metrics_exporter_database_up 1.0"
    for database_port in (port, closed_port()):
        env = {"FAULT_PASSWORD": url_password, "FAULT_PORT": str(database_port)}
        output = _command(evidence, "metrics-exporter", ["metrics-exporter", "--config",
                                                         str(config), "--once"], env)  # fmt: skip
        if database_port == port:
            evidence.exercised[f"metrics-exporter, URL ({log_format})"] = up in output
            evidence.exercised[f"metrics-exporter, S3 ({log_format})"] = (
                "thoth_ceph_up 1.0" in output
            )
        dsn = (f"host=127.0.0.1 port={database_port} user=postgres password={dsn_password} "
               "dbname=postgres connect_timeout=5")  # fmt: skip
        arguments = ["metrics-exporter", "--database-url", dsn, "--log-format", log_format]
        output = _command(evidence, "metrics-exporter", [*arguments, "--once"], {})
        if database_port == port:
            evidence.exercised[f"metrics-exporter, DSN ({log_format})"] = up in output
    graph_password = evidence.secret(f"graph-exporter database URL password ({log_format})")
    graph = _write(folder, "graph-exporter.yaml", {
        "databases": [f"postgresql://postgres:{graph_password}@127.0.0.1:{port}/postgres",
                      f"postgresql://postgres:{graph_password}@127.0.0.1:{closed_port()}/x"],
        "log_format": log_format,
        "s3": s3_settings | {"endpoint_url": f"http://127.0.0.1:{closed_port()}",
                             "secret_access_key": evidence.secret(
                                 f"graph-exporter S3 secret key ({log_format})")},
    })  # fmt: skip
    output = _command(evidence, "graph-exporter", ["graph-exporter", "--config", str(graph),
                                                   "--once"], {})  # fmt: skip
    evidence.exercised[f"graph-exporter ({log_format})"] = "thoth_db_size_bytes{" in output


def _slo_report(
    evidence: Evidence, folder: Path, prometheus: str, s3: str, smtp: int, log_format: str
) -> None:
    """slo-report storing on S3 and mailing with a login, with its Prometheus credentials; once
    with the mail password as a value, once from a file; and once with S3 down."""
    bearer_file = folder / "prometheus-token"
    bearer_file.write_text(evidence.secret(f"slo-report Prometheus bearer_token_file "
                                           f"({log_format})"))  # fmt: skip
    password_file = folder / "smtp-password"
    password_file.write_text(evidence.secret(f"slo-report SMTP password_file ({log_format})"))
    ceph = {"endpoint_url": s3, "bucket": "thoth", "deployment": "ocp4-stage",
            "access_key_id": "fault-key", "timeout": "5s", "secret_access_key":
            evidence.secret(f"slo-report S3 secret key ({log_format})")}  # fmt: skip
    mail = {"host": "127.0.0.1", "port": smtp, "security": "none", "username": "am",
            "sender": "slo@example.org", "to": ["sre@example.org"], "timeout": "5s",
            "attempts": 1}  # fmt: skip
    config: dict[str, Any] = {
        "prometheus": {"url": prometheus, "bearer_token_file": str(bearer_file),
                       "basic_username": "am", "retries": 0, "basic_password": evidence.secret(
                           f"slo-report Prometheus basic_password ({log_format})")},
        "ceph": ceph, "store": "ceph", "log_format": log_format,
    }  # fmt: skip
    runs: list[dict[str, Any]] = [
        {"mail": mail | {"password": evidence.secret(f"slo-report SMTP password ({log_format})")}},
        {"mail": mail | {"password_file": str(password_file)}},
        {"mail": mail | {"password_file": str(password_file)},
         "ceph": ceph | {"endpoint_url": f"http://127.0.0.1:{closed_port()}"}},
    ]  # fmt: skip
    for n, changes in enumerate(runs):
        path = _write(folder, f"slo-report-{n}.yaml", config | changes)
        output = _command(evidence, "slo-report", ["slo-report", "--config", str(path), "--week",
                                                   WEEK, "--send", "--force"], {})  # fmt: skip
        if n < 2:  # S3 up: stored there, and mailed after a login
            evidence.exercised[f"slo-report run {n + 1} ({log_format})"] = "(sent)" in output
    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s")  # fmt: skip
    for item in client.list_objects_v2(Bucket="thoth").get("Contents", []):
        evidence.add(
            "stored reports", client.get_object(Bucket="thoth", Key=item["Key"])["Body"].read()
        )


@contextlib.contextmanager
def _moto() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k",
                 aws_secret_access_key="s").create_bucket(Bucket="thoth")  # fmt: skip
    try:
        yield url
    finally:
        server.stop()


@contextlib.contextmanager
def _smtp() -> Iterator[tuple[int, Handler]]:
    """aiosmtpd accepting any login over plain SMTP (the password still crosses the wire)."""
    handler = Handler()
    port = closed_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            authenticator=lambda *args: AuthResult(success=True),
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


SCENARIOS = {"secrets": secret_leaks}
