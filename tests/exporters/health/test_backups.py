"""Backups on an S3 server: well-formed and malformed names, newest time and size."""

import calendar
import uuid
from datetime import datetime

import boto3

from tests.support.postgres import samples
from thoth_monitoring.core.s3 import S3Settings, list_pages, make_client
from thoth_monitoring.exporters.health.backups import FOLDER, backup_metrics, backup_time


def test_backup_names_parse_or_are_counted(s3_endpoint: str) -> None:
    bucket = f"backups-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    settings = S3Settings(endpoint_url=s3_endpoint, bucket=bucket, deployment="prod")
    client = make_client(settings)
    folder = settings.folder(FOLDER)
    objects = {
        "pg_dump-26-11-20-01-00-00": b"x" * 10,
        "pg_dump-26-11-24-01-00-00": b"x" * 42,
        "pg_dump-26-11-22-01-00-00": b"x" * 5,
        "pg_dump-yesterday": b"?",
        "notes.txt": b"?",
    }
    for name, body in objects.items():
        client.put_object(Bucket=bucket, Key=folder + name, Body=body)
    listing = [item for page in list_pages(client, bucket, folder) for item in page]
    families = backup_metrics(listing, folder)
    assert samples(families, "thoth_db_backups") == {(): 3}
    assert samples(families, "thoth_db_backup_unparseable_names") == {(): 2}
    assert samples(families, "thoth_db_backup_newest_size_bytes") == {(): 42}
    newest = calendar.timegm(datetime(2026, 11, 24, 1).timetuple())
    assert samples(families, "thoth_db_backup_newest_timestamp_seconds") == {(): newest}


def test_empty_folder_has_no_newest_backup() -> None:
    families = backup_metrics([], "data/prod/graph-backup/")
    assert samples(families, "thoth_db_backups") == {(): 0}
    assert "thoth_db_backup_newest_timestamp_seconds" not in {f.name for f in families}


def test_backup_time_accepts_the_sql_suffix() -> None:
    assert backup_time("pg_dump-21-08-24-00-00-42.sql") == datetime(2021, 8, 24, 0, 0, 42)
    assert backup_time("pg_dump-21-13-24-00-00-42") is None
