"""SLO arithmetic: pure functions over numbers and pandas frames, no I/O.

For an SLI (share of good events) and an objective:
error budget = 1 - objective; burn rate = (1 - SLI) / (1 - objective);
budget remaining = 1 - burn rate; remaining minutes = window * (SLI - objective) / 60.
A result carries its own validity: no data, too few events, or an SLI outside [0, 1] is
reported as such, never turned into a number.
"""

import math
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Status = Literal["met", "at_risk", "breached", "invalid"]


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
        return Result(objective, window_seconds, measurement.sli, measurement.events,
                      error_budget, None, None, None, tuple(errors))  # fmt: skip
    sli = measurement.sli
    burn_rate = (1 - sli) / error_budget
    return Result(
        objective, window_seconds, sli, measurement.events, error_budget, burn_rate,
        1 - burn_rate, window_seconds * (sli - objective) / 60,
    )  # fmt: skip


def validity_errors(measurement: Measurement, min_events: int) -> list[str]:
    if measurement.sli is None or (
        isinstance(measurement.sli, float) and math.isnan(measurement.sli)
    ):
        return ["no data"]
    errors = []
    if measurement.events is not None and measurement.events < min_events:
        errors.append(f"too few events ({measurement.events:g} < {min_events})")
    if not 0 <= measurement.sli <= 1:
        errors.append(f"SLI {measurement.sli:g} outside [0, 1]")
    return errors


def status(report_window: Result, budget_period: Result) -> Status:
    """breached: the budget period's SLI is under the objective (the budget is spent);
    at risk: this week burned budget faster than the period allows (burn rate > 1); met."""
    if not (report_window.valid and budget_period.valid):
        return "invalid"
    assert budget_period.sli is not None and report_window.burn_rate is not None
    if budget_period.sli < budget_period.objective:
        return "breached"
    if report_window.burn_rate > 1:
        return "at_risk"
    return "met"


def week_over_week(
    current: float | None, previous: float | None
) -> tuple[float | None, float | None]:
    """(absolute, relative) change; None where the previous value is missing or zero."""
    if current is None or previous is None:
        return None, None
    absolute = current - previous
    return absolute, (absolute / previous if previous else None)


STATUS_ORDER = {"breached": 0, "at_risk": 1, "invalid": 2, "met": 3}


def worst_first(frame: pd.DataFrame) -> pd.DataFrame:
    """Report rows ordered as the summary shows them: breached, at risk, invalid, met; within
    a status, the highest burn rate first."""
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
