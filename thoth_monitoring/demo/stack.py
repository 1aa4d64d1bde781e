"""``thoth-monitoring demo``: the whole stack on loopback, from one command.

Embedded PostgreSQL (seeded) · an S3 server (moto) with adviser documents and backups · a
Kafka-compatible broker (Tansu) with Thoth's topics, a producer and two consumer groups, one of
which halts on a topic · metrics-exporter, graph-exporter, postgres_exporter · Prometheus with our
rules (``for:`` shortened), preloaded with five weeks of service history · Alertmanager →
alert-receiver → a GitHub stand-in with a page of issues and three weeks of Kebechet's pull
requests in the repositories of its active installations · repo-metrics collecting them ·
slo-report serve · the weekly report rendered to ``<out>/report.html`` and mailed to an SMTP
catcher (``<out>/mail/*.eml``). A scripted fault (graph-exporter stopped) and the halted consumer
group make real alerts become issues. Ctrl-C stops everything started.
"""

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import boto3
import psycopg
import yaml
from aiohttp import web
from confluent_kafka import KafkaException

from thoth_monitoring.core.config import parse_duration
from thoth_monitoring.core.database import (
    Limits,
    embedded_url,
    psycopg_url,
    redact,
    stop_embedded,
)
from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.demo.github_standin import GitHubStandIn
from thoth_monitoring.demo.history import write_history
from thoth_monitoring.demo.kafka import TansuBroker
from thoth_monitoring.demo.kebechet_history import lay_out
from thoth_monitoring.demo.pipeline import HALTED_GROUP, HALTED_TOPIC, Pipeline
from thoth_monitoring.demo.processes import (
    backfill,
    free_port,
    prometheus_command,
    stop,
    wait_for_http,
)
from thoth_monitoring.demo.superset import (
    ADMIN,
    DASHBOARD,
    ENV_VAR,
    TEST_VENV,
    find_superset,
    import_bundle,
    login,
    set_up,
)
from thoth_monitoring.exporters.knowledge_graph.documents import (
    adviser_documents,
    upload_adviser_documents,
)
from thoth_monitoring.exporters.knowledge_graph.seed import build_dataset, seed
from thoth_monitoring.repo_metrics.repositories import installations

DEFAULT_PORTS = {"prometheus": 9090, "alertmanager": 9093, "postgres-exporter": 9187,
                 "metrics-exporter": 9701, "graph-exporter": 9702, "alert-receiver": 9703,
                 "slo-report": 9704, "github": 9705, "s3": 9706, "repo-metrics": 9707,
                 "analytics": 9708, "superset": 8088, "smtp": 2525, "kafka": 9092}  # fmt: skip
BINARIES = ("prometheus", "promtool", "prometheus-alertmanager", "prometheus-postgres-exporter")
REPO = "thoth-station/thoth-application"
BUCKET, DEPLOYMENT = "thoth", "demo"
GITHUB_TOKEN = "demo-token"


class DemoError(Exception):
    """Something the user must fix before the demo can run (a missing binary, a busy port)."""


@dataclass(frozen=True)
class DemoOptions:
    out: Path = Path("demo-out")
    scale: int = 5000
    scrape_interval: str = "5s"
    alert_for: str = "30s"  # every rule's `for:` is cut to at most this
    fault_after: float = 10.0
    random_ports: bool = False


@dataclass
class Stack:
    """What the demo started, in order, so that it can stop all of it."""

    options: DemoOptions
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)  # processes, stopped
    stopped: bool = False
    github: GitHubStandIn = field(default_factory=lambda: GitHubStandIn(token=GITHUB_TOKEN))
    started: float = field(default_factory=time.monotonic)
    anchor: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
    )  # the seeded data ends here

    def url(self, name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def step(self, message: str) -> None:
        # one write per line: the backfill thread reports too
        sys.stdout.write(f"[{time.monotonic() - self.started:5.1f}s] {message}\n")
        sys.stdout.flush()

    def launch(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.options.out / "logs" / f"{name}.log").open("ab")
        self.cleanups.append(log.close)
        environment = {**os.environ, **(env or {})}
        self.processes[name] = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=environment
        )

    def adopt(self, name: str, start: Callable[[], subprocess.Popen[bytes]]) -> bool:
        """Start a process from another thread unless everything is being stopped."""
        with self.lock:
            if not self.stopped:
                self.processes[name] = start()
            return not self.stopped

    def stop_all(self) -> None:
        with self.lock:
            self.stopped = True
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                stop(process)
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                cleanup()


