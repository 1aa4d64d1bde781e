"""SLO arithmetic: pure functions over numbers and pandas frames, no I/O.

For an SLI (share of good events) and an objective:
error budget = 1 - objective; burn rate = (1 - SLI) / (1 - objective);
budget remaining = 1 - burn rate; remaining minutes = window * (SLI - objective) / 60.
A result carries its own validity: no data, too few events, or an SLI outside [0, 1] is
reported as such, never turned into a number.

The budget of the period: allowed = (1 - objective) x the period (in time), and for SLIs that
count events also (1 - objective) x the period's events; this week's share of it = the week's
burn rate x the week's weight in the period (its events, else its time); at that rate the
budget left runs out in (budget left / week's share) weeks.
"""

import math
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Status = Literal["met", "at_risk", "breached", "invalid", "no_data", "too_few_events"]
# the summary's order, worst first
STATUS_ORDER: dict[Status, int] = {"breached": 0, "at_risk": 1, "invalid": 2, "no_data": 3,
                                   "too_few_events": 4, "met": 5}  # fmt: skip


@dataclass(frozen=True)
class Measurement:
    """What the sources found for one SLO (and group) over one window."""

    sli: float | None
    events: float | None = None  # None where the SLI kind has no event count (availability)


@dataclass(frozen=True)
class Result:
    objective: float
    window_seconds: float
    sli: float | None
    events: float | None
    error_budget: float
    burn_rate: float | None
    budget_remaining: float | None
    budget_remaining_minutes: float | None
    errors: tuple[str, ...] = field(default=())
    problem: Status | None = None  # the worst of the errors as a status: no_data, …

    @property
    def valid(self) -> bool:
        return not self.errors


def evaluate(
    measurement: Measurement, objective: float, window_seconds: float, min_events: int = 1
) -> Result:
    """The numbers of one SLO over one window, or the reasons they cannot be given."""
    errors = validity_errors(measurement, min_events)
    error_budget = 1 - objective
    if errors or measurement.sli is None:
        problem = min((status for status, _ in errors), key=STATUS_ORDER.__getitem__)
        return Result(objective, window_seconds, measurement.sli, measurement.events,
                      error_budget, None, None, None, tuple(m for _, m in errors),
                      problem)  # fmt: skip
    sli = measurement.sli
    burn_rate = (1 - sli) / error_budget
    return Result(
        objective, window_seconds, sli, measurement.events, error_budget, burn_rate,
        1 - burn_rate, window_seconds * (sli - objective) / 60,
    )  # fmt: skip


def validity_errors(measurement: Measurement, min_events: int) -> list[tuple[Status, str]]:
    """Why a measurement gives no number: (status, message) pairs."""
    if measurement.sli is None or (
        isinstance(measurement.sli, float) and math.isnan(measurement.sli)
    ):
        return [("no_data", "no data")]
    errors: list[tuple[Status, str]] = []
    if measurement.events is not None and measurement.events < min_events:
        errors.append(("too_few_events", f"too few events ({measurement.events:g} < {min_events})"))
    if not 0 <= measurement.sli <= 1:
        errors.append(("invalid", f"SLI {measurement.sli:g} outside [0, 1]"))
    return errors


def status(report_window: Result, budget_period: Result) -> Status:
    """breached: the budget period's SLI is under the objective (the budget is spent);
    at risk: this week burned budget faster than the period allows (burn rate > 1); met.
    Without numbers, the worst reason of either window: invalid (an SLI outside [0, 1]), no
    data, too few events."""
    problems = [r.problem for r in (report_window, budget_period) if r.problem is not None]
    if problems:
        return min(problems, key=STATUS_ORDER.__getitem__)
    assert budget_period.sli is not None and report_window.burn_rate is not None
    if budget_period.sli < budget_period.objective:
        return "breached"
    if report_window.burn_rate > 1:
        return "at_risk"
    return "met"


