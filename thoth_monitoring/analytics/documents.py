"""The one reader of Thoth's adviser result documents on Ceph/S3, for the report's adviser
section and for ``analytics``.

Documents live at ``<prefix>/<deployment>/adviser/adviser-<YYMMDDhhmmss>-<hex>``; the id embeds
the creation time, so a time range is one key range, listed with ``StartAfter`` and read until
the first key past the range (``.request`` objects beside them are skipped). Fields read (those
Thoth's graph sync reads; ``exporters/knowledge_graph/documents.py`` writes them):

- required: ``metadata.document_id`` (equal to the object's name), ``metadata.datetime``,
  ``result.error`` (a boolean), ``result.parameters.recommendation_type``;
- optional: ``metadata.arguments["thoth-adviser"].metadata.source_type`` (the integration,
  ``unknown`` without one), ``result.error_msg``, ``metadata.duration`` (seconds), and
  ``result.parameters.project.runtime_environment``: ``operating_system.name`` / ``.version``
  and ``python_version``.

A document that is not JSON, lacks a required field or has a field of the wrong type is
*unreadable*: reported with its key and the reason, never guessed.
"""

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from thoth_monitoring.core.s3 import S3Settings, list_pages, make_client

_DOCUMENT = re.compile(r"^adviser-\d{12}-[0-9a-zA-Z]+$")


@dataclass(frozen=True)
class AdviserRun:
    """One adviser run, as its result document tells it."""

    document_id: str
    created_at: datetime  # UTC
    integration: str
    recommendation_type: str  # upper case, as the knowledge graph spells it
    error: bool
    error_message: str | None  # "(no message)" for an error without one; None on success
    duration_seconds: float | None
    os_name: str | None
    os_version: str | None
    python_version: str | None


@dataclass(frozen=True)
class Unreadable:
    key: str
    reason: str


@dataclass(frozen=True)
class AdviserDocuments:
    """The runs of a key range in key order, the documents that could not be read, and the
    last key listed (None for an empty range)."""

    runs: tuple[AdviserRun, ...]
    unreadable: tuple[Unreadable, ...]
    last_key: str | None


class DocumentError(ValueError):
    """Why one document cannot be read: the field and what was expected."""


def read_adviser_documents(
    settings: S3Settings, start: datetime, end: datetime, workers: int = 8
) -> AdviserDocuments:
    """Documents created in [start, end) (times in UTC), by their keys."""
    client = make_client(settings)
    return read_keys(client, settings, adviser_keys(client, settings, start, end), workers)


def adviser_keys(client: Any, settings: S3Settings, start: datetime, end: datetime) -> list[str]:
    """The keys of the documents created in [start, end), in order."""
    folder = settings.folder("adviser")
    first, stop = (folder + f"adviser-{when.astimezone(UTC):%y%m%d%H%M%S}" for when in (start, end))
    keys: list[str] = []
    for page in list_pages(client, settings.bucket, folder + "adviser-", first):
        names = [item["Key"] for item in page]
        keys.extend(key for key in names if key < stop and _DOCUMENT.match(key[len(folder) :]))
        if names and names[-1] >= stop:
            break
    return keys


def read_keys(
    client: Any, settings: S3Settings, keys: list[str], workers: int = 8
) -> AdviserDocuments:
    """The documents at ``keys`` (from ``adviser_keys``), read ``workers`` at a time."""
    folder = settings.folder("adviser")

    def read(key: str) -> AdviserRun | Unreadable:
        body = client.get_object(Bucket=settings.bucket, Key=key)["Body"].read()
        try:
            return parse_document(body, key[len(folder) :])
        except DocumentError as error:
            return Unreadable(key, str(error))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(read, keys))
    return AdviserDocuments(
        runs=tuple(result for result in results if isinstance(result, AdviserRun)),
        unreadable=tuple(result for result in results if isinstance(result, Unreadable)),
        last_key=keys[-1] if keys else None,
    )