def run_demo(options: DemoOptions) -> int:
    """Bring the stack up, print where everything is, run the fault, wait for Ctrl-C, then stop
    everything."""
    # Prometheus and Alertmanager resolve relative paths against their config file's folder
    options = replace(options, out=options.out.absolute())
    binaries = {name: _binary(name) for name in BINARIES}
    ports = {name: free_port() for name in DEFAULT_PORTS} if options.random_ports else DEFAULT_PORTS
    _check_ports_free(ports)
    stack = Stack(options, dict(ports))
    _fresh_output(options.out)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (&)
        signal.signal(signum, _interrupt)
    # the S3 and SMTP servers log every request, the analytics load every day
    for noisy in ("werkzeug", "mail.log", "thoth_monitoring.analytics"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        backfill = _Backfill(stack, binaries["promtool"])
        backfill.start()
        url = _database(stack)
        s3, first_day = _object_store(stack)
        days = _analytics(stack, url, s3, first_day)
        superset = _Superset(stack, url)
        superset.start()
        _kafka(stack)
        _services(stack, url, s3, binaries, days)
        backfill.join()
        if backfill.error is not None:
            raise backfill.error
        groups = _prometheus(stack, binaries)
        _wait_ready(stack)
        _check_rules_loaded(stack.url("prometheus"), options.out / "prometheus.yml", groups)
        _report(stack, s3)
        _launch_slo_report(stack)
        _kebechet_in_prometheus(stack)
        _kafka_lag_in_prometheus(stack)
        superset.join()
        _print_table(stack, url, superset.url)
        _fault_and_wait(stack)
    except KeyboardInterrupt:
        pass
    finally:
        stack.step("stopping ...")
        stack.stop_all()
        stop_embedded(options.out / "postgres")
        left = [name for name, port in stack.ports.items() if _port_open(port)]
        print("stopped everything; " + (f"ports still open: {left}" if left else "no ports left"))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise DemoError(f"{name} is missing: run `make system-deps` (or .ci/system-deps) first")
    return found


def _check_ports_free(ports: dict[str, int]) -> None:
    busy = [f"{port} ({name})" for name, port in ports.items() if _port_open(port)]
    if busy:
        raise DemoError(
            f"ports in use: {', '.join(busy)}; stop what holds them or use --random-ports"
        )


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _fresh_output(out: Path) -> None:
    """Clear the previous run's output, keeping the database folder (its server starts faster)
    and Superset's (set up once)."""
    out.mkdir(parents=True, exist_ok=True)
    for child in out.iterdir():
        if child.name not in ("postgres", "superset"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for folder in ("logs", "mail", "rules"):
        (out / folder).mkdir()


def _database(stack: Stack) -> str:
    stack.step("starting the embedded PostgreSQL and seeding it ...")
    url = embedded_url(stack.options.out / "postgres")
    rows = seed(url, stack.options.scale, stack.anchor, reset=True, progress=False)
    with psycopg.connect(psycopg_url(url), autocommit=True, connect_timeout=10) as connection:
        connection.execute("VACUUM")  # so that the vacuum-age panels have something to show
    stack.step(f"PostgreSQL ready: {rows} rows at scale {stack.options.scale}")
    return url


def _object_store(stack: Stack) -> tuple[S3Settings, date]:
    """The S3 server with the adviser documents and backups; returns its settings and the day
    of the oldest document."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise DemoError("the demo needs its extras: pip install 'thoth-monitoring[demo]'") from None

    stack.step("starting the S3 server and writing adviser documents and backups ...")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=stack.ports["s3"], verbose=False)
    server.start()
    stack.cleanups.append(server.stop)
    s3 = S3Settings(endpoint_url=stack.url("s3"), bucket=BUCKET, deployment=DEPLOYMENT)
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name=s3.region)
    client.create_bucket(Bucket=BUCKET)
    data = build_dataset(stack.options.scale, stack.anchor)
    documents = list(adviser_documents(data, DEPLOYMENT))
    upload_adviser_documents(client, BUCKET, s3.folder("adviser"), documents, progress=False)
    now = datetime.now(UTC)
    for days in range(7):
        stamp = (now - timedelta(days=days, hours=2)).strftime("%y-%m-%d-%H-%M-%S")
        client.put_object(Bucket=BUCKET, Key=f"{s3.folder('graph-backup')}pg_dump-{stamp}",
                          Body=b"-- pg_dump\n" * 1000)  # fmt: skip
    return s3, date.fromisoformat(min(doc["metadata"]["datetime"] for doc in documents)[:10])


ANALYTICS_SUMMARY = ("SELECT integration, count(*) FROM thoth_analytics.adviser_runs "
                     "GROUP BY 1 ORDER BY 2 DESC, 1")  # fmt: skip


def _analytics(stack: Stack, url: str, s3: S3Settings, first_day: date) -> int:
    """Load the adviser documents into the analytics tables once (in this process: no start-up
    to wait for), every day from the oldest document's to today; returns the days, for the
    ``analytics serve`` started with the services."""
    from thoth_monitoring.analytics.service import AnalyticsMetrics, AnalyticsSettings, run

    today = datetime.now(UTC).date()
    days = (today - first_day).days + 1
    settings = AnalyticsSettings.model_validate({
        "ceph": s3.model_dump(mode="json"), "database_url": url, "days": days,
    })  # fmt: skip
    metrics = AnalyticsMetrics()
    if not run(settings, settings.store(), metrics, today):
        raise DemoError("analytics could not load the adviser documents (see the log above)")
    rows = metrics.registry.get_sample_value("thoth_analytics_rows_written_total")
    with psycopg.connect(psycopg_url(url), connect_timeout=10) as connection:
        summary = connection.execute(ANALYTICS_SUMMARY).fetchall()
    stack.step(f"analytics: {rows:g} adviser runs of {days} days written to schema "
               f"{settings.schema_name} (adviser_runs, adviser_daily, ingest_days); "
               f"SQL: {psycopg_url(url)}")  # fmt: skip
    per_integration = ", ".join(f"{integration}={count}" for integration, count in summary)
    stack.step(f"analytics: runs per integration: {per_integration}  [{ANALYTICS_SUMMARY}]")
    return days


class _Superset(threading.Thread):
    """Superset, when one is installed here, set up (once, in ``<out>/superset``, kept between
    runs like the database folder), started and given the dashboard, while the rest of
    the stack starts; ``url`` is its dashboard's address once done."""

    def __init__(self, stack: Stack, database_url: str) -> None:
        super().__init__(daemon=True)
        self.stack, self.database_url = stack, database_url
        self.url: str | None = None

    def run(self) -> None:
        try:
            command = find_superset(Path.cwd())
        except ValueError as error:
            self.stack.step(f"Superset: not started: {error}")
            return
        if command is None:
            self.stack.step(f"Superset: not installed; for the adviser dashboard set {ENV_VAR} "
                            "to a superset executable, or run the demo in a checkout where "
                            f"tests/e2e/test_superset.py installed {TEST_VENV}")  # fmt: skip
            return
        home, port = self.stack.options.out / "superset", self.stack.ports["superset"]
        log = self.stack.options.out / "logs" / "superset.log"
        self.stack.step(f"Superset: starting {command} (its first set-up takes a minute) ...")
        try:
            installation = set_up(command, home)
            if not self.stack.adopt("superset", lambda: installation.start(port, log)):
                return
            base = self.stack.url("superset")
            wait_for_http(f"{base}/health", 180, self.stack.processes["superset"])
            import_bundle(login(base), base, self.database_url, home / "thoth-analytics.zip")
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            self.stack.step(f"Superset: failed ({error}); see {log}")
            return
        self.url = base + DASHBOARD
        self.stack.step(f"Superset: {self.url} (login {' / '.join(ADMIN)})")


def _kafka(stack: Stack) -> None:
    """Tansu, Thoth's topics and the pipeline's clients; the halted group stops committing
    after a few messages, before Prometheus' first scrape, so that its committed offset never
    changes in Prometheus and ThothKafkaConsumerGroupHalted needs no shortened window."""
    stack.step("starting the Kafka broker (Tansu), Thoth's topics, a producer and two consumer "
               "groups ...")  # fmt: skip
    broker = TansuBroker(stack.ports["kafka"])
    try:
        broker.start()
    except RuntimeError as error:
        raise DemoError(f"the Kafka broker did not start: {error}") from None
    stack.cleanups.append(broker.stop)
    pipeline = Pipeline(broker.bootstrap)
    try:
        pipeline.start()
    except KafkaException as error:
        raise DemoError(f"could not create the demo's Kafka topics: {error}") from None
    stack.cleanups.append(pipeline.stop)
    if not pipeline.halted.wait(30):
        raise DemoError(f"consumer group {HALTED_GROUP} read nothing of {HALTED_TOPIC} in 30 s: "
                        f"{'; '.join(pipeline.errors) or 'no error reported'}")  # fmt: skip
    stack.step(f"Kafka: consumer group {HALTED_GROUP} has stopped committing on {HALTED_TOPIC}; "
               "its lag grows while the producer goes on")  # fmt: skip


def _services(
    stack: Stack, url: str, s3: S3Settings, binaries: dict[str, str], analytics_days: int
) -> None:
    stack.step("starting the exporters, the alert receiver, Alertmanager, the GitHub stand-in "
               "and repo-metrics")  # fmt: skip
    out, command = stack.options.out, _command()
    s3_config = s3.model_dump(mode="json", exclude_none=True)
    configs = {
        "metrics-exporter": {"listen": f"127.0.0.1:{stack.ports['metrics-exporter']}",
                             "database_url": url, "interval": "30s", "probe_interval": "5s",
                             "s3": s3_config | {"refresh_interval": "15s"},
                             "kafka": {"bootstrap_servers": [f"127.0.0.1:{stack.ports['kafka']}"],
                                       "interval": "5s", "timeout": "4s"}},
        "graph-exporter": {"listen": f"127.0.0.1:{stack.ports['graph-exporter']}",
                           "databases": [url], "s3": s3_config},
        "alert-receiver": {"listen": f"127.0.0.1:{stack.ports['alert-receiver']}",
                           "default_repo": REPO, "github_url": stack.url("github"),
                           "bearer_token_file": str(out / "webhook-token"), "write_spacing": 0.2,
                           "data_dir": str(out / "alert-receiver")},
        "repo-metrics": {"listen": f"127.0.0.1:{stack.ports['repo-metrics']}",
                         "github_url": stack.url("github"), "database_url": url,
                         "store": str(out / "repo-metrics-store"), "interval": "60s"},
        "analytics": {"listen": f"127.0.0.1:{stack.ports['analytics']}", "database_url": url,
                      "ceph": s3_config, "days": analytics_days},
    }  # fmt: skip
    actions = {"repo-metrics": ["serve"], "analytics": ["serve"]}
    (out / "webhook-token").write_text("demo-webhook-secret\n")
    queries = out / "postgres-exporter-queries.yaml"  # the binary needs a real file
    queries.write_text(
        (files("thoth_monitoring.exporters") / "postgres" / "queries.yaml").read_text()
    )
    _kebechet_history(stack, url)
    _serve_in_thread(stack, stack.github.app(), stack.ports["github"])
    _smtp_catcher(stack)
    for name, config in configs.items():
        path = out / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        stack.launch(name, [*command, name, *actions.get(name, []), "--config", str(path)],
                     {"GITHUB_TOKEN": GITHUB_TOKEN})  # fmt: skip
    stack.launch(
        "postgres-exporter",
        [binaries["prometheus-postgres-exporter"],
         f"--web.listen-address=127.0.0.1:{stack.ports['postgres-exporter']}",
         f"--extend.query-path={queries}"],
        {"DATA_SOURCE_NAME": url},
    )  # fmt: skip
    alertmanager = alertmanager_config(
        stack.url("alert-receiver", "/alerts"), out / "webhook-token", out / "alertmanager.yml",
        {"group_wait": "5s", "group_interval": "30s"},
    )  # fmt: skip
    stack.launch(
        "alertmanager",
        [binaries["prometheus-alertmanager"], f"--config.file={alertmanager}",
         f"--storage.path={out / 'alertmanager'}", "--cluster.listen-address=",
         f"--web.listen-address=127.0.0.1:{stack.ports['alertmanager']}"],
    )  # fmt: skip


def _kebechet_history(stack: Stack, url: str) -> None:
    """Kebechet's history in the repositories of its active installations in the knowledge
    graph, where repo-metrics finds them; the last one is left out, so that repo-metrics
    shows how it treats a repository GitHub answers 404 for ("gone")."""
    limits = Limits(statement_timeout=10, lock_timeout=5)
    rows = asyncio.run(asyncio.wait_for(installations(url, limits), 30))
    active = sorted(row.slug for row in rows if row.active)
    lay_out(stack.github, active[:-1], datetime.now(UTC))
    served = {repo: records for repo, records in stack.github.issues.items() if repo in active}
    pulls = sum("pull_request" in record for records in served.values() for record in records)
    stack.step(f"GitHub stand-in: {pulls} Kebechet pull requests and "
               f"{sum(map(len, served.values())) - pulls} issues in {len(served)} of the "
               f"{len(active)} repositories with an active Kebechet installation")  # fmt: skip


def _command() -> list[str]:
    script = Path(sys.executable).with_name("thoth-monitoring")
    return [str(script)] if script.exists() else [sys.executable, "-m", "thoth_monitoring"]


def _serve_in_thread(stack: Stack, app: web.Application, port: int) -> None:
    """An aiohttp app on its own event loop in a daemon thread (the demo itself blocks)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def shutdown() -> None:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)

    stack.cleanups.append(shutdown)


def _smtp_catcher(stack: Stack) -> None:
    from aiosmtpd.controller import Controller

    folder = stack.options.out / "mail"

    class Catcher:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            number = len(list(folder.glob("*.eml"))) + 1
            (folder / f"{number:03d}.eml").write_bytes(envelope.content)
            return "250 OK"

    controller = Controller(Catcher(), hostname="127.0.0.1", port=stack.ports["smtp"])
    controller.start()
    stack.cleanups.append(controller.stop)


def alertmanager_config(
    receiver_url: str, token_file: Path, destination: Path, timers: dict[str, str]
) -> Path:
    """Our Alertmanager configuration sending to ``receiver_url``, with shorter ``timers``
    (group_wait, group_interval, ...) so that notifications come while someone watches."""
    config = yaml.safe_load((files("thoth_monitoring.alerts") / "alertmanager.yml").read_text())
    config["route"] |= timers
    webhook = config["receivers"][0]["webhook_configs"][0]
    webhook["url"] = receiver_url
    webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    destination.write_text(yaml.safe_dump(config))
    return destination


class _Backfill(threading.Thread):
    """Five weeks of history written and turned into Prometheus blocks while the rest starts."""

    def __init__(self, stack: Stack, promtool: str) -> None:
        super().__init__(daemon=True)
        self.stack, self.promtool = stack, promtool
        self.error: Exception | None = None

    def run(self) -> None:
        out = self.stack.options.out
        self.stack.step("writing five weeks of service history and backfilling Prometheus ...")
        history = out / "history.om"
        end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
        instance = f"127.0.0.1:{self.stack.ports['metrics-exporter']}"
        try:
            samples = write_history(history, end, instance)
            backfill(self.promtool, history, out / "prometheus", timeout=300)
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            self.error = DemoError(f"backfilling Prometheus failed: {error}")
            return
        finally:
            history.unlink(missing_ok=True)
        self.stack.step(f"backfilled {samples} samples")


def _prometheus(stack: Stack, binaries: dict[str, str]) -> int:
    """Write Prometheus' configuration and rules and start it; returns the rule groups written."""
    out = stack.options.out
    rules = [shortened_rules(path, out / "rules", stack.options.alert_for)
             for path in rule_files()]  # fmt: skip
    jobs = {"thoth-metrics-exporter": "metrics-exporter", "thoth-graph-exporter": "graph-exporter",
            "postgres-exporter": "postgres-exporter", "thoth-alert-receiver": "alert-receiver",
            "thoth-slo-report": "slo-report", "prometheus": "prometheus",
            "alertmanager": "alertmanager", "repo-metrics": "repo-metrics",
            "analytics": "analytics"}  # fmt: skip
    config = {
        "global": {"scrape_interval": stack.options.scrape_interval,
                   "evaluation_interval": stack.options.scrape_interval},
        "rule_files": [str(path) for path in rules],
        "alerting": {"alertmanagers": [
            {"static_configs": [{"targets": [f"127.0.0.1:{stack.ports['alertmanager']}"]}]}]},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{stack.ports[name]}"]}]}
            for job, name in jobs.items()
        ],
    }  # fmt: skip
    (out / "prometheus.yml").write_text(yaml.safe_dump(config))
    command = prometheus_command(
        binaries["prometheus"],
        out / "prometheus.yml",
        out / "prometheus",
        stack.ports["prometheus"],
    )
    stack.launch("prometheus", command)
    return sum(len(yaml.safe_load(path.read_text())["groups"]) for path in rules)


def rule_files() -> list[Traversable]:
    """Our alert and recording rule files, as shipped in the ``alerts`` package."""
    folder = files("thoth_monitoring.alerts") / "rules"
    return sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)


