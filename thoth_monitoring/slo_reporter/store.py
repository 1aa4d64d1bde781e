"""Where reports are kept: ``<prefix>/slo-reports/<YYYY-Www>/<name>`` on Ceph/S3, or the same
layout under a local folder. The ``sent.json`` marker beside a week's report makes ``--send``
happen once per week; ``sending`` makes the check, the send and the marker one step that a single
run at a time takes, across processes and machines."""

import fcntl
import json
import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from thoth_monitoring.core.s3 import S3Settings, make_client

log = logging.getLogger(__name__)

SENT_MARKER = "sent.json"
SEND_CLAIM = "sending.json"
# Far longer than a send can take (mail attempts x timeouts): a live sender never loses its claim,
# and the claim of one that died frees the week an hour later (or at once with --force).
CLAIM_SECONDS = 3600


class SendInProgress(Exception):
    """Another run is sending this week's report."""


class StoreUnavailable(Exception):
    """The report store could not be read or written (S3 down, a folder not writable)."""


@contextmanager
def _reaching(location: str) -> Iterator[None]:
    """An S3 or file system failure inside becomes one ``StoreUnavailable`` naming the store."""
    try:
        yield
    except (BotoCoreError, ClientError, OSError) as error:
        raise StoreUnavailable(f"report store {location} unavailable: {error}") from None


class ReportStore(Protocol):
    def put(self, week: str, name: str, data: bytes, content_type: str) -> str:
        """Store one file of a week's report; returns where it went."""
        ...

    def get(self, week: str, name: str) -> bytes | None:
        """A stored file, or None when there is none."""
        ...

    def sending(self, week: str, force: bool = False) -> AbstractContextManager[None]:
        """Held by one run at a time from the check of the sent marker to its write; raises
        ``SendInProgress`` when another run holds it."""
        ...


class LocalStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, week: str, name: str, data: bytes, content_type: str) -> str:
        target = self.folder / "slo-reports" / week / name
        with _reaching(str(self.folder)):
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
        with _reaching(str(self.folder)):
            return path.read_bytes() if path.exists() else None

    @contextmanager
    def sending(self, week: str, force: bool = False) -> Iterator[None]:
        """An exclusive ``flock`` on the week's lock file. The kernel drops it when its holder
        dies, so it is never stale and ``force`` has nothing to override."""
        path = self.folder / "slo-reports" / week / ".send.lock"
        with _reaching(str(self.folder)):
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = path.open("a")
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SendInProgress(f"another process holds {path}") from None
            yield  # closing the file releases the lock


class S3Store:
    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.client: Any = make_client(settings)

    def _key(self, week: str, name: str) -> str:
        return f"{self.settings.prefix.strip('/')}/slo-reports/{week}/{name}"

    def put(self, week: str, name: str, data: bytes, content_type: str) -> str:
        key = self._key(week, name)
        with _reaching(self.location):
            self.client.put_object(
                Bucket=self.settings.bucket, Key=key, Body=data, ContentType=content_type
            )
        return f"{self.location}/{key}"

    def get(self, week: str, name: str) -> bytes | None:
        with _reaching(self.location):
            response = self._object(self._key(week, name))
            body: bytes | None = None if response is None else response["Body"].read()
        return body

    @property
    def location(self) -> str:
        return f"s3://{self.settings.bucket}"

    def _object(self, key: str) -> Any:
        """boto3's ``get_object`` answer (``Body``, ``ETag``), or None when there is none."""
        try:
            return self.client.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    @contextmanager
    def sending(self, week: str, force: bool = False) -> Iterator[None]:
        """A claim object written only if there is none (``If-None-Match: *``), so one run wins
        however many race; it names its owner and expires, and a later run takes over an expired
        one by overwriting exactly the version it read (``If-Match``). ``force`` overwrites any
        claim. The claim is deleted when the send is over, whether it succeeded or not."""
        key = self._key(week, SEND_CLAIM)
        with _reaching(self.location):
            etag = self._claim(key, force)
        try:
            yield
        finally:
            self._release(key, etag)

    def _claim(self, key: str, force: bool) -> str:
        owner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=CLAIM_SECONDS)
        claim = json.dumps(
            {"owner": owner, "claimed": now.isoformat(), "expires": expires.isoformat()}
        )
        if force:
            return self._put_claim(key, claim)
        for _ in range(3):  # a claim released between our write and our read: try again
            try:
                return self._put_claim(key, claim, IfNoneMatch="*")
            except ClientError as error:
                if not _lost_race(error):
                    raise
            held = self._object(key)
            if held is None:
                continue
            holder, claimed, until = _read_claim(held["Body"].read())
            if holder == owner:  # our own write, retried by boto3 after a lost answer
                return str(held["ETag"])
            if until > now:
                raise SendInProgress(
                    f"{holder} has been sending since {claimed} (its claim "
                    f"s3://{self.settings.bucket}/{key} expires {until.isoformat()})"
                )
            log.warning(
                "send_claim_expired", extra={"key": key, "holder": holder, "claimed": claimed}
            )
            try:
                return self._put_claim(key, claim, IfMatch=held["ETag"])
            except ClientError as error:
                if not _lost_race(error):
                    raise
                raise SendInProgress(f"another run took over the expired claim {key}") from None
        raise SendInProgress(f"the claim {key} keeps changing hands")

    def _put_claim(self, key: str, claim: str, **condition: str) -> str:
        written = self.client.put_object(Bucket=self.settings.bucket, Key=key,
                                         Body=claim.encode(), ContentType="application/json",
                                         **condition)  # fmt: skip
        return str(written["ETag"])

    def _release(self, key: str, etag: str) -> None:
        """Delete the claim if it is still ours; a failure only delays the next send until the
        claim expires, so it is logged rather than raised over the send's own outcome."""
        try:
            self.client.delete_object(Bucket=self.settings.bucket, Key=key, IfMatch=etag)
        except (ClientError, BotoCoreError) as error:
            log.warning("send_claim_not_released", extra={"key": key, "error": repr(error)})


def _lost_race(error: ClientError) -> bool:
    """The conditional write failed because the object exists or changed (S3 answers 412, or
    409 while a concurrent conditional write is in flight)."""
    code = error.response.get("Error", {}).get("Code")
    return code in ("PreconditionFailed", "ConditionalRequestConflict")


def _read_claim(body: bytes) -> tuple[str, str, datetime]:
    """A claim's owner, claim time and expiry; an unreadable claim has expired."""
    try:
        claim = json.loads(body)
        until = datetime.fromisoformat(claim["expires"])
        return str(claim["owner"]), str(claim["claimed"]), until.replace(tzinfo=until.tzinfo or UTC)
    except (ValueError, TypeError, KeyError):
        return "?", "?", datetime.min.replace(tzinfo=UTC)
