"""``thoth-monitoring demo``: the whole stack on this machine (needs the ``demo`` extra)."""

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from thoth_monitoring.core.logs import setup_logging


def register(commands: Any) -> None:
    command = commands.add_parser(
        "demo",
        help="run the whole stack on this machine",
        description="Start, on loopback: the embedded PostgreSQL (seeded), an S3 server with "
        "adviser documents and backups, metrics-exporter, graph-exporter, postgres_exporter, "
        "Prometheus with our rules and five weeks of backfilled history, Alertmanager, the "
        "alert receiver writing to a GitHub stand-in that also holds three weeks of "
        "Kebechet's pull requests, repo-metrics collecting them, slo-report serve, and an "
        "SMTP catcher; load the adviser documents into the analytics tables for Superset and "
        "start analytics serve (and Superset with the dashboard, when THOTH_DEMO_SUPERSET names "
        "a superset executable or .test-cache/superset-venv holds one); "
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
    missing = [name for name in ("moto", "aiosmtpd") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"demo: needs the demo extra (missing {', '.join(missing)}): "
              "pip install 'thoth-monitoring[demo]'", file=sys.stderr)  # fmt: skip
        return 1
    from thoth_monitoring.demo.stack import DemoError, DemoOptions, run_demo

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
