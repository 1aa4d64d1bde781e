"""``thoth-monitoring``: the one command-line entry point.

Every option of a service may also come from its ``--config`` YAML file (keys are the option
names with underscores; ``${VAR}`` expands from the environment); flags win over the file.
"""

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exporters.config import ConfigError, load_yaml, validate
from exporters.database import (
    DEFAULT_DATA_DIR,
    connection_parameters,
    embedded_url,
    redact,
    resolve_url,
    stop_embedded,
)
from exporters.logs import setup_logging

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thoth-monitoring",
        description="Monitoring and SLO reporting for the Thoth knowledge graph and its services.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _add_db(commands)
    _add_metrics_exporter(commands)
    _add_graph_exporter(commands)
    _add_alert_receiver(commands)
    _add_slo_report(commands)
    _add_dashboards(commands)
    _add_demo(commands)
    return parser


# --- db --------------------------------------------------------------------------------------


def _add_db(commands: Any) -> None:
    db = commands.add_parser(
        "db", help="embedded PostgreSQL and synthetic data", description="Manage the database."
    )
    actions = db.add_subparsers(title="actions", required=True, metavar="ACTION")
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder of the embedded server (default: {DEFAULT_DATA_DIR})",
    )
    up = actions.add_parser(
        "up",
        parents=[data_dir],
        help="start the embedded PostgreSQL and print its URL",
        description="Start (or reuse) the embedded PostgreSQL from the pgserver wheel. It keeps "
        "running after this command exits; stop it with 'db down'.",
    )
    up.set_defaults(handler=_db_up)
    down = actions.add_parser("down", parents=[data_dir], help="stop the embedded PostgreSQL")
    down.set_defaults(handler=_db_down)
    seed = actions.add_parser(
        "seed",
        parents=[data_dir],
        help="create the schema if missing and load synthetic data",
        description="Create the knowledge-graph tables that are missing, then bulk-load "
        "deterministic synthetic data (the same scale and --anchor give the same rows).",
    )
    seed.add_argument("--database-url", help="target database (default: the embedded server)")
    seed.add_argument(
        "--scale", type=int, default=10_000, help="python_package_version rows (default: 10000)"
    )
    seed.add_argument(
        "--anchor",
        type=datetime.fromisoformat,
        help="time the data ends at, ISO 8601 UTC (default: now, to the minute)",
    )
    seed.add_argument("--reset", action="store_true", help="empty the seeded tables first")
    seed.add_argument("--quiet", action="store_true", help="no progress bar")
    seed.set_defaults(handler=_db_seed)
    documents = actions.add_parser(
        "documents",
        help="write the seeded adviser runs as Thoth adviser documents to S3/Ceph",
        description="Write one adviser result document per adviser_run row that 'db seed' "
        "loads with the same --scale and --anchor, under "
        "<prefix>/<deployment>/adviser/<document id> (the bucket is created if missing).",
    )
    documents.add_argument("--s3-endpoint", required=True, help="S3 endpoint URL")
    documents.add_argument("--bucket", required=True, help="bucket name")
    documents.add_argument("--prefix", default="data", help="key prefix (default: data)")
    documents.add_argument("--deployment", default="ocp4-stage", help="(default: ocp4-stage)")
    documents.add_argument("--scale", type=int, default=10_000, help="as for 'db seed'")
    documents.add_argument(
        "--anchor", type=datetime.fromisoformat, required=True, help="as for 'db seed'"
    )
    documents.add_argument("--quiet", action="store_true", help="no progress bar")
    documents.set_defaults(handler=_db_documents)


def _db_up(args: argparse.Namespace) -> int:
    print(embedded_url(args.data_dir))
    print(f"data folder: {args.data_dir.absolute()}", file=sys.stderr)
    return 0


def _db_down(args: argparse.Namespace) -> int:
    stopped = stop_embedded(args.data_dir)
    print("stopped" if stopped else f"no embedded server running in {args.data_dir}")
    return 0


def _db_seed(args: argparse.Namespace) -> int:
    from exporters.knowledge_graph.seed import SeedError, seed

    if args.database_url:
        try:
            connection_parameters(args.database_url)
        except ValueError as error:
            print(f"db seed: --database-url: {error}", file=sys.stderr)
            return 2
    url = resolve_url(args.database_url, args.data_dir)
    anchor = args.anchor or datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
    try:
        rows = seed(url, args.scale, anchor, reset=args.reset, progress=not args.quiet)
    except SeedError as error:
        print(f"db seed: {error}", file=sys.stderr)
        return 1
    print(
        f"loaded {rows} rows into {redact(url)} "
        f"(scale {args.scale}, anchor {anchor:%Y-%m-%dT%H:%M}Z)"
    )
    return 0