@dataclass(frozen=True)
class Budget:
    """The budget period's error budget as time and, for SLIs that count events, as events;
    how much of it the report window burned, and when it runs out at that rate."""

    allowed_minutes: float
    allowed_events: float | None  # failures the objective allows over the period
    spent_events: float | None  # failures over the period
    week_share: float | None  # share of the period's budget burned in the report window
    exhaustion_seconds: float | None  # only while burning faster than sustainable


def budget(report_window: Result, budget_period: Result) -> Budget:
    period, week = budget_period, report_window
    allowed_events = spent_events = None
    if period.valid and period.sli is not None and period.events is not None:
        allowed_events = period.error_budget * period.events
        spent_events = (1 - period.sli) * period.events
    share = exhaustion = None
    if week.burn_rate is not None and period.budget_remaining is not None:
        if week.events is not None and period.events:
            weight = week.events / period.events
        else:
            weight = week.window_seconds / period.window_seconds
        share = week.burn_rate * weight
        if week.burn_rate > 1 and period.budget_remaining > 0:
            exhaustion = period.budget_remaining / share * week.window_seconds
    allowed_minutes = period.error_budget * period.window_seconds / 60
    return Budget(allowed_minutes, allowed_events, spent_events, share, exhaustion)


def week_over_week(
    current: float | None, previous: float | None
) -> tuple[float | None, float | None]:
    """(absolute, relative) change; None where the previous value is missing or zero."""
    if current is None or previous is None:
        return None, None
    absolute = current - previous
    return absolute, (absolute / previous if previous else None)


def worst_first(frame: pd.DataFrame) -> pd.DataFrame:
    """Report rows ordered as the summary shows them (``STATUS_ORDER``); within a status, the
    highest burn rate first."""
    order = frame["status"].map(STATUS_ORDER)
    burn = frame["burn_rate"].fillna(-math.inf)
    return (
        frame.assign(_order=order, _burn=-burn)
        .sort_values(["_order", "_burn", "slo"])
        .drop(columns=["_order", "_burn"])
    )


def rolling_sli(history: pd.DataFrame, since: pd.Timestamp, hours: int = 24) -> pd.DataFrame:
    """Per group, at each hour after ``since``, the SLI over the ``hours`` before it, weighting
    every hour by its events: 1 - sum(error ratio x events) / sum(events). The windows are
    clock time, so a missing hour is not replaced by an older one; ``history`` must begin
    ``hours`` before ``since`` for the first points to cover whole windows. Columns group, time,
    sli."""
    frames = []
    for group, rows in history.sort_values("time").groupby("group", sort=True):
        sums = pd.DataFrame(
            {"bad": (rows["error_ratio"] * rows["events"]).to_numpy(),
             "total": rows["events"].to_numpy()},
            index=pd.DatetimeIndex(rows["time"]),
        ).rolling(pd.Timedelta(hours=hours)).sum()  # fmt: skip
        sli = (1 - sums["bad"] / sums["total"]).where(sums["total"] > 0)
        kept = sli[sli.index > since]
        frames.append(pd.DataFrame({"group": group, "time": kept.index, "sli": kept.to_numpy()}))
    return pd.concat(frames, ignore_index=True) if frames else _empty("sli")


def budget_burndown(history: pd.DataFrame, objective: float) -> pd.DataFrame:
    """Per group, the share of the period's error budget left at each hour: 1 - bad events so
    far / bad events the objective allows over the whole period. Columns group, time,
    remaining."""
    frames = []
    for group, rows in history.sort_values("time").groupby("group", sort=True):
        allowed = (1 - objective) * rows["events"].sum()
        spent = (rows["error_ratio"].fillna(0) * rows["events"]).cumsum()
        remaining = (1 - spent / allowed) if allowed > 0 else spent * math.nan
        frames.append(pd.DataFrame({"group": group, "time": rows["time"], "remaining": remaining}))
    return pd.concat(frames, ignore_index=True) if frames else _empty("remaining")


def _empty(column: str) -> pd.DataFrame:
    return pd.DataFrame(columns=["group", "time", column])
