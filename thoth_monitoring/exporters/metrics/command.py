"""``thoth-monitoring metrics-exporter``: its options; the service lives in ``service``."""

import argparse
import asyncio
from pathlib import Path
from typing import Any

from thoth_monitoring.core.settings import add_command, configure, setting

DEFAULT_LISTEN = "0.0.0.0:9701"


def register(commands: Any) -> None:
    command = add_command(
        commands,
        "metrics-exporter",
        help="serve knowledge-graph content metrics on /metrics",
        description="Collect the content metrics in the background (per-metric interval, at "
        "most --max-concurrency queries at once, read-only, with statement timeouts) and serve "
        "the latest results from memory. Without --database-url the embedded server is used.",
    )
    setting(command, "--listen", help=f"address to serve on (default: {DEFAULT_LISTEN})")
    setting(command, "--database-url", help="PostgreSQL URL (default: the embedded server)")
    setting(command, "--data-dir", type=Path, help="folder of the embedded server")
    setting(
        command,
        "--metrics",
        type=Path,
        action="append",
        help="extra metric file (YAML); repeatable; later files override by metric name",
    )
    setting(
        command,
        "--no-default-metrics",
        dest="include_default_metrics",
        action="store_false",
        help="do not load the Thoth metric set",
    )
    setting(
        command,
        "--expected-solver",
        dest="expected_solvers",
        action="append",
        help="a solver Thoth should run (solver-<os>-<version>-py<XY>); repeatable; "
        "default: every solver in ecosystem_solver",
    )
    setting(command, "--interval", help="default collection interval (default: 60s)")
    setting(command, "--timeout", help="default statement timeout (default: 30s)")
    setting(command, "--max-concurrency", type=int, help="queries at once (default: 2)")
    setting(command, "--probe-interval", help="database probe interval (default: 15s)")
    command.add_argument(
        "--once",
        action="store_true",
        help="collect everything once, print the exposition and exit (1 if anything failed)",
    )
    command.set_defaults(handler=_metrics_exporter)


def _metrics_exporter(args: argparse.Namespace) -> int:
    from thoth_monitoring.core.service import run_until_stopped
    from thoth_monitoring.exporters.metrics.service import (
        MetricsExporterSettings,
        check_config,
        run_once,
        serve,
    )

    settings = configure(MetricsExporterSettings, args)
    if args.check_config:
        return asyncio.run(check_config(settings))
    if args.once:
        return asyncio.run(run_once(settings))
    return run_until_stopped(serve(settings))
