"""What repo-metrics knows about each repository, and where it keeps it.

Per repository three JSON documents, each with a format version:
``<root>/repo-metrics/<owner>/<repo>/pull_requests.json``, ``issues.json`` and ``state.json``
(where the listings stopped and their ETags). The root is a local folder or a Ceph/S3 prefix.
Every document is replaced whole and atomically (a local file by rename, an S3 object by one
PUT), the records before the state that points past them, so a run killed at any moment leaves
a store the next run resumes from. A document that cannot be read back is reported with its key,
kept beside the store as ``<key>.corrupt``, and its repository collected again from GitHub.

When pods share the store, ``collected.json`` says which pod collected a repository last and
when, and each document's version (a file's inode, time and size; an object's ETag) tells a pod
which documents another pod changed since it read or wrote them, so it reads only those.
"""

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from thoth_monitoring.core.s3 import S3Settings, make_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

FORMAT = 1
FOLDER = "repo-metrics"
DOCUMENTS = ("pull_requests", "issues", "state")
MARKER = "collected"
R = TypeVar("R", "PullRequest", "Issue")


@dataclass
class PullRequest:
    number: int
    title: str
    author: str
    author_is_bot: bool
    labels: list[str]
    state: str
    created_at: str
    updated_at: str
    closed_at: str | None = None
    merged_at: str | None = None
    first_review_at: str | None = None  # the first review by someone else, not a bot
    reviews_checked_at: str | None = None  # updated_at of the version whose reviews were read

    @property
    def reviews_known(self) -> bool:
        """Whether asking for the reviews again could change anything: never once a review is
        known, nor after they were read for this version or once it was closed."""
        return (
            self.first_review_at is not None
            or (self.reviews_checked_at or "") >= self.updated_at
            or (
                self.state == "closed"
                and (self.reviews_checked_at or "") >= (self.closed_at or "~")
            )
        )


@dataclass
class Issue:
    number: int
    title: str
    author: str
    author_is_bot: bool
    state: str
    created_at: str
    updated_at: str
    closed_at: str | None = None
    comments: int = 0
    first_response_at: str | None = None  # first comment by someone else, not a bot
    comments_checked_at: str | None = None

    @property
    def comments_known(self) -> bool:
        return (
            self.first_response_at is not None
            or self.comments == 0
            or (self.comments_checked_at or "") >= self.updated_at
        )


@dataclass
class State:
    """Where the listings stopped (the newest ``updated_at`` processed) and the ETag of each
    listing's first page, which makes the next run's request conditional."""

    issues_mark: str = ""
    issues_etag: str | None = None
    pulls_mark: str = ""
    pulls_etag: str | None = None
    first_seen: str = ""  # when repo-metrics first collected the repository
    gone: int | None = None  # 404 or 451 while the repository is not reachable
    gone_since: str | None = None


@dataclass
class Knowledge:
    """Everything stored about one repository."""

    repository: str
    pull_requests: dict[int, PullRequest] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    state: State = field(default_factory=State)


@dataclass(frozen=True)
class Collected:
    """Which pod collected a repository last, and when (seconds since the epoch)."""

    by: str
    at: float


class StoreUnavailable(Exception):
    """The store could not be read or written (a full disk, S3 down); nothing was lost, the
    repository is collected again next time."""


class Backend(Protocol):
    def read(self, key: str) -> bytes | None: ...

    def write(self, key: str, data: bytes) -> str | None: ...  # the version written

    def set_aside(self, key: str) -> str: ...

    def repositories(self) -> list[str]: ...

    def versions(self, prefix: str) -> dict[str, str]: ...  # key: version, under prefix

    def describe(self) -> str: ...


