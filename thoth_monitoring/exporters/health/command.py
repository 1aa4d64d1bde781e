"""``thoth-monitoring graph-exporter``: its options; the service lives in ``service``."""

import argparse
import asyncio
from pathlib import Path
from typing import Any

from thoth_monitoring.core.settings import add_command, config_valid, configure, setting

DEFAULT_LISTEN = "0.0.0.0:9702"


def register(commands: Any) -> None:
    command = add_command(
        commands,
        "graph-exporter",
        help="database health: bloat, sizes, vacuum, wraparound, amcheck, backups",
        description="Run the health tasks (tables every 5 min, bloat hourly, amcheck daily, "
        "backups every 15 min; all configurable in the config file) for every --database-url, "
        "read-only and under statement and lock timeouts. Serve them on --listen, push them "
        "once to a Pushgateway (--push), or print them once (--once).",
    )
    setting(command, "--listen", help=f"address to serve on (default: {DEFAULT_LISTEN})")
    setting(
        command,
        "--database-url",
        dest="databases",
        action="append",
        help="a database to watch; repeatable (default: the embedded server)",
    )
    setting(command, "--data-dir", type=Path, help="folder of the embedded server")
    setting(
        command, "--push", help="Pushgateway URL: run every task once, push, exit (1 if any failed)"
    )
    command.add_argument(
        "--once", action="store_true", help="run every task once, print the exposition, exit"
    )
    command.set_defaults(handler=_graph_exporter)


def _graph_exporter(args: argparse.Namespace) -> int:
    from thoth_monitoring.core.service import run_until_stopped
    from thoth_monitoring.exporters.health.service import GraphExporterSettings, run_once, serve

    settings = configure(GraphExporterSettings, args)
    if args.check_config:
        watched = len(settings.databases) or "the embedded"
        return config_valid(f"{watched} database(s)")
    if args.once or settings.push is not None:
        return asyncio.run(run_once(settings))
    return run_until_stopped(serve(settings))
