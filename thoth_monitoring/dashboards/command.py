"""``thoth-monitoring dashboards``: regenerate the Grafana dashboards."""

import argparse
from pathlib import Path
from typing import Any

# The repository's folder, relative to the working one.
DASHBOARD_DIR = Path("thoth_monitoring") / "dashboards"


def register(commands: Any) -> None:
    command = commands.add_parser(
        "dashboards",
        help="regenerate the Grafana dashboards (dashboards/*.json)",
        description="Build the Grafana dashboards from Python (grafana-foundation-sdk); "
        "the SLO dashboard comes from the SLO definitions. Import the JSON files in Grafana "
        "10+ and pick the Prometheus data source for DS_PROMETHEUS.",
    )
    command.add_argument("--output-dir", type=Path, help=f"folder (default: {DASHBOARD_DIR}/)")
    command.set_defaults(handler=_dashboards)


def _dashboards(args: argparse.Namespace) -> int:
    from thoth_monitoring.dashboards.build import write_all

    for path in write_all(args.output_dir or DASHBOARD_DIR):
        print(f"wrote {path}")
    return 0
