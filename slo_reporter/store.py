"""Where reports are kept: ``<prefix>/slo-reports/<YYYY-Www>/<name>`` on Ceph/S3, or the same
layout under a local folder. The ``sent.json`` marker beside a week's report makes ``--send``
happen once per week."""

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from exporters.ceph import S3Settings, make_client

SENT_MARKER = "sent.json"


class ReportStore(Protocol):
    def put(self, week: str, name: str, data: bytes, content_type: str) -> str:
        """Store one file of a week's report; returns where it went."""
        ...

    def get(self, week: str, name: str) -> bytes | None:
        """A stored file, or None when there is none."""
        ...


class LocalStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, week: str, name: str, data: bytes, content_type: str) -> str:
        target = self.folder / "slo-reports" / week / name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.atomic_write(target, data)
        return str(target)

    @staticmethod
    def atomic_write(target: Path, data: bytes) -> None:
        """A reader never sees half a file, and a failure leaves the old one."""
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)  # as open() would, not mkstemp's 0600
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise

    def get(self, week: str, name: str) -> bytes | None:
        path = self.folder / "slo-reports" / week / name
        return path.read_bytes() if path.exists() else None


class S3Store:
    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.client: Any = make_client(settings)

    def _key(self, week: str, name: str) -> str:
        return f"{self.settings.prefix.strip('/')}/slo-reports/{week}/{name}"

    def put(self, week: str, name: str, data: bytes, content_type: str) -> str:
        key = self._key(week, name)
        self.client.put_object(
            Bucket=self.settings.bucket, Key=key, Body=data, ContentType=content_type
        )
        return f"s3://{self.settings.bucket}/{key}"

    def get(self, week: str, name: str) -> bytes | None:
        try:
            response = self.client.get_object(
                Bucket=self.settings.bucket, Key=self._key(week, name)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        body: bytes = response["Body"].read()
        return body
