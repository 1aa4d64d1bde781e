"""``thoth-monitoring db``: the embedded PostgreSQL, and the synthetic knowledge graph."""

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thoth_monitoring.core.database import DEFAULT_DATA_DIR


def register(commands: Any) -> None:
    db = commands.add_parser(
        "db",
        help="embedded PostgreSQL and synthetic data",
        description="Manage the database.",
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
    from thoth_monitoring.core.database import embedded_url

    print(embedded_url(args.data_dir))
    print(f"data folder: {args.data_dir.absolute()}", file=sys.stderr)
    return 0


def _db_down(args: argparse.Namespace) -> int:
    from thoth_monitoring.core.database import stop_embedded

    stopped = stop_embedded(args.data_dir)
    print("stopped" if stopped else f"no embedded server running in {args.data_dir}")
    return 0


def _db_seed(args: argparse.Namespace) -> int:
    from thoth_monitoring.core.database import connection_parameters, redact, resolve_url
    from thoth_monitoring.exporters.knowledge_graph.seed import SeedError, seed

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
    from thoth_monitoring.core.s3 import S3Settings, make_client
    from thoth_monitoring.exporters.knowledge_graph.documents import (
        adviser_documents,
        upload_adviser_documents,
    )
    from thoth_monitoring.exporters.knowledge_graph.seed import build_dataset

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
