"""What a weekly report holds, built from the sources: the SLO table (every SLO and group over
the report window, the budget period and the previous week), the charts, the burn-rate alerts
that fired, the KPI section, the adviser runs from Ceph and Kebechet's delivery."""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.slo_reporter import charts
from thoth_monitoring.slo_reporter.adviser import AdviserRuns, read_adviser_runs
from thoth_monitoring.slo_reporter.compute import (
    STATUS_ORDER,
    Measurement,
    Status,
    budget,
    budget_burndown,
    evaluate,
    rolling_sli,
    status,
    week_over_week,
    worst_first,
)
from thoth_monitoring.slo_reporter.definitions import SLO
from thoth_monitoring.slo_reporter.kebechet import (
    KebechetSection,
    KebechetSettings,
    StoreUnreadable,
    backend,
    read_section,
)
from thoth_monitoring.slo_reporter.rules import BURNS
from thoth_monitoring.slo_reporter.sources import Window

log = logging.getLogger(__name__)

WEEK_SECONDS = 7 * 86400
CHART_SECONDS = 28 * 86400  # the SLI chart covers four weeks
SLI_HOURS = 24  # each point of the SLI chart is the SLI over the 24 hours before it
WORKERS = 4


@dataclass(frozen=True)
class Week:
    """An ISO week in a timezone: [start, end), Monday 00:00 to Monday 00:00."""

    label: str  # 2026-W47
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, label: str, timezone: str = "UTC") -> "Week":
        try:
            monday = datetime.strptime(label + "-1", "%G-W%V-%u")
        except ValueError:
            raise ValueError(f"week {label!r}: expected an ISO week such as 2026-W47") from None
        start = monday.replace(tzinfo=ZoneInfo(timezone))
        return cls(f"{start:%G-W%V}", start, start + timedelta(days=7))

    @property
    def seconds(self) -> float:
        """The week's real length: 167 or 169 hours in a week with a clock change."""
        return self.end.timestamp() - self.start.timestamp()

    def previous(self) -> "Week":
        """The week before, in the same timezone."""
        return Week.parse(f"{self.start - timedelta(days=7):%G-W%V}", str(self.start.tzinfo))

    @classmethod
    def last_full(cls, now: datetime, timezone: str = "UTC", back: int = 0) -> "Week":
        """The last week that has ended by ``now`` (``back`` weeks earlier still)."""
        local = now.astimezone(ZoneInfo(timezone))
        monday = local - timedelta(days=local.weekday() + 7 * (back + 1))
        return cls.parse(f"{monday:%G-W%V}", timezone)


class Source(Protocol):
    queries: int

    def measure(self, slo: SLO, window: Window) -> dict[str, Measurement]: ...

    def history(self, slo: SLO, end: datetime, seconds: float) -> pd.DataFrame: ...

    def instant(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]: ...


@dataclass(frozen=True)
class Chart:
    cid: str
    title: str
    png: bytes


@dataclass(frozen=True)
class Unavailable:
    """An optional section that could not be built this time, and why."""

    reason: str


@dataclass(frozen=True)
class Report:
    week: Week
    slos: pd.DataFrame
    kpis: pd.DataFrame
    charts: dict[str, tuple[Chart, ...]]  # SLO id → (SLI, budget burn-down), () without data
    alerts: pd.DataFrame  # the burn-rate alerts that fired in the week (see fired_alerts)
    adviser: AdviserRuns | Unavailable | None  # None: Ceph not configured
    generated: datetime
    queries: int = 0
    definitions: list[SLO] = field(default_factory=list)
    kebechet: KebechetSection | Unavailable | None = None  # None: not configured

    @property
    def partial(self) -> bool:
        """Whether an optional section is missing (the SLO table is never optional)."""
        return isinstance(self.adviser, Unavailable) or isinstance(self.kebechet, Unavailable)

    def counts(self) -> dict[Status, int]:
        """How many SLO rows have each status."""
        counts = self.slos["status"].value_counts()
        return {name: int(counts.get(name, 0)) for name in STATUS_ORDER}


def adviser_section(settings: S3Settings, week: Week) -> AdviserRuns | Unavailable:
    """The week's adviser runs, or why Ceph could not give them: an S3 outage leaves this
    optional section out, not the whole report."""
    try:
        return read_adviser_runs(settings, week.start, week.end)
    except (BotoCoreError, ClientError) as error:
        log.warning("section_unavailable", extra={"section": "adviser", "error": repr(error)})
        return Unavailable(f"Ceph ({settings.endpoint_url}) could not be read: {error}")