def _db_documents(args: argparse.Namespace) -> int:
    from exporters.ceph import S3Settings, make_client
    from exporters.knowledge_graph.documents import adviser_documents, upload_adviser_documents
    from exporters.knowledge_graph.seed import build_dataset

    settings = S3Settings(endpoint_url=args.s3_endpoint, bucket=args.bucket, prefix=args.prefix,
                          deployment=args.deployment)  # fmt: skip
    client = make_client(settings)
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if settings.bucket not in existing:
        client.create_bucket(Bucket=settings.bucket)
    documents = list(adviser_documents(build_dataset(args.scale, args.anchor), args.deployment))
    folder = settings.folder("adviser")
    written = upload_adviser_documents(client, settings.bucket, folder, documents, not args.quiet)
    print(f"wrote {written} adviser documents to s3://{settings.bucket}/{folder}")
    return 0


# --- metrics-exporter ------------------------------------------------------------------------


def _add_metrics_exporter(commands: Any) -> None:
    from exporters.metrics_exporter import DEFAULT_LISTEN

    command = commands.add_parser(
        "metrics-exporter",
        help="serve knowledge-graph content metrics on /metrics",
        description="Collect the content metrics in the background (per-metric interval, at "
        "most --max-concurrency queries at once, read-only, with statement timeouts) and serve "
        "the latest results from memory. Without --database-url the embedded server is used.",
    )
    _common_options(command)
    option = _option_adder(command)
    option("--listen", help=f"address to serve on (default: {DEFAULT_LISTEN})")
    option("--database-url", help="PostgreSQL URL (default: the embedded server)")
    option("--data-dir", type=Path, help="folder of the embedded server")
    option(
        "--metrics",
        type=Path,
        action="append",
        help="extra metric file (YAML); repeatable; later files override by metric name",
    )
    option(
        "--no-default-metrics",
        dest="include_default_metrics",
        action="store_false",
        help="do not load the Thoth metric set",
    )
    option(
        "--expected-solver",
        dest="expected_solvers",
        action="append",
        help="a solver Thoth should run (solver-<os>-<version>-py<XY>); repeatable; "
        "default: every solver in ecosystem_solver",
    )
    option("--interval", help="default collection interval (default: 60s)")
    option("--timeout", help="default statement timeout (default: 30s)")
    option("--max-concurrency", type=int, help="queries at once (default: 2)")
    option("--probe-interval", help="database probe interval (default: 15s)")
    command.add_argument(
        "--once",
        action="store_true",
        help="collect everything once, print the exposition and exit (1 if anything failed)",
    )
    command.set_defaults(handler=_metrics_exporter)


def _metrics_exporter(args: argparse.Namespace) -> int:
    from exporters.metrics_exporter import MetricsExporterSettings, check_config, run_once, serve

    settings = _settings(MetricsExporterSettings, args)
    setup_logging(settings.log_format, args.log_level)
    if args.check_config:
        return asyncio.run(check_config(settings))
    if args.once:
        return asyncio.run(run_once(settings))
    return _run_until_interrupted(serve(settings))


# --- graph-exporter --------------------------------------------------------------------------


def _add_graph_exporter(commands: Any) -> None:
    from exporters.graph_exporter import DEFAULT_LISTEN

    command = commands.add_parser(
        "graph-exporter",
        help="database health: bloat, sizes, vacuum, wraparound, amcheck, backups",
        description="Run the health tasks (tables every 5 min, bloat hourly, amcheck daily, "
        "backups every 15 min; all configurable in the config file) for every --database-url, "
        "read-only and under statement and lock timeouts. Serve them on --listen, push them "
        "once to a Pushgateway (--push), or print them once (--once).",
    )
    _common_options(command)
    option = _option_adder(command)
    option("--listen", help=f"address to serve on (default: {DEFAULT_LISTEN})")
    option(
        "--database-url",
        dest="databases",
        action="append",
        help="a database to watch; repeatable (default: the embedded server)",
    )
    option("--data-dir", type=Path, help="folder of the embedded server")
    option("--push", help="Pushgateway URL: run every task once, push, exit (1 if any failed)")
    command.add_argument(
        "--once", action="store_true", help="run every task once, print the exposition, exit"
    )
    command.set_defaults(handler=_graph_exporter)


