"""Where the report's numbers come from: Prometheus (or Thanos), queried at the report's end time.

Every SLO costs a fixed number of queries — two instant queries (its counters, or its SLI and
event count) over the report window, the same window a week earlier and the budget period, and
two hourly range queries for the charts — however many series it covers; ``group_by`` makes
Prometheus return one value per group in the same query.
"""

import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from pydantic import BaseModel, ConfigDict, SecretStr
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from thoth_monitoring.core.config import Duration
from thoth_monitoring.slo_reporter.compute import Measurement
from thoth_monitoring.slo_reporter.definitions import SLO, Counters, error_ratio, with_window


class PrometheusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "http://127.0.0.1:9090"
    bearer_token_file: Path | None = None
    basic_username: str | None = None
    basic_password: SecretStr | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    timeout: Duration = 30.0
    retries: int = 3


@dataclass(frozen=True)
class Window:
    """A range of time ending at ``end``."""

    end: datetime
    seconds: float

    @property
    def promql(self) -> str:
        """The window as a PromQL duration (whole seconds)."""
        return f"{int(self.seconds)}s"


class PrometheusError(Exception):
    """A query Prometheus did not answer: unreachable, failing, or refusing the query
    (``refused``: it rejected the query itself, e.g. invalid PromQL, so retrying is pointless)."""

    def __init__(self, query: str, message: str, refused: bool = False, slo: str = "") -> None:
        self.query = query
        self.message = message
        self.refused = refused
        self.slo = slo
        super().__init__(str(self))

    def __str__(self) -> str:
        about = f"SLO {self.slo}, " if self.slo else ""
        return f"{about}query `{self.query}`: {self.message}"