def kebechet_section(
    settings: KebechetSettings, ceph: S3Settings | None, week: Week
) -> KebechetSection | Unavailable:
    """Kebechet's delivery in the week and the week before, or why the knowledge store could
    not give it: like Ceph's, its outage leaves this section out, not the whole report."""
    store = backend(settings, ceph)
    try:
        return read_section(store, settings, week.start, week.end, week.previous().start)
    except StoreUnreadable as error:
        log.warning("section_unavailable", extra={"section": "kebechet", "error": repr(error)})
        return Unavailable(f"the knowledge store ({store.describe()}) could not be read: {error}")


def build_report(
    slos: list[SLO],
    source: Source,
    week: Week,
    adviser: AdviserRuns | Unavailable | None,
    generated: datetime,
    kebechet: KebechetSection | Unavailable | None = None,
) -> Report:
    """Every SLO's rows and charts, several SLOs at a time: Prometheus answers queries on all its
    cores while Python draws the charts of the ones already answered."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        rows = pool.map(lambda slo: slo_rows(slo, source, week), slos)
        pairs = pool.map(lambda slo: slo_charts(slo, source, week), slos)
        kpis = kpi_table(source, week)
        alerts = fired_alerts(slos, source, week)
        table = worst_first(pd.DataFrame([row for group in rows for row in group]))
        charts = dict(zip((slo.id for slo in slos), pairs, strict=True))
    return Report(week=week, slos=table, kpis=kpis, charts=charts, alerts=alerts, adviser=adviser,
                  generated=generated, queries=source.queries, definitions=slos,
                  kebechet=kebechet)  # fmt: skip


def slo_charts(slo: SLO, source: Source, week: Week) -> tuple[Chart, ...]:
    """The SLI over the last four weeks (24-hour windows) and the budget burn-down over the
    budget period; none when there is no data."""
    series = chart_series(slo, source, week.end)
    if series is None:
        return ()
    sli_title = f"{slo.id}: SLI over 24 h windows, last 28 days"
    budget_title = f"{slo.id}: error budget left, {slo.budget_period / 86400:g}-day period"
    span = (week.start, week.end)
    sli = charts.sli_chart(series[0], slo.objective, sli_title, span)
    budget = charts.burndown_chart(series[1], budget_title, span)
    return Chart(f"{slo.id}-sli", sli_title, sli), Chart(f"{slo.id}-budget", budget_title, budget)


def chart_series(
    slo: SLO, source: Source, end: datetime
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The charts' data, both from one hourly history reaching a day further back than the SLI
    chart shows, so that its first points are full 24-hour windows too: (24-hour SLI, budget
    left); None when there is no data."""
    seconds = max(CHART_SECONDS + SLI_HOURS * 3600, slo.budget_period)
    history = source.history(slo, end, seconds)
    if history["error_ratio"].notna().sum() == 0:
        return None
    last = pd.Timestamp(end)
    shown = last - pd.Timedelta(seconds=CHART_SECONDS)
    period = history[history["time"] > last - pd.Timedelta(seconds=slo.budget_period)]
    return rolling_sli(history, shown, SLI_HOURS), budget_burndown(period, slo.objective)


def slo_table(slos: list[SLO], source: Source, week: Week) -> pd.DataFrame:
    """One row per SLO and group, worst first."""
    return worst_first(pd.DataFrame([row for slo in slos for row in slo_rows(slo, source, week)]))


def report_window(slo: SLO, week: Week) -> Window:
    """The SLO's report window, ending at the week's end. A 7-day window is the week itself, so
    it is 167 or 169 hours long in a week with a clock change, never overlapping the week
    before nor leaving an hour out."""
    return Window(week.end, week.seconds if slo.window == WEEK_SECONDS else slo.window)