def _graph_exporter(args: argparse.Namespace) -> int:
    from exporters.graph_exporter import GraphExporterSettings, run_once, serve

    settings = _settings(GraphExporterSettings, args)
    setup_logging(settings.log_format, args.log_level)
    if args.check_config:
        watched = len(settings.databases) or "the embedded"
        print(f"configuration is valid: {watched} database(s)")
        return 0
    if args.once or settings.push is not None:
        return asyncio.run(run_once(settings))
    return _run_until_interrupted(serve(settings))


# --- alert-receiver --------------------------------------------------------------------------


def _add_alert_receiver(commands: Any) -> None:
    command = commands.add_parser(
        "alert-receiver",
        help="Alertmanager webhook → one GitHub issue per alert group",
        description="Serve Alertmanager's webhook on --listen (POST /alerts) and keep exactly one "
        "GitHub issue per alert group: create, update, reopen, comment and close. Without "
        "webhook credentials it serves on a loopback address only (auth_disabled), elsewhere "
        "only with --allow-unauthenticated. With 'render PAYLOAD.json', print the issue a "
        "payload would become and exit.",
    )
    command.add_argument("action", nargs="?", choices=["render"], help="render a payload file")
    command.add_argument("payload", nargs="?", type=Path, help="Alertmanager payload (JSON)")
    _common_options(command)
    option = _option_adder(command)
    option("--listen", help="address to serve on (default: 0.0.0.0:9703)")
    option("--default-repo", help="owner/name for alerts without a usable repo label")
    option("--github-url", help="GitHub API URL (GitHub Enterprise: https://HOST/api/v3)")
    option("--github-token-file", type=Path, help="file holding the token (else $GITHUB_TOKEN)")
    option("--bearer-token-file", type=Path, help="token Alertmanager must send (Bearer)")
    option(
        "--allow-unauthenticated",
        action="store_true",
        help="with no webhook credentials configured (bearer token or basic auth), accept "
        "webhooks without them on any address; otherwise the receiver refuses to start on a "
        "non-loopback --listen address (auth_disabled: true allows loopback only)",
    )
    option("--template-dir", type=Path, help="folder with title.txt.j2 and body.md.j2")
    option("--data-dir", type=Path, help="folder of the pending-notification state")
    option("--dry-run", action="store_true", help="log GitHub calls instead of making them")
    command.set_defaults(handler=_alert_receiver)


def _alert_receiver(args: argparse.Namespace) -> int:
    from alerts.receiver import ReceiverSettings, render_file, serve

    if args.action == "render":
        if args.payload is None:
            print("alert-receiver render: give the payload file", file=sys.stderr)
            return 2
        print(render_file(args.payload, getattr(args, "template_dir", None)))
        return 0
    settings = _settings(ReceiverSettings, args)
    setup_logging(settings.log_format, args.log_level)
    if args.check_config:
        settings.github_token_value()
        print(f"configuration is valid: issues go to {settings.default_repo} by default")
        return 0
    return _run_until_interrupted(serve(settings))


# --- slo-report --------------------------------------------------------------------------------

# A report stored and sent without an optional section: not a failure to retry (1), but
# distinct from a complete report (0) so a wrapper or cron mail can tell.
PARTIAL = 3


