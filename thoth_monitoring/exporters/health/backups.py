"""``pg_dump`` backups on Ceph/S3, named as Thoth's graph-backup-job writes them:
``<prefix>/<deployment>/graph-backup/pg_dump-<%y-%m-%d-%H-%M-%S>``. A name that does not parse
is counted, never fatal."""

import calendar
import logging
from datetime import datetime
from typing import Any

from prometheus_client.metrics_core import Metric

from thoth_monitoring.core.exposition import gauge

log = logging.getLogger(__name__)

FOLDER = "graph-backup"
NAME_PREFIX = "pg_dump-"
NAME_TIME_FORMAT = "%y-%m-%d-%H-%M-%S"


def backup_time(name: str) -> datetime | None:
    """When a backup was taken, from its object name; None when the name does not parse."""
    if not name.startswith(NAME_PREFIX):
        return None
    stamp = name[len(NAME_PREFIX) :].removesuffix(".sql")
    try:
        return datetime.strptime(stamp, NAME_TIME_FORMAT)
    except ValueError:
        return None


def backup_metrics(objects: list[dict[str, Any]], folder: str) -> list[Metric]:
    """Families from an S3 listing of the backup folder (``Key`` and ``Size`` per object)."""
    parsed: list[tuple[datetime, int]] = []
    unparseable = 0
    for item in objects:
        name = item["Key"][len(folder) :]
        when = backup_time(name)
        if when is None:
            unparseable += 1
            log.warning("backup_name_unparseable", extra={"key": item["Key"]})
        else:
            parsed.append((when, int(item["Size"])))
    newest = max(parsed, default=None)
    families: list[Metric] = [
        gauge("thoth_db_backups", "pg_dump backups stored on Ceph whose names parse.", [],
              [((), len(parsed))]),
        gauge("thoth_db_backup_unparseable_names", "Objects in the backup folder whose names "
              "are not pg_dump-<yy-mm-dd-HH-MM-SS>.", [], [((), unparseable)]),
    ]  # fmt: skip
    if newest is not None:
        families += [
            gauge("thoth_db_backup_newest_timestamp_seconds", "Unix time of the newest backup "
                  "(from its name, UTC).", [], [((), calendar.timegm(newest[0].timetuple()))]),
            gauge("thoth_db_backup_newest_size_bytes", "Size of the newest backup.", [],
                  [((), newest[1])]),
        ]  # fmt: skip
    return families