def _check_rules_loaded(prometheus_url: str, config: Path, expected: int) -> None:
    """Prometheus skips a ``rule_files`` pattern that matches nothing without a word; a demo
    without its rules would look healthy and never alert, so count the groups it loaded."""
    try:
        with urllib.request.urlopen(f"{prometheus_url}/api/v1/rules", timeout=10) as answer:
            loaded = len(json.load(answer)["data"]["groups"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DemoError(f"could not read Prometheus' rules: {error!r}") from None
    if loaded != expected:
        raise DemoError(
            f"Prometheus loaded {loaded} rule groups but {expected} were written; "
            f"check rule_files in {config}"
        )


def shortened_rules(path: Traversable, folder: Path, cap: str) -> Path:
    """A rule file with every `for:` cut to at most ``cap``, so alerts fire while someone
    watches."""
    limit = parse_duration(cap)

    def cut(match: re.Match[str]) -> str:
        return match.group(1) + (cap if parse_duration(match.group(2)) > limit else match.group(2))

    target = folder / path.name
    target.write_text(re.sub(r"(?m)^(\s+for: )(\S+)$", cut, path.read_text()))
    return target


READY = {"prometheus": "/-/ready", "alertmanager": "/-/ready", "metrics-exporter": "/healthz",
         "graph-exporter": "/healthz", "alert-receiver": "/readyz", "postgres-exporter": "/metrics",
         "github": "/", "repo-metrics": "/readyz", "analytics": "/healthz"}  # fmt: skip


def _wait_ready(stack: Stack) -> None:
    stack.step("waiting for every service to answer ...")
    for name, path in READY.items():
        process = stack.processes.get(name)
        try:
            wait_for_http(stack.url(name, path), 60, process)
        except Exception as error:
            log = stack.options.out / "logs" / f"{name}.log"
            raise DemoError(f"{name} did not start ({error}); see {log}") from None


def _report(stack: Stack, s3: S3Settings) -> None:
    from thoth_monitoring.slo_reporter.job import ReportSettings, run_week
    from thoth_monitoring.slo_reporter.report import Week

    stack.step("building the weekly SLO report ...")
    out = stack.options.out
    settings = ReportSettings.model_validate({
        "prometheus": {"url": stack.url("prometheus")},
        "ceph": s3.model_dump(mode="json"), "store_dir": str(out),
        "mail": {"host": "127.0.0.1", "port": stack.ports["smtp"], "security": "none",
                 "sender": "slo-report@thoth.example", "to": ["sre@thoth.example"],
                 "cc": ["stakeholders@thoth.example"]},
        "kebechet": {"store": str(out / "repo-metrics-store")},  # repo-metrics' knowledge
    })  # fmt: skip
    week = Week.last_full(datetime.now(UTC))
    outcome = run_week(settings, week, send_mail=True)
    shutil.copyfile(outcome.stored[0], out / "report.html")
    stack.step(f"report for {week.label} written and mailed: {outcome.summary}")


KEBECHET_QUERIES = (
    ("Kebechet pull requests by manager", "sum by (manager) (thoth_kebechet_pull_requests)"),
    ("Kebechet pull requests by state", "sum by (state) (thoth_kebechet_pull_requests)"),
    ("repo-metrics collections by outcome",
     "sum by (outcome) (thoth_repo_metrics_repository_collections_total)"),
    ("repo-metrics GitHub requests by status (304: unchanged, free)",
     "sum by (status) (thoth_repo_metrics_github_requests_total)"),
)  # fmt: skip


def _kebechet_in_prometheus(stack: Stack) -> None:
    """What a dashboard shows of repo-metrics, read back from Prometheus once it has scraped
    the first collection."""
    deadline = time.monotonic() + 30
    while not _promql(stack, 'up{job="repo-metrics"} == 1'):
        if time.monotonic() > deadline:
            raise DemoError("Prometheus has not scraped repo-metrics within 30 s; see "
                            f"{stack.options.out / 'logs' / 'repo-metrics.log'}")  # fmt: skip
        time.sleep(0.5)
    for title, expr in KEBECHET_QUERIES:
        values = ", ".join(
            f"{'/'.join(sample['metric'].values()) or 'all'}={float(sample['value'][1]):g}"
            for sample in sorted(_promql(stack, expr), key=lambda s: sorted(s["metric"].items()))
        )
        stack.step(f"Prometheus: {title}: {values or 'none'}  [{expr}]")


IN_FLIGHT = 2  # messages a group that keeps up may be behind when the broker is read
LAG_QUERY = "sum by (consumergroup, topic) (thoth_kafka_consumergroup_topic_lag)"


def _kafka_lag_in_prometheus(stack: Stack) -> None:
    """Consumer lag per group and topic as Prometheus has it (printed again while the demo
    runs, so that the halted group's lag is seen growing)."""
    deadline = time.monotonic() + 30
    while not _promql(stack, LAG_QUERY):
        if time.monotonic() > deadline:
            raise DemoError("Prometheus has no Kafka lag within 30 s; see "
                            f"{stack.options.out / 'logs' / 'metrics-exporter.log'}")  # fmt: skip
        time.sleep(0.5)
    lags = sorted((s["metric"]["consumergroup"], s["metric"]["topic"], float(s["value"][1]))
                  for s in _promql(stack, LAG_QUERY))  # fmt: skip
    behind = [f"{group}/{topic}={lag:g}" for group, topic, lag in lags if lag > IN_FLIGHT]
    stack.step(f"Prometheus: Kafka lag: {', '.join(behind) or 'none'} behind; the other "
               f"{len(lags) - len(behind)} group/topic pairs at most {IN_FLIGHT}  "
               f"[{LAG_QUERY}]")  # fmt: skip


def _promql(stack: Stack, expr: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(stack.url("prometheus", f"/api/v1/query?{query}"),
                                    timeout=10) as answer:  # fmt: skip
            result: list[dict[str, Any]] = json.load(answer)["data"]["result"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DemoError(f"Prometheus could not answer {expr}: {error!r}") from None
    return result


def _launch_slo_report(stack: Stack) -> None:
    """After the first report is stored, so that it starts knowing the week is done."""
    out = stack.options.out
    path = out / "slo-report.yaml"
    path.write_text(yaml.safe_dump({"listen": f"127.0.0.1:{stack.ports['slo-report']}",
                                    "prometheus": {"url": stack.url("prometheus")},
                                    "store_dir": str(out)}))  # fmt: skip
    stack.launch("slo-report", [*_command(), "slo-report", "serve", "--config", str(path)])
    wait_for_http(stack.url("slo-report", "/healthz"), 60, stack.processes["slo-report"])


def _print_table(stack: Stack, url: str, superset: str | None) -> None:
    out = stack.options.out.absolute()
    rows = [
        ("Prometheus", stack.url("prometheus", "/classic/alerts")),
        ("Alertmanager", stack.url("alertmanager")),
        ("GitHub stand-in (issues)", stack.url("github")),
        ("metrics-exporter", stack.url("metrics-exporter", "/metrics")),
        ("graph-exporter", stack.url("graph-exporter", "/metrics")),
        ("postgres_exporter", stack.url("postgres-exporter", "/metrics")),
        ("alert-receiver", stack.url("alert-receiver", "/metrics")),
        ("slo-report serve", stack.url("slo-report", "/metrics")),
        ("repo-metrics (Kebechet)", stack.url("repo-metrics", "/metrics")),
        ("analytics", stack.url("analytics", "/metrics")),
        *([(f"Superset ({' / '.join(ADMIN)})", superset)] if superset else []),
        ("S3 (moto)", stack.url("s3", f"/{BUCKET}")),
        ("Kafka broker (Tansu)", f"127.0.0.1:{stack.ports['kafka']} (Kafka protocol)"),
        ("SMTP catcher", f"smtp://127.0.0.1:{stack.ports['smtp']} → {out / 'mail'}"),
        ("SLO report", f"file://{out / 'report.html'}"),
        ("PostgreSQL", redact(url)),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n" + "\n".join(f"  {name:<{width}}  {where}" for name, where in rows))
    print(f"\nLogs: {out / 'logs'}. Alert `for:` durations are cut to {stack.options.alert_for}. "
          "Ctrl-C stops everything.\n", flush=True)  # fmt: skip
    (stack.options.out / "urls.json").write_text(json.dumps(dict(rows), indent=2))


LAG_EVERY = 30.0  # seconds between the lag lines


def _fault_and_wait(stack: Stack) -> None:
    """The scripted fault: stop the graph-exporter; once ThothGraphExporterDown has become an
    issue, start it again so that the alert resolves and the issue is closed. Report every
    issue change (the halted consumer group's ThothKafkaConsumerGroupHalted among them) and,
    every ``LAG_EVERY`` seconds, the Kafka lag until Ctrl-C."""
    fault_at = time.monotonic() + stack.options.fault_after
    restart = [str(arg) for arg in stack.processes["graph-exporter"].args]  # type: ignore[union-attr]
    phase = "before"
    seen: dict[int, tuple[str, str]] = {}
    lag_at = time.monotonic() + LAG_EVERY
    while True:
        if time.monotonic() >= lag_at:
            _kafka_lag_in_prometheus(stack)
            lag_at += LAG_EVERY
        if phase == "before" and time.monotonic() >= fault_at:
            stop(stack.processes["graph-exporter"])
            phase = "down"
            stack.step("scripted fault: graph-exporter stopped; ThothGraphExporterDown will "
                       f"fire after {stack.options.alert_for} and open an issue")  # fmt: skip
        for issue in _issues(stack):
            state = (issue["state"], issue["title"])
            if seen.get(issue["number"]) != state:
                seen[issue["number"]] = state
                stack.step(f"GitHub stand-in: issue #{issue['number']} {issue['state']}: "
                           f"{issue['title']}")  # fmt: skip
                if phase == "down" and "ThothGraphExporterDown" in issue["title"]:
                    stack.launch("graph-exporter", restart)
                    phase = "restarted"
                    stack.step("graph-exporter started again; the alert resolves and the "
                               "receiver closes the issue")  # fmt: skip
        time.sleep(1)


def _issues(stack: Stack) -> list[dict[str, Any]]:
    """The issues the alert receiver filed (not Kebechet's history)."""
    login = stack.github.token_user
    records = [record for records in list(stack.github.issues.values()) for record in records]
    return [record for record in records if record["user"]["login"] == login]