def slo_rows(slo: SLO, source: Source, week: Week) -> list[dict[str, Any]]:
    """The rows of one SLO: one per group, or one marked "no data" when there is none."""
    window, previous_window = report_window(slo, week), report_window(slo, week.previous())
    current = source.measure(slo, window)
    previous = source.measure(slo, previous_window)
    period = source.measure(slo, Window(week.end, slo.budget_period))
    rows = []
    for group in sorted(current.keys() | period.keys()) or [""]:
        this_week = evaluate(current.get(group, Measurement(None)), slo.objective, window.seconds,
                             slo.min_events)  # fmt: skip
        period_result = evaluate(period.get(group, Measurement(None)), slo.objective,
                                 slo.budget_period, slo.min_events)  # fmt: skip
        before = evaluate(previous.get(group, Measurement(None)), slo.objective,
                          previous_window.seconds, slo.min_events)  # fmt: skip
        # a previous week with no data or too few events has no SLI to compare with
        before_sli = before.sli if before.valid else None
        change, _ = week_over_week(this_week.sli, before_sli)
        spend = budget(this_week, period_result)
        rows.append({
            "slo": slo.id, "service": slo.service, "name": slo.name, "group": group,
            "objective": slo.objective, "window_seconds": window.seconds, "sli": this_week.sli,
            "events": this_week.events, "burn_rate": this_week.burn_rate,
            "budget_period_seconds": slo.budget_period, "period_sli": period_result.sli,
            "period_events": period_result.events,
            "budget_remaining": period_result.budget_remaining,
            "budget_remaining_minutes": period_result.budget_remaining_minutes,
            "budget_allowed_minutes": spend.allowed_minutes,
            "budget_allowed_events": spend.allowed_events,
            "budget_spent_events": spend.spent_events,
            "week_budget_share": spend.week_share,
            "budget_exhaustion_seconds": spend.exhaustion_seconds,
            "status": status(this_week, period_result), "previous_sli": before_sli,
            "change": change,
            "errors": "; ".join(dict.fromkeys(this_week.errors + period_result.errors)),
        })  # fmt: skip
    return rows


BURN_ALERTS = tuple(dict.fromkeys(alert for alert, *_ in BURNS))
ALERT_STEP = 60  # seconds: how finely the week is sampled for firing alerts
ALERT_COLUMNS = ["alert", "severity", "slo", "group", "first", "minutes"]


def fired_alerts(slos: list[SLO], source: Source, week: Week) -> pd.DataFrame:
    """The burn-rate alerts that fired during the week, from Prometheus' ``ALERTS`` series:
    per alert, SLO and group, the minutes it was firing (sampled every minute, as a graph of
    ``ALERTS`` shows it) and when it first was. Two queries for all SLOs; critical first."""
    names = "|".join(BURN_ALERTS)
    selector = f'ALERTS{{alertstate="firing", alertname=~"{names}"}}'
    span = f"[{int(week.seconds)}s:{ALERT_STEP}s]"
    minutes = source.instant(f"count_over_time({selector}{span})", week.end)
    first_query = f"min_over_time(timestamp({selector}){span})"
    firsts = {_key(labels): value for labels, value in source.instant(first_query, week.end)}
    group_by = {slo.id: slo.group_by for slo in slos}
    rows = []
    for labels, count in minutes:
        slo_id = labels.get("slo_id", "")
        first = max(firsts.get(_key(labels), week.start.timestamp()), week.start.timestamp())
        rows.append({
            "alert": labels.get("alertname", ""), "severity": labels.get("severity", ""),
            "slo": slo_id, "group": labels.get(group_by.get(slo_id) or "", ""),
            "first": pd.Timestamp(first, unit="s", tz="UTC").tz_convert(week.start.tzinfo),
            "minutes": count * ALERT_STEP / 60,
        })  # fmt: skip
    frame = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    return frame.sort_values(["severity", "slo", "group", "alert"], ignore_index=True)


def _key(labels: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


# Knowledge-graph content shown in the report's KPI section: (title, PromQL of one number).
KPIS = (
    ("Python package versions", "sum(thoth_graphdb_python_package_versions)"),
    ("Solved package versions (all solvers)", "sum(thoth_graphdb_solved_python_packages)"),
    ("Unsolved package versions (all solvers)",
     "sum(thoth_graphdb_unsolved_python_packages_all_solvers)"),
    ("Security-indicator analysed versions", "sum(thoth_graphdb_si_analyzed_python_packages)"),
    ("Adviser runs", "sum(thoth_graphdb_adviser_runs)"),
    ("Adviser users", "sum(thoth_graphdb_adviser_users)"),
    ("CVE records", "sum(thoth_graphdb_cves)"),
    ("Kebechet active repositories", "sum(thoth_kebechet_active_repositories)"),
)  # fmt: skip


def kpi_table(source: Source, week: Week, kpis: tuple[tuple[str, str], ...] = KPIS) -> pd.DataFrame:
    """Each KPI at the week's end and at its start, with the absolute and relative change
    (None: n/a)."""
    rows = []
    for title, query in kpis:
        now = _single(source.instant(query, week.end))
        before = _single(source.instant(query, week.start))
        change, relative = week_over_week(now, before)
        rows.append({"kpi": title, "value": now, "previous": before, "change": change,
                     "relative_change": relative})  # fmt: skip
    return pd.DataFrame(rows)


def _single(result: list[tuple[dict[str, str], float]]) -> float | None:
    return result[0][1] if result else None