def _add_slo_report(commands: Any) -> None:
    from slo_reporter.job import DEFAULT_LISTEN
    from slo_reporter.rules import RULES_FILE

    command = commands.add_parser(
        "slo-report",
        help="the weekly SLO report (build, store, e-mail; serve on a schedule) and SLO rules",
        description="Without an action: build the report of one week (default: the last full "
        "week in --timezone) from Prometheus and Ceph, store it (HTML, text, CSV, JSON) under "
        "<store>/slo-reports/<YYYY-Www>/ and, with --send, e-mail it once (a sent marker "
        "stops a second send unless --force). --output FILE.html only renders the report to a "
        "file. 'serve' builds and sends on --schedule and serves /metrics. 'rules' writes the "
        "burn-rate rules generated from the SLO definitions. Exit status: 0 complete, 1 failed "
        "(a send after its retries, or the report could not be built), 2 usage or configuration "
        "error, 3 partial (stored and sent, but an optional section such as the Ceph adviser "
        "runs was unavailable; the report says why).",
    )
    command.add_argument("action", nargs="?", choices=["serve", "rules"], help="what to do")
    _common_options(command)
    option = _option_adder(command)
    option("--slos", type=Path, help="SLO definitions (default: slo_reporter/slos.yaml)")
    option("--prometheus-url", help="Prometheus or Thanos URL (default: http://127.0.0.1:9090)")
    option("--store-dir", type=Path, help="local folder holding slo-reports/ (default: .)")
    option("--grafana-url", help="Grafana base URL for links into the SLO dashboard")
    option("--timezone", help="timezone of week boundaries and the schedule (default: UTC)")
    option("--schedule", help="cron expression for 'serve' (default: '0 8 * * mon')")
    option("--listen", help=f"'serve' address for /metrics (default: {DEFAULT_LISTEN})")
    command.add_argument("--week", help="ISO week to report, e.g. 2026-W47")
    command.add_argument(
        "--weeks", type=int, default=1, help="build the last N full weeks, oldest first"
    )
    command.add_argument(
        "--output",
        type=Path,
        help=f"report: the HTML file to write (nothing stored or sent); rules: the rule file "
        f"(default: {RULES_FILE})",
    )
    command.add_argument("--send", action="store_true", help="e-mail the report (once a week)")
    command.add_argument("--force", action="store_true", help="send even if already sent")
    command.set_defaults(handler=_slo_report)


