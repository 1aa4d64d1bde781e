"""``thoth-monitoring superset-bundle``: regenerate the Superset dashboard's import bundle."""

import argparse
from pathlib import Path
from typing import Any

# The committed, unzipped bundle, relative to the working directory (a checkout's root).
BUNDLE_DIR = Path("thoth_monitoring") / "superset_bundle" / "thoth_analytics"


def register(commands: Any) -> None:
    command = commands.add_parser(
        "superset-bundle",
        help="write the Superset dashboard over thoth_analytics as an import bundle",
        description="Write Superset's import bundle for the adviser analytics dashboard: the "
        f"YAML files into {BUNDLE_DIR}/ (committed), or with --output the ZIP that Superset's "
        "Import dashboard dialog and `superset import-dashboards -p` take. The connection has "
        "no password: Superset asks for it on import.",
    )
    command.add_argument("--output", type=Path, metavar="FILE.zip", help="write the ZIP here")
    command.add_argument(
        "--database-uri",
        help="the SQLAlchemy URI of the analytics database, without password "
        "(default: a placeholder to edit after import)",
    )
    command.set_defaults(handler=_superset_bundle)


def _superset_bundle(args: argparse.Namespace) -> int:
    from thoth_monitoring.core.config import ConfigError
    from thoth_monitoring.superset_bundle.bundle import DATABASE_URI, write_folder, write_zip

    uri = args.database_uri or DATABASE_URI
    try:
        paths = [write_zip(args.output, uri)] if args.output else write_folder(BUNDLE_DIR, uri)
    except ValueError as error:
        raise ConfigError("--database-uri", [("", str(error))]) from None
    for path in paths:
        print(f"wrote {path}")
    return 0
