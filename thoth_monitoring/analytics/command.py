"""``thoth-monitoring analytics``: its options; the work lives in ``service``."""

import argparse
from pathlib import Path
from typing import Any

from thoth_monitoring.core.settings import (
    add_command,
    config_valid,
    configure,
    setting,
    usage_error,
)

DEFAULT_LISTEN = "0.0.0.0:9708"


def register(commands: Any) -> None:
    command = add_command(
        commands,
        "analytics",
        help="adviser runs from Ceph/S3 into PostgreSQL tables for Superset",
        description="Read the adviser's result documents from Ceph/S3 (the config file's "
        "ceph: section; the same key layout and fields as the SLO report's adviser section) "
        "day by day, and write them to PostgreSQL (--database-url, or the embedded server in "
        "--data-dir) in the schema --schema: adviser_runs (one row per run), adviser_daily "
        "(runs per day, integration, recommendation type and outcome) and ingest_days (the "
        "last key and the counts of each day loaded). Each run loads the --days days ending "
        "today (UTC), oldest first; a day whose keys did not change since its last load is "
        "skipped, any other is replaced whole in one transaction (never half a day, never "
        "twice). A document that cannot be read is counted and logged with its key and "
        "never stops the run. 'analytics --once' runs once and prints the metrics (exit 1 if "
        "the run failed: S3 or the database); 'analytics serve' runs on --schedule and "
        "serves /metrics on --listen.",
    )
    command.add_argument("action", nargs="?", choices=["serve"], help="serve /metrics")
    command.add_argument("--once", action="store_true", help="run once, print the metrics, exit")
    setting(command, "--database-url", help="PostgreSQL to write to (default: the embedded one)")
    setting(command, "--data-dir", type=Path, help="folder of the embedded PostgreSQL")
    setting(
        command,
        "--schema",
        dest="schema_name",
        help="schema of the tables (default: thoth_analytics)",
    )
    setting(
        command,
        "--days",
        type=int,
        help="days loaded per run, ending today (default: 2: yesterday completed, today so far)",
    )
    setting(command, "--schedule", help="cron expression (UTC) for serve (default: '30 0 * * *')")
    setting(command, "--listen", help=f"address to serve on (default: {DEFAULT_LISTEN})")
    command.set_defaults(handler=_analytics)


def _analytics(args: argparse.Namespace) -> int:
    from thoth_monitoring.analytics.service import AnalyticsSettings, run_once, serve
    from thoth_monitoring.core.service import run_until_stopped

    settings = configure(AnalyticsSettings, args)
    if args.check_config:
        return config_valid(settings.describe())
    if args.once:
        return run_once(settings, progress=True)
    if args.action == "serve":
        return run_until_stopped(serve(settings))
    return usage_error("analytics", "say --once or serve (see --help)")
