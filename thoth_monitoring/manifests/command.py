"""``thoth-monitoring manifests``: regenerate (or check) deploy/base/generated/."""

import argparse
import sys
from pathlib import Path
from typing import Any

# The repository's folder, relative to the working one.
OUTPUT_DIR = Path("deploy") / "base" / "generated"


def register(commands: Any) -> None:
    command = commands.add_parser(
        "manifests",
        help="regenerate the PrometheusRule and Grafana dashboard ConfigMap manifests",
        description="Write one PrometheusRule per alerts/rules/*.yaml file and one ConfigMap "
        "per dashboards/*.json file (labelled for Grafana's dashboard sidecar), plus their "
        "kustomization.yaml, into --output. With --check, write nothing: list the files that "
        "are missing, stale or left over and exit 1 if there are any.",
    )
    command.add_argument("--output", type=Path, help=f"folder (default: {OUTPUT_DIR}/)")
    command.add_argument(
        "--check", action="store_true", help="exit 1 if regenerating would change the folder"
    )
    command.set_defaults(handler=_manifests)


def _manifests(args: argparse.Namespace) -> int:
    from thoth_monitoring.manifests.build import stale_files, write_all

    output: Path = args.output or OUTPUT_DIR
    if args.check:
        stale = stale_files(output)
        for name in stale:
            print(f"{output / name} is stale: run `thoth-monitoring manifests`", file=sys.stderr)
        if not stale:
            print(f"{output}: up to date")
        return 1 if stale else 0
    try:
        written = write_all(output)
    except OSError as error:
        print(f"manifests: cannot write {error.filename or output}: {error.strerror}",
              file=sys.stderr)  # fmt: skip
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0
