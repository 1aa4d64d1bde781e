"""``thoth-monitoring``: the one command-line entry point.

Each component registers its own subcommand (its ``command`` module: options and handler, the
heavy imports inside the handler), so ``--help`` loads no component's dependencies and adding a
component adds one line here. Options come from a command's ``--config`` YAML file or its flags
(see ``core.settings``).
"""

import argparse
import sys
from collections.abc import Callable, Sequence

from thoth_monitoring.alert_receiver import command as alert_receiver
from thoth_monitoring.analytics import command as analytics
from thoth_monitoring.core.config import ConfigError
from thoth_monitoring.dashboards import command as dashboards
from thoth_monitoring.demo import command as demo
from thoth_monitoring.exporters.health import command as graph_exporter
from thoth_monitoring.exporters.knowledge_graph import command as db
from thoth_monitoring.exporters.metrics import command as metrics_exporter
from thoth_monitoring.manifests import command as manifests
from thoth_monitoring.repo_metrics import command as repo_metrics
from thoth_monitoring.slo_reporter import command as slo_report
from thoth_monitoring.superset_bundle import command as superset_bundle

COMPONENTS = (
    db,
    metrics_exporter,
    graph_exporter,
    alert_receiver,
    repo_metrics,
    slo_report,
    analytics,
    dashboards,
    superset_bundle,
    manifests,
    demo,
)

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="thoth-monitoring",
        description="Monitoring and SLO reporting for the Thoth knowledge graph and its services.",
    )
    commands = root.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for component in COMPONENTS:
        component.register(commands)
    return root