def _slo_report(args: argparse.Namespace) -> int:
    from slo_reporter.definitions import load_slos
    from slo_reporter.job import ReportSettings, SendFailed, run_week, serve, write_html
    from slo_reporter.report import Week
    from slo_reporter.rules import RULES_FILE, render
    from slo_reporter.sources import PrometheusError, PrometheusSource, refused_queries
    from slo_reporter.store import StoreUnavailable

    settings = _settings(ReportSettings, args)
    if "prometheus_url" in args:
        settings.prometheus = settings.prometheus.model_copy(update={"url": args.prometheus_url})
    setup_logging(settings.log_format, args.log_level)
    slos = load_slos(settings.slos)
    if args.check_config:
        try:  # Prometheus parses each SLO's queries when it can be asked
            refused = refused_queries(PrometheusSource(settings.prometheus), slos)
        except PrometheusError as error:
            print(f"configuration is valid: {len(slos)} SLOs; PromQL not checked: {error.message}")
            return 0
        for query in refused:
            print(f"{settings.slos}: {query}", file=sys.stderr)
        if refused:
            return 2
        print(
            f"configuration is valid: {len(slos)} SLOs, PromQL checked by {settings.prometheus.url}"
        )
        return 0
    if args.action == "rules":
        output = args.output or RULES_FILE
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render(slos))
        print(f"wrote {output}: rules for {len(slos)} SLOs")
        return 0
    if args.action == "serve":
        return _run_until_interrupted(serve(settings))
    if args.send and settings.mail is None:
        print("slo-report: --send needs a mail section in --config", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    try:
        if args.week is not None:
            weeks = [Week.parse(args.week, settings.timezone)]
        else:
            weeks = [Week.last_full(now, settings.timezone, back) for back in range(args.weeks)]
    except ValueError as error:
        print(f"slo-report: {error}", file=sys.stderr)
        return 2
    weeks.reverse()
    if args.output is not None:
        if args.send or len(weeks) > 1:
            print("slo-report: --output renders one week and sends nothing", file=sys.stderr)
            return 2
        try:
            report = write_html(settings, weeks[0], args.output)
        except PrometheusError as error:
            return _prometheus_failed(error)
        print(f"wrote {args.output}: week {weeks[0].label}, {report.queries} Prometheus queries")
        return PARTIAL if report.partial else 0
    from tqdm import tqdm

    failed = partial = 0
    for week in tqdm(weeks, desc="weeks", unit="week", disable=len(weeks) < 2):
        try:
            outcome = run_week(settings, week, args.send, args.force)
        except SendFailed as error:
            print(f"slo-report {week.label}: {error}", file=sys.stderr)
            failed += 1
            continue
        except PrometheusError as error:  # the next weeks would fail the same way
            return _prometheus_failed(error)
        except StoreUnavailable as error:  # so would they here
            print(f"slo-report {week.label}: {error}", file=sys.stderr)
            return 1
        partial += outcome.partial
        tqdm.write(f"{week.label}: stored {outcome.stored[0]} ({outcome.mail})")
    return 1 if failed else PARTIAL if partial else 0


def _prometheus_failed(error: Exception) -> int:
    """One line saying which SLO, which query and what Prometheus said; exit status 1."""
    print(f"slo-report: {error}", file=sys.stderr)
    return 1


# --- dashboards ------------------------------------------------------------------------------


def _add_dashboards(commands: Any) -> None:
    command = commands.add_parser(
        "dashboards",
        help="regenerate the Grafana dashboards (dashboards/*.json)",
        description="Build the four Grafana dashboards from Python (grafana-foundation-sdk); "
        "the SLO dashboard comes from the SLO definitions. Import the JSON files in Grafana "
        "10+ and pick the Prometheus data source for DS_PROMETHEUS.",
    )
    command.add_argument("--output-dir", type=Path, help="folder (default: dashboards/)")
    command.set_defaults(handler=_dashboards)


def _dashboards(args: argparse.Namespace) -> int:
    from dashboards.build import DASHBOARD_DIR, write_all

    for path in write_all(args.output_dir or DASHBOARD_DIR):
        print(f"wrote {path}")
    return 0


# --- demo ------------------------------------------------------------------------------------


def _add_demo(commands: Any) -> None:
    command = commands.add_parser(
        "demo",
        help="run the whole stack on this machine",
        description="Start, on loopback: the embedded PostgreSQL (seeded), an S3 server with "
        "adviser documents and backups, metrics-exporter, graph-exporter, postgres_exporter, "
        "Prometheus with our rules and five weeks of backfilled history, Alertmanager, the "
        "alert receiver writing to a GitHub stand-in, slo-report serve, and an SMTP catcher; "
        "render and mail the weekly SLO report; stop the graph-exporter after --fault-after "
        "seconds so that a real alert becomes an issue. Ctrl-C stops everything.",
    )
    command.add_argument("--out", type=Path, default=Path("demo-out"), help="(default: demo-out)")
    command.add_argument("--scale", type=int, default=5000, help="seed scale (default: 5000)")
    command.add_argument("--scrape-interval", default="5s", help="(default: 5s)")
    command.add_argument(
        "--alert-for", default="30s", help="cut every rule's for: to at most this (default: 30s)"
    )
    command.add_argument(
        "--fault-after", type=float, default=10.0, help="seconds until the fault (default: 10)"
    )
    command.add_argument(
        "--random-ports", action="store_true", help="free ports instead of the usual ones"
    )
    command.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from exporters.demo.stack import DemoError, DemoOptions, run_demo

    setup_logging()
    options = DemoOptions(
        out=args.out, scale=args.scale, scrape_interval=args.scrape_interval,
        alert_for=args.alert_for, fault_after=args.fault_after, random_ports=args.random_ports,
    )  # fmt: skip
    try:
        return run_demo(options)
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1


# --- shared option plumbing ------------------------------------------------------------------


def _common_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", type=Path, help="YAML file with any of the options below")
    command.add_argument(
        "--check-config", action="store_true", help="validate the configuration and exit"
    )
    command.add_argument(
        "--log-format", choices=["keyvalue", "json"], default=argparse.SUPPRESS, help="log style"
    )
    command.add_argument("--log-level", default="INFO", help="log level (default: INFO)")


def _run_until_interrupted(service: Coroutine[Any, Any, None]) -> int:
    """Run a service until Ctrl-C, which is a clean stop (exit 0)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(service)
    return 0


def _option_adder(command: argparse.ArgumentParser) -> Callable[..., Any]:
    """``add_argument`` whose options stay absent unless given, so the config file shows through."""

    def add(*flags: str, **kwargs: Any) -> Any:
        return command.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)

    return add


_NOT_SETTINGS = {"config", "check_config", "log_level", "once", "handler", "action", "payload",
                 "week", "weeks", "output", "send", "force", "prometheus_url"}  # fmt: skip


def _settings(model: Any, args: argparse.Namespace) -> Any:
    """Config file values overlaid with the flags given; validated with located errors."""
    data: dict[str, Any] = {}
    source = "command line"
    if args.config is not None:
        loaded = load_yaml(args.config)
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(str(args.config), [("", "expected a mapping of option: value")])
        data.update(loaded or {})
        source = str(args.config)
    data.update({k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS})
    return validate(model, data, source)
