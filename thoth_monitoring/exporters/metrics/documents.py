"""Incremental counts of Thoth's result documents on Ceph/S3.

Thoth stores each result document under ``<prefix>/<deployment>/<type>/<document id>`` (some
types as a folder of objects, e.g. ``security-indicators/<id>/aggregated``; a ``<id>.request``
object may sit beside a document and is not counted). Document ids embed their creation time
(``adviser-211231235959-4c1ba7a5``, ``solver-rhel-8-py38-211231235959-...``). Within one *series*
(the id up to the timestamp) S3's lexicographic listing order is creation order, so a refresh
lists each series only after the last key it has seen. A full recount on a long interval catches
deletions and series that appeared since.
"""

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from thoth_monitoring.core.config import Duration
from thoth_monitoring.core.s3 import S3Settings, list_pages

log = logging.getLogger(__name__)

DEFAULT_DOCUMENT_TYPES = (
    "adviser",
    "analysis",
    "dependency-monkey",
    "inspections",
    "provenance-checker",
    "security-indicators",
    "solver",
)
_SERIES = re.compile(r"^(?P<series>.*-)\d{12}-[^/]+$")
REQUEST_SUFFIX = ".request"


class DocumentCountSettings(S3Settings):
    """S3Settings plus which result types to count and how often."""

    document_types: tuple[str, ...] = DEFAULT_DOCUMENT_TYPES
    refresh_interval: Duration = 60.0
    recount_interval: Duration = 21600.0


@dataclass
class _Series:
    """Where listing resumes for one series (the key after its last document), which document
    that key belonged to, and the requests listed after it: those are listed again on every
    refresh, so they are counted afresh each time, their results may still come."""

    last_key: str
    last_document: str
    waiting: list[str] = field(default_factory=list)  # request ids after last_key, no result yet
    answered: int = 0  # requests after last_key whose result is there


@dataclass
class _TypeCount:
    """Documents and requests of one result type. Requests before a series' resume point are
    settled: whether they got a result is decided when the resume point passes them (a result
    that comes later for one of them is found by the next full recount)."""

    count: int = 0
    requests: int = 0  # settled requests
    unanswered: int = 0  # settled requests without a result
    series: dict[str, _Series] = field(default_factory=dict)

    def requests_total(self) -> int:
        return self.requests + sum(len(s.waiting) + s.answered for s in self.series.values())

    def without_result(self) -> int:
        return self.unanswered + sum(len(s.waiting) for s in self.series.values())

    def add(self, folder: str, key: str, only_series: str | None = None) -> None:
        """Count ``key`` if it starts a document or is a request not seen yet (keys arrive in
        listing order: ``<id>`` before ``<id>.request`` before ``<id>/…``).

        ``only_series`` skips keys of other series that share the listed prefix.
        """
        document = key[len(folder) :].split("/", 1)[0]
        match = _SERIES.match(document.removesuffix(REQUEST_SUFFIX))
        name = folder + (match.group("series") if match else document.removesuffix(REQUEST_SUFFIX))
        if only_series is not None and name != only_series:
            return
        known = self.series.get(name)
        if document.endswith(REQUEST_SUFFIX):
            self._request(name, known, document.removesuffix(REQUEST_SUFFIX))
            return
        if known is None or known.last_document != document:
            self.count += 1
        waiting = known.waiting if known is not None else []
        answered = document in waiting  # a folder document listed after its request
        self.requests += (known.answered if known is not None else 0) + len(waiting)
        self.unanswered += len(waiting) - answered
        self.series[name] = _Series(key, document)

    def _request(self, name: str, known: _Series | None, request: str) -> None:
        if known is None:  # a series whose first key is a request: resume from its start
            known = self.series[name] = _Series("", "")
        if known.last_document == request:  # its result (a single object) came just before
            known.answered += 1
        elif request not in known.waiting:
            known.waiting.append(request)

    def relisted(self) -> "_TypeCount":
        """A copy ready to list each series again from its resume point: the requests after it
        are forgotten, the listing brings them again."""
        series = {name: _Series(s.last_key, s.last_document) for name, s in self.series.items()}
        return _TypeCount(self.count, self.requests, self.unanswered, series)


@dataclass
class DocumentCounter:
    """Counts documents per result type, listing only what is new since the last refresh.

    Methods are blocking (boto3); the exporter calls them from a worker thread.
    """

    client: Any
    settings: DocumentCountSettings
    clock: Callable[[], float] = time.time
    up: bool = False
    list_requests: int = 0
    last_refresh: float | None = None
    last_recount: float | None = None
    generation: int = 0
    _counts: dict[str, _TypeCount] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> dict[str, int]:
        """Documents per result type, as of the last refresh or recount."""
        with self._lock:
            return {kind: tally.count for kind, tally in self._counts.items()}

    def requests(self) -> dict[str, tuple[int, int]]:
        """Per result type: requests stored (``<id>.request``), and those without a result."""
        with self._lock:
            return {
                kind: (tally.requests_total(), tally.without_result())
                for kind, tally in self._counts.items()
            }

    def refresh(self) -> None:
        """Probe the bucket, then recount if due or count what is new. Raises on S3 errors."""
        try:
            self.client.head_bucket(Bucket=self.settings.bucket)
        except Exception:
            self._set_up(False)
            raise
        self._set_up(True)
        now = self.clock()
        if self.last_recount is None or now - self.last_recount >= self.settings.recount_interval:
            self.recount()
            return
        counts = {kind: self._incremental(kind, tally) for kind, tally in self._snapshot().items()}
        with self._lock:
            self._counts = counts
            self.last_refresh = now
            self.generation += 1

    def recount(self) -> None:
        """List every document again (catches deletions and series never seen)."""
        counts = {kind: self._full(kind) for kind in self.settings.document_types}
        with self._lock:
            self._counts = counts
            self.last_recount = self.last_refresh = self.clock()
            self.generation += 1
        log.info("ceph_recount", extra={"documents": sum(c.count for c in counts.values())})

    def _set_up(self, up: bool) -> None:
        if up != self.up:
            self.generation += 1
        self.up = up

    def _snapshot(self) -> dict[str, _TypeCount]:
        with self._lock:
            return {kind: tally.relisted() for kind, tally in self._counts.items()}

    def _full(self, kind: str) -> _TypeCount:
        tally = _TypeCount()
        folder = self.settings.folder(kind)
        for key in self._keys(folder):
            tally.add(folder, key)
        return tally

    def _incremental(self, kind: str, tally: _TypeCount) -> _TypeCount:
        folder = self.settings.folder(kind)
        if not tally.series:
            return self._full(kind)  # nothing to resume from; cheap while the folder is small
        for name, series in list(tally.series.items()):
            for key in self._keys(name, start_after=series.last_key):
                tally.add(folder, key, only_series=name)
        return tally

    def _keys(self, prefix: str, start_after: str = "") -> Iterator[str]:
        for page in list_pages(self.client, self.settings.bucket, prefix, start_after):
            self.list_requests += 1
            for item in page:
                yield item["Key"]