class KnowledgeStore:
    """Loads and saves ``Knowledge`` through a backend (local folder or S3)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.corrupt: list[str] = []  # keys found unreadable by this process
        self.versions: dict[str, str] = {}  # key: the version this process last read or wrote
        self._collected: dict[str, Collected] = {}

    def current(
        self, repository: str, known: Knowledge | None
    ) -> tuple[Knowledge, Collected | None]:
        """``known``, or the repository's documents read again when another pod changed them
        since this process read or wrote them; and who collected it last. One listing, and
        reads only of what changed."""
        listed = self._listed(f"{FOLDER}/{repository}/")
        if known is None or self._changed(repository, listed):
            known = self._reload(repository, listed)
        marker = _key(repository, MARKER)
        if listed.get(marker) != self.versions.get(marker):
            self.versions.pop(marker, None)
            document = self._document(repository, MARKER)
            if document is None:
                self._collected.pop(repository, None)
            else:
                self._collected[repository] = _record(Collected, document.get(MARKER))
                self.versions[marker] = listed[marker]
        return known, self._collected.get(repository)

    def refresh(self, known: Mapping[str, Knowledge]) -> dict[str, Knowledge]:
        """Every repository of the store that ``known`` lacks or another pod changed, read
        again: one listing of the store, and reads only of what changed."""
        listed = self._listed(f"{FOLDER}/")
        return {
            repository: self._reload(repository, listed)
            for repository in _repositories(listed)
            if repository not in known or self._changed(repository, listed)
        }

    def mark(self, repository: str, collected: Collected) -> None:
        """Record that ``collected.by`` has just collected the repository."""
        self._put(repository, MARKER, {MARKER: asdict(collected)})
        self._collected[repository] = collected

    def load(self, repository: str) -> Knowledge:
        knowledge = Knowledge(repository)
        pulls = self._document(repository, "pull_requests")
        issues = self._document(repository, "issues")
        state = self._document(repository, "state")
        if pulls is not None and issues is not None and state is not None:
            knowledge.pull_requests = _records(PullRequest, pulls.get("pull_requests"))
            knowledge.issues = _records(Issue, issues.get("issues"))
            knowledge.state = _record(State, state.get("state") or {})
        else:  # something was unreadable or absent: keep what was read, list everything again
            if pulls is not None:
                knowledge.pull_requests = _records(PullRequest, pulls.get("pull_requests"))
            if issues is not None:
                knowledge.issues = _records(Issue, issues.get("issues"))
            if state is not None:
                knowledge.state.first_seen = str((state.get("state") or {}).get("first_seen", ""))
        return knowledge

    def save_records(self, knowledge: Knowledge) -> None:
        pulls = {str(n): asdict(r) for n, r in sorted(knowledge.pull_requests.items())}
        issues = {str(n): asdict(r) for n, r in sorted(knowledge.issues.items())}
        self._put(knowledge.repository, "pull_requests", {"pull_requests": pulls})
        self._put(knowledge.repository, "issues", {"issues": issues})

    def save(self, knowledge: Knowledge) -> None:
        """Records first, then the state that points past them."""
        self.save_records(knowledge)
        self._put(knowledge.repository, "state", {"state": asdict(knowledge.state)})

    def repositories(self) -> list[str]:
        with _unavailable(FOLDER):
            return self.backend.repositories()

    def _listed(self, prefix: str) -> dict[str, str]:
        with _unavailable(prefix):
            return self.backend.versions(prefix)

    def _changed(self, repository: str, listed: Mapping[str, str]) -> bool:
        keys = (_key(repository, name) for name in DOCUMENTS)
        return any(listed.get(key) != self.versions.get(key) for key in keys)

    def _reload(self, repository: str, listed: Mapping[str, str]) -> Knowledge:
        """The repository's documents read, remembered as of the listing (a document replaced
        since is read once more next time: harmless)."""
        for name in DOCUMENTS:
            self.versions.pop(_key(repository, name), None)
        corrupt_before = len(self.corrupt)
        knowledge = self.load(repository)
        set_aside = set(self.corrupt[corrupt_before:])
        for name in DOCUMENTS:
            key = _key(repository, name)
            if key in listed and key not in set_aside:
                self.versions[key] = listed[key]
        return knowledge

    def _put(self, repository: str, name: str, content: dict[str, Any]) -> None:
        document = {"format": FORMAT, "repository": repository} | content
        data = json.dumps(document, indent=1, sort_keys=True).encode()
        key = _key(repository, name)
        with _unavailable(key):
            version = self.backend.write(key, data)
        if version is None:
            self.versions.pop(key, None)
        else:
            self.versions[key] = version

    def _document(self, repository: str, name: str) -> dict[str, Any] | None:
        key = _key(repository, name)
        with _unavailable(key):
            raw = self.backend.read(key)
        if raw is None:
            return None
        try:
            document = json.loads(raw)
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
            if document.get("format") != FORMAT:
                raise ValueError(f"format {document.get('format')!r}, expected {FORMAT}")
            if document.get("repository") != repository:
                raise ValueError(f"holds {document.get('repository')!r}")
            _records(PullRequest, document.get("pull_requests"))
            _records(Issue, document.get("issues"))
            _record(State, document.get("state") or {})
            if name == MARKER:
                _record(Collected, document.get(MARKER))
        except (ValueError, TypeError, KeyError) as error:
            with _unavailable(key):
                kept = self.backend.set_aside(key)
            self.corrupt.append(key)
            log.error(
                "store_document_corrupt",
                extra={"key": key, "error": str(error), "kept_as": kept, "action": "recollect"},
            )
            return None
        return document


@contextlib.contextmanager
def _unavailable(key: str) -> Iterator[None]:
    try:
        yield
    except (OSError, BotoCoreError, ClientError) as error:
        raise StoreUnavailable(f"{key}: {error}") from error


def _key(repository: str, name: str) -> str:
    return f"{FOLDER}/{repository}/{name}.json"


def _repositories(keys: Iterable[str]) -> list[str]:
    """The repositories of a listing of store keys: those with a state document."""
    names = []
    for key in keys:
        parts = key.split("/")
        if len(parts) == 4 and parts[0] == FOLDER and parts[3] == "state.json":
            names.append(f"{parts[1]}/{parts[2]}")
    return sorted(names)


def _records(kind: type[R], data: Any) -> dict[int, R]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("records: expected a JSON object")
    return {int(number): _record(kind, record) for number, record in data.items()}


T = TypeVar("T")


def _record(kind: type[T], data: Any) -> T:
    """A dataclass from its stored fields; unknown or missing fields are an error."""
    if not isinstance(data, dict):
        raise ValueError(f"{kind.__name__}: expected a JSON object")
    known = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{kind.__name__}: unknown fields {sorted(unknown)}")
    return kind(**data)


class LocalBackend:
    """A folder: each document written to a temporary file, synced, then renamed over."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> str:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
                written = os.fstat(file.fileno())  # the rename keeps inode, time and size
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return _file_version(written)

    def set_aside(self, key: str) -> str:
        kept = f"{key}.corrupt"
        os.replace(self.root / key, self.root / kept)
        return kept

    def repositories(self) -> list[str]:
        folder = self.root / FOLDER
        return sorted(
            f"{path.parent.parent.name}/{path.parent.name}"
            for path in folder.glob("*/*/state.json")
        )

    def versions(self, prefix: str) -> dict[str, str]:
        found = {}
        for path in (self.root / prefix).rglob("*.json"):
            with contextlib.suppress(FileNotFoundError):  # replaced while listed
                found[path.relative_to(self.root).as_posix()] = _file_version(path.stat())
        return found

    def describe(self) -> str:
        return str(self.root.resolve())