class PrometheusSource:
    """Instant queries pinned to an evaluation time; counts the queries it sends."""

    def __init__(self, settings: PrometheusSettings) -> None:
        self.url = settings.url.rstrip("/")
        self.timeout = settings.timeout
        self.session = requests.Session()
        if settings.bearer_token_file is not None:
            token = settings.bearer_token_file.read_text().strip()
            self.session.headers["Authorization"] = f"Bearer {token}"
        if settings.basic_username is not None:
            password = settings.basic_password.get_secret_value() if settings.basic_password else ""
            self.session.auth = (settings.basic_username, password)
        self.session.verify = (str(settings.ca_file) if settings.ca_file is not None
                               else settings.verify_tls)  # fmt: skip
        retry = Retry(total=settings.retries, backoff_factor=0.5, allowed_methods=("GET",),
                      status_forcelist=(502, 503, 504), raise_on_status=False)  # fmt: skip
        self.session.mount(self.url, HTTPAdapter(max_retries=retry))
        self.queries = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        """Queries may come from several threads at once (see report.build_report)."""
        with self._lock:
            self.queries += 1

    def instant(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]:
        data = self._get("query", query, {"time": at.timestamp()})
        if data.get("resultType") == "scalar":
            return [({}, float(data["result"][1]))]
        if data.get("resultType") != "vector":
            raise PrometheusError(
                query, f"expected an instant vector, got {data.get('resultType')}"
            )
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]

    def measure(self, slo: SLO, window: Window) -> dict[str, Measurement]:
        """The SLI and event count of ``slo`` over ``window``, per group ('' without grouping).

        Two-counter SLIs cost two queries, the increase of each counter, and their SLI is the
        ratio of the two (the same number as ``error_ratio``, whose rates share the window, but
        each counter is read once). A group whose counted counter is absent counted none."""
        with _naming(slo):
            return self._measure(slo, window)

    def _measure(self, slo: SLO, window: Window) -> dict[str, Measurement]:
        by = f" by ({slo.group_by})" if slo.group_by else ""
        group, w = slo.group_by or "", window.promql
        counters = slo.sli.counters
        if counters is not None:
            counted, total = (
                self._grouped(f"sum{by} (increase({selector}[{w}]))", window.end, group)
                for selector in (counters.counted, counters.total)
            )
            return {
                key: Measurement(_sli(counted.get(key, 0.0), events, counters), events)
                for key, events in total.items()
            }
        slis = self._grouped(f"1 - {error_ratio(slo, w)}", window.end, group)
        events_query = slo.sli.promql.events if slo.sli.promql is not None else None
        if events_query is None:
            return {key: Measurement(value) for key, value in slis.items()}
        events = self._grouped(with_window(events_query, w), window.end, group)
        return {key: Measurement(value, events.get(key, 0.0)) for key, value in slis.items()}

    def _grouped(self, query: str, at: datetime, group: str) -> dict[str, float]:
        return {labels.get(group, ""): value for labels, value in self.instant(query, at)}

    def history(self, slo: SLO, end: datetime, seconds: float) -> pd.DataFrame:
        """Hour by hour over ``seconds`` before ``end``: each group's error ratio and event count
        over that hour (events 1 an hour for kinds without a count). Two range queries; one
        point an hour, enough for a 4-week chart."""
        with _naming(slo):
            return self._history(slo, end, seconds)

    def _history(self, slo: SLO, end: datetime, seconds: float) -> pd.DataFrame:
        start = end - timedelta(seconds=seconds)
        by = f" by ({slo.group_by})" if slo.group_by else ""
        group = slo.group_by or ""
        counters = slo.sli.counters
        if counters is not None:
            counted, total = (
                self._range(f"sum{by} (increase({selector}[1h]))", start, end, group)
                for selector in (counters.counted, counters.total)
            )
            frame = total.rename(columns={"value": "events"}).merge(
                counted.rename(columns={"value": "counted"}), on=["group", "time"], how="left"
            )
            ratios = [1 - _sli(c, n, counters) for c, n in
                      zip(frame["counted"].fillna(0.0), frame["events"], strict=True)]  # fmt: skip
            return frame.assign(error_ratio=ratios)[["group", "time", "error_ratio", "events"]]
        frame = self._range(error_ratio(slo, "1h"), start, end, group)
        frame = frame.rename(columns={"value": "error_ratio"})
        events_query = slo.sli.promql.events if slo.sli.promql is not None else None
        if events_query is None:
            return frame.assign(events=1.0)
        events = self._range(with_window(events_query, "1h"), start, end, group)
        frame = frame.merge(events.rename(columns={"value": "events"}), on=["group", "time"],
                            how="left")  # fmt: skip
        return frame.fillna({"events": 0.0})

    def _range(self, query: str, start: datetime, end: datetime, group: str) -> pd.DataFrame:
        params = {"start": start.timestamp(), "end": end.timestamp(), "step": 3600}
        data = self._get("query_range", query, params)
        if data.get("resultType") != "matrix":
            raise PrometheusError(query, f"expected a range vector, got {data.get('resultType')}")
        rows = [
            (item["metric"].get(group, ""), pd.Timestamp(float(t), unit="s", tz="UTC"), float(v))
            for item in data["result"]
            for t, v in item["values"]
        ]
        return pd.DataFrame(rows, columns=["group", "time", "value"])

    def _get(self, api: str, query: str, params: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of one API answer; every failure a ``PrometheusError`` saying what went
        wrong in one line."""
        self._count()
        try:
            response = self.session.get(
                f"{self.url}/api/v1/{api}",
                params={"query": query, "timeout": f"{self.timeout:g}", **params},
                timeout=self.timeout + 5,  # Prometheus gives up first, and says so
            )
        except requests.Timeout:
            raise PrometheusError(
                query, f"Prometheus at {self.url} did not answer within {self.timeout + 5:g} s"
            ) from None
        except requests.RequestException as error:
            raise PrometheusError(
                query, f"Prometheus at {self.url} unreachable: {_reason(error)}"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") != "success":
            said = body.get("error") if isinstance(body, dict) else None
            said = said or " ".join(response.text.split())[:200] or response.reason
            refused = isinstance(body, dict) and body.get("errorType") == "bad_data"
            raise PrometheusError(
                query, f"Prometheus answered HTTP {response.status_code}: {said}", refused
            )
        data: dict[str, Any] = body.get("data") or {}
        return data


def _sli(counted: float, total: float, counters: Counters) -> float:
    """Good events over all events; NaN (no data) when there were none."""
    if total <= 0:
        return math.nan
    share = counted / total
    return 1 - share if counters.bad else share


@contextmanager
def _naming(slo: SLO) -> Iterator[None]:
    """A failed query of ``slo`` says which SLO it belongs to."""
    try:
        yield
    except PrometheusError as error:
        raise PrometheusError(error.query, error.message, error.refused, slo.id) from None


def _reason(error: requests.RequestException) -> str:
    """The operating system's words (``[Errno 111] Connection refused``) rather than urllib3's
    nested retry wrappers, when there are some."""
    found = re.search(r"\[Errno -?\d+\] [^'\")]+", str(error))
    return found.group(0) if found else str(error)


# Long before any data: Prometheus parses a query evaluated then and finds nothing to read.
CHECK_TIME = datetime(2000, 1, 3, tzinfo=UTC)


def refused_queries(source: PrometheusSource, slos: list[SLO]) -> list[PrometheusError]:
    """The SLOs whose queries Prometheus refuses (the first refused query of each, with
    Prometheus' words), by sending each SLO's own queries once at ``CHECK_TIME``. Raises
    ``PrometheusError`` when Prometheus cannot be asked at all."""
    refused = []
    for slo in slos:
        try:
            source.measure(slo, Window(CHECK_TIME, slo.window))
        except PrometheusError as error:
            if not error.refused:
                raise
            refused.append(error)
    return refused
