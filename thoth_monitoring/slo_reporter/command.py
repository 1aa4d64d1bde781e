"""``thoth-monitoring slo-report``: build, store and send the weekly report; its schedule; the
SLO rule file."""

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thoth_monitoring.core.settings import (
    add_command,
    config_valid,
    configure,
    setting,
    usage_error,
)

DEFAULT_LISTEN = "0.0.0.0:9704"
# Where `slo-report rules` writes by default: the repository's folder, relative to the working one.
RULES_FILE = Path("thoth_monitoring") / "alerts" / "rules" / "slo.yaml"

# A report stored and sent without an optional section: not a failure to retry (1), but
# distinct from a complete report (0) so a wrapper or cron mail can tell.
PARTIAL = 3


def register(commands: Any) -> None:
    command = add_command(
        commands,
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
    setting(command, "--slos", type=Path, help="SLO definitions (default: the packaged slos.yaml)")
    command.add_argument(  # the config file's key is prometheus.url
        "--prometheus-url",
        default=argparse.SUPPRESS,
        help="Prometheus or Thanos URL (default: http://127.0.0.1:9090)",
    )
    setting(
        command, "--store-dir", type=Path, help="local folder holding slo-reports/ (default: .)"
    )
    setting(command, "--grafana-url", help="Grafana base URL for links into the SLO dashboard")
    setting(
        command, "--timezone", help="timezone of week boundaries and the schedule (default: UTC)"
    )
    setting(command, "--schedule", help="cron expression for 'serve' (default: '0 8 * * mon')")
    setting(command, "--listen", help=f"'serve' address for /metrics (default: {DEFAULT_LISTEN})")
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
    from thoth_monitoring.core.service import run_until_stopped
    from thoth_monitoring.slo_reporter.definitions import load_slos
    from thoth_monitoring.slo_reporter.job import (
        ReportSettings,
        SendFailed,
        run_week,
        serve,
        write_html,
    )
    from thoth_monitoring.slo_reporter.report import Week
    from thoth_monitoring.slo_reporter.rules import render
    from thoth_monitoring.slo_reporter.sources import (
        PrometheusError,
        PrometheusSource,
        refused_queries,
    )
    from thoth_monitoring.slo_reporter.store import StoreUnavailable

    settings = configure(ReportSettings, args)
    if "prometheus_url" in args:
        settings.prometheus = settings.prometheus.model_copy(update={"url": args.prometheus_url})
    slos = load_slos(settings.slos)
    if args.check_config:
        try:  # Prometheus parses each SLO's queries when it can be asked
            refused = refused_queries(PrometheusSource(settings.prometheus), slos)
        except PrometheusError as error:
            return config_valid(f"{len(slos)} SLOs; PromQL not checked: {error.message}")
        for query in refused:
            print(f"{settings.slos}: {query}", file=sys.stderr)
        if refused:
            return 2
        return config_valid(f"{len(slos)} SLOs, PromQL checked by {settings.prometheus.url}")
    if args.action == "rules":
        output = args.output or RULES_FILE
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render(slos))
        print(f"wrote {output}: rules for {len(slos)} SLOs")
        return 0
    if args.action == "serve":
        return run_until_stopped(serve(settings))
    if args.send and settings.mail is None:
        return usage_error("slo-report", "--send needs a mail section in --config")
    now = datetime.now(UTC)
    try:
        if args.week is not None:
            weeks = [Week.parse(args.week, settings.timezone)]
        else:
            weeks = [Week.last_full(now, settings.timezone, back) for back in range(args.weeks)]
    except ValueError as error:
        return usage_error("slo-report", str(error))
    weeks.reverse()
    if args.output is not None:
        if args.send or len(weeks) > 1:
            return usage_error("slo-report", "--output renders one week and sends nothing")
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