def _file_version(status: os.stat_result) -> str:
    return f"{status.st_ino}-{status.st_mtime_ns}-{status.st_size}"


class S3Backend:
    """A Ceph/S3 prefix (``<prefix>/<deployment>/repo-metrics/…``); a PUT replaces an object
    atomically."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.client: S3Client = make_client(settings)
        self.prefix = settings.folder(FOLDER).removesuffix(f"{FOLDER}/")  # keys name the folder

    def read(self, key: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.settings.bucket, Key=self.prefix + key)
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = answer["Body"].read()
        return body

    def write(self, key: str, data: bytes) -> str:
        answer = self.client.put_object(
            Bucket=self.settings.bucket,
            Key=self.prefix + key,
            Body=data,
            ContentType="application/json",
        )
        return answer["ETag"]

    def set_aside(self, key: str) -> str:
        kept = f"{key}.corrupt"
        bucket = self.settings.bucket
        source = {"Bucket": bucket, "Key": self.prefix + key}
        self.client.copy_object(Bucket=bucket, Key=self.prefix + kept, CopySource=source)  # type: ignore[arg-type]
        self.client.delete_object(Bucket=bucket, Key=self.prefix + key)
        return kept

    def repositories(self) -> list[str]:
        return _repositories(self.versions(f"{FOLDER}/"))

    def versions(self, prefix: str) -> dict[str, str]:
        """Every object under ``prefix`` with its ETag: one request per 1000 objects."""
        from thoth_monitoring.core.s3 import list_pages

        found = {}
        for page in list_pages(self.client, self.settings.bucket, self.prefix + prefix):
            for item in page:
                found[item["Key"][len(self.prefix) :]] = str(item["ETag"])
        return found

    def describe(self) -> str:
        return f"s3://{self.settings.bucket}/{self.prefix}{FOLDER}/"