def parse_document(body: bytes, name: str) -> AdviserRun:
    """The run of one document stored under ``name``; DocumentError says what is wrong."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DocumentError("not JSON") from None
    if not isinstance(document, dict):
        raise DocumentError(f"expected a JSON object, got {type(document).__name__}")
    metadata = _field(document, "", "metadata", dict)
    result = _field(document, "", "result", dict)
    document_id = _field(metadata, "metadata.", "document_id", str)
    if document_id != name:
        raise DocumentError(f"metadata.document_id {document_id!r} is not the object's name")
    stamp = _field(metadata, "metadata.", "datetime", str)
    try:
        created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise DocumentError(f"metadata.datetime: expected ISO 8601, got {stamp!r}") from None
    error = _field(result, "result.", "error", bool)
    parameters = _field(result, "result.", "parameters", dict)
    adviser = _optional(_optional(metadata, "metadata.", "arguments", dict) or {},
                        "metadata.arguments.", "thoth-adviser", dict) or {}  # fmt: skip
    where = 'metadata.arguments["thoth-adviser"].'
    request = _optional(adviser, where, "metadata", dict) or {}
    integration = _optional(request, where + "metadata.", "source_type", str)
    project = _optional(parameters, "result.parameters.", "project", dict) or {}
    where = "result.parameters.project."
    environment = _optional(project, where, "runtime_environment", dict) or {}
    where += "runtime_environment."
    system = _optional(environment, where, "operating_system", dict) or {}
    duration = _optional(metadata, "metadata.", "duration", (int, float))
    return AdviserRun(
        document_id=document_id,
        created_at=(created if created.tzinfo else created.replace(tzinfo=UTC)).astimezone(UTC),
        integration=integration or "unknown",
        recommendation_type=_field(
            parameters, "result.parameters.", "recommendation_type", str
        ).upper(),
        error=error,
        error_message=(_optional(result, "result.", "error_msg", str) or "(no message)")
        if error
        else None,
        duration_seconds=None if duration is None or isinstance(duration, bool) else duration,
        os_name=_version(system, where + "operating_system.", "name"),
        os_version=_version(system, where + "operating_system.", "version"),
        python_version=_version(environment, where, "python_version"),
    )


def _field(mapping: dict[str, Any], where: str, name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in mapping or mapping[name] is None:
        raise DocumentError(f"{where}{name}: missing")
    return _typed(mapping, where, name, kind)


def _optional(mapping: dict[str, Any], where: str, name: str, kind: type | tuple[type, ...]) -> Any:
    return None if mapping.get(name) is None else _typed(mapping, where, name, kind)


def _typed(mapping: dict[str, Any], where: str, name: str, kind: type | tuple[type, ...]) -> Any:
    value = mapping[name]
    wrong_bool = isinstance(value, bool) and kind is not bool
    if not isinstance(value, kind) or wrong_bool:
        expected = _KINDS.get(kind, "a number")
        raise DocumentError(f"{where}{name}: expected {expected}, got {type(value).__name__}")
    return value


def _version(mapping: dict[str, Any], where: str, name: str) -> str | None:
    """A name or version: a string, or a number as written (``8``, ``3.8``)."""
    value = _optional(mapping, where, name, (str, int, float))
    return None if value is None else str(value)


_KINDS: dict[type | tuple[type, ...], str] = {
    dict: "an object",
    str: "a string",
    bool: "a boolean",
    (str, int, float): "a string or number",
}

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBERS = re.compile(r"\d+")


def error_class(message: str) -> str:
    """A short class grouping error messages that differ only in names or numbers: the text
    before the first ``:`` (an exception-like prefix), quoted strings as ``'…'``, digit runs
    as ``N``, whitespace collapsed, at most 120 characters."""
    text = _NUMBERS.sub("N", _QUOTED.sub("'…'", message)).split(":", 1)[0]
    return " ".join(text.split())[:120] or "(no message)"
