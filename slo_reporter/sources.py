"""Where the report's numbers come from: Prometheus (or Thanos), queried at the report's end time.

Every SLO costs a fixed number of instant queries — its SLI and its event count over the report
window, over the same window a week earlier, and over the budget period — however many series
it covers; ``group_by`` makes Prometheus return one value per group in the same query.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from prometheus_api_client import PrometheusConnect
from pydantic import BaseModel, ConfigDict, SecretStr
from urllib3.util.retry import Retry

from exporters.config import Duration
from slo_reporter.compute import Measurement
from slo_reporter.definitions import SLO, error_ratio, with_window


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

    def earlier(self, seconds: float) -> "Window":
        return Window(self.end - timedelta(seconds=seconds), self.seconds)


class PrometheusSource:
    """Instant queries pinned to an evaluation time; counts the queries it sends."""

    def __init__(self, settings: PrometheusSettings) -> None:
        headers = {}
        if settings.bearer_token_file is not None:
            headers["Authorization"] = f"Bearer {settings.bearer_token_file.read_text().strip()}"
        auth = None
        if settings.basic_username is not None:
            password = settings.basic_password.get_secret_value() if settings.basic_password else ""
            auth = (settings.basic_username, password)
        self.timeout = settings.timeout
        self.client = PrometheusConnect(
            settings.url,
            headers=headers or None,
            disable_ssl=not settings.verify_tls,
            auth=auth,
            retry=Retry(total=settings.retries, backoff_factor=0.5,
                        status_forcelist=(502, 503, 504), allowed_methods=("GET",)),
        )  # fmt: skip
        if settings.ca_file is not None:
            self.client._session.verify = str(settings.ca_file)
        self.queries = 0

    def instant(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]:
        self.queries += 1
        result: list[dict[str, Any]] = self.client.custom_query(
            query, params={"time": at.timestamp()}, timeout=int(self.timeout)
        )
        return [(item["metric"], float(item["value"][1])) for item in result]

    def measure(self, slo: SLO, window: Window) -> dict[str, Measurement]:
        """The SLI and event count of ``slo`` over ``window``, per group ('' without grouping)."""
        group = slo.group_by or ""
        slis = {
            labels.get(group, ""): value
            for labels, value in self.instant(f"1 - {error_ratio(slo, window.promql)}", window.end)
        }
        if not _counted(slo):
            return {key: Measurement(value) for key, value in slis.items()}
        events = {
            labels.get(group, ""): value
            for labels, value in self.instant(event_count(slo, window.promql), window.end)
        }
        return {key: Measurement(value, events.get(key, 0.0)) for key, value in slis.items()}

    def history(self, slo: SLO, end: datetime, seconds: float) -> pd.DataFrame:
        """Hour by hour over ``seconds`` before ``end``: each group's error ratio and event count
        over that hour (events 1 an hour for kinds without a count). Two range queries; one
        point an hour, enough for a 4-week chart."""
        start = end - timedelta(seconds=seconds)
        group = slo.group_by or ""
        ratios = self._range(f"{error_ratio(slo, '1h')}", start, end, group)
        events = self._range(event_count(slo, "1h"), start, end, group) if _counted(slo) else None
        frame = ratios.rename(columns={"value": "error_ratio"})
        if events is None:
            return frame.assign(events=1.0)
        frame = frame.merge(events.rename(columns={"value": "events"}), on=["group", "time"],
                            how="left")  # fmt: skip
        return frame.fillna({"events": 0.0})

    def _range(self, query: str, start: datetime, end: datetime, group: str) -> pd.DataFrame:
        self.queries += 1
        result: list[dict[str, Any]] = self.client.custom_query_range(
            query, start_time=start, end_time=end, step="3600", timeout=int(self.timeout)
        )
        rows = [
            (item["metric"].get(group, ""), pd.Timestamp(float(t), unit="s", tz="UTC"), float(v))
            for item in result
            for t, v in item["values"]
        ]
        return pd.DataFrame(rows, columns=["group", "time", "value"])


def _counted(slo: SLO) -> bool:
    return slo.sli.kind in ("ratio", "latency") or (
        slo.sli.promql is not None and slo.sli.promql.events is not None
    )


def event_count(slo: SLO, window: str) -> str:
    """PromQL of the number of events behind the SLI over ``window``."""
    by = f" by ({slo.group_by})" if slo.group_by else ""
    sli = slo.sli
    if sli.ratio is not None:
        return f"sum{by} (increase({sli.ratio.total}[{window}]))"
    if sli.latency is not None:
        return (
            f"sum{by} (increase({sli.latency.histogram}_count{{{sli.latency.selector}}}[{window}]))"
        )
    assert sli.promql is not None and sli.promql.events is not None
    return with_window(sli.promql.events, window)
