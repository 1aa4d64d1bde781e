"""The report's SLO table: for every SLO (and group), the numbers over the report window, the
budget period and the previous week, built from a source of measurements."""

from datetime import datetime
from typing import Protocol

import pandas as pd

from slo_reporter.compute import Measurement, evaluate, status, week_over_week, worst_first
from slo_reporter.definitions import SLO
from slo_reporter.sources import Window

WEEK_SECONDS = 7 * 86400


class Source(Protocol):
    def measure(self, slo: SLO, window: Window) -> dict[str, Measurement]: ...


def slo_table(slos: list[SLO], source: Source, end: datetime) -> pd.DataFrame:
    """One row per SLO and group, worst first."""
    rows = []
    for slo in slos:
        window = Window(end, slo.window)
        current = source.measure(slo, window)
        previous = source.measure(slo, window.earlier(WEEK_SECONDS))
        period = source.measure(slo, Window(end, slo.budget_period))
        # An SLO without any data still gets its row, marked "no data".
        for group in sorted(current.keys() | period.keys()) or [""]:
            week = evaluate(current.get(group, Measurement(None)), slo.objective, slo.window,
                            slo.min_events)  # fmt: skip
            budget = evaluate(period.get(group, Measurement(None)), slo.objective,
                              slo.budget_period, slo.min_events)  # fmt: skip
            before = previous.get(group, Measurement(None)).sli
            change, _ = week_over_week(week.sli, before)
            rows.append({
                "slo": slo.id, "service": slo.service, "name": slo.name, "group": group,
                "objective": slo.objective, "window_seconds": slo.window, "sli": week.sli,
                "events": week.events, "burn_rate": week.burn_rate,
                "budget_period_seconds": slo.budget_period, "period_sli": budget.sli,
                "budget_remaining": budget.budget_remaining,
                "budget_remaining_minutes": budget.budget_remaining_minutes,
                "status": status(week, budget), "previous_sli": before, "change": change,
                "errors": "; ".join(week.errors + budget.errors),
            })  # fmt: skip
    return worst_first(pd.DataFrame(rows))


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


class InstantSource(Protocol):
    def instant(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]: ...


def kpi_table(
    source: InstantSource, end: datetime, kpis: tuple[tuple[str, str], ...] = KPIS
) -> pd.DataFrame:
    """Each KPI now and a week earlier, with the absolute and relative change (None: n/a)."""
    rows = []
    for title, query in kpis:
        now = _single(source.instant(query, end))
        before = _single(source.instant(query, end - pd.Timedelta(seconds=WEEK_SECONDS)))
        change, relative = week_over_week(now, before)
        rows.append({"kpi": title, "value": now, "previous": before, "change": change,
                     "relative_change": relative})  # fmt: skip
    return pd.DataFrame(rows)


def _single(result: list[tuple[dict[str, str], float]]) -> float | None:
    return result[0][1] if result else None
