"""SLO arithmetic against hand-computed values."""

import pandas as pd
import pytest

from slo_reporter.compute import (
    Measurement,
    budget,
    budget_burndown,
    evaluate,
    rolling_sli,
    status,
    week_over_week,
    worst_first,
)

WEEK = 7 * 86400


def test_numbers_of_a_week_at_99_5_percent_against_99() -> None:
    result = evaluate(Measurement(sli=0.995, events=10_000), objective=0.99, window_seconds=WEEK)
    assert result.valid
    assert result.error_budget == pytest.approx(0.01)
    assert result.burn_rate == pytest.approx(0.5)  # (1 - 0.995) / 0.01
    assert result.budget_remaining == pytest.approx(0.5)
    assert result.budget_remaining_minutes == pytest.approx(WEEK * 0.005 / 60)  # 50.4 minutes


def test_invalid_measurements_give_reasons_not_numbers() -> None:
    assert evaluate(Measurement(None), 0.99, WEEK).errors == ("no data",)
    assert evaluate(Measurement(float("nan"), 5), 0.99, WEEK).errors == ("no data",)
    few = evaluate(Measurement(1.0, events=3), 0.99, WEEK, min_events=10)
    assert few.errors == ("too few events (3 < 10)",)
    assert few.burn_rate is None
    assert evaluate(Measurement(1.2, 100), 0.99, WEEK).errors == ("SLI 1.2 outside [0, 1]",)


def test_status_breached_at_risk_met_and_why_there_is_no_number() -> None:
    good_period = evaluate(Measurement(0.995, 1000), 0.99, 28 * 86400)
    spent_period = evaluate(Measurement(0.985, 1000), 0.99, 28 * 86400)
    calm_week = evaluate(Measurement(0.999, 1000), 0.99, WEEK)
    hot_week = evaluate(Measurement(0.98, 1000), 0.99, WEEK)
    assert status(calm_week, good_period) == "met"
    assert status(hot_week, good_period) == "at_risk"
    assert status(calm_week, spent_period) == "breached"
    no_data = evaluate(Measurement(None), 0.99, WEEK)
    few = evaluate(Measurement(1.0, 3), 0.99, WEEK, min_events=10)
    assert status(no_data, good_period) == "no_data"
    assert status(few, good_period) == "too_few_events"
    assert status(few, evaluate(Measurement(None), 0.99, 28 * 86400)) == "no_data"  # the worse
    assert status(evaluate(Measurement(1.2, 3), 0.99, WEEK, 10), good_period) == "invalid"


def test_budget_in_time_and_events_the_weeks_share_and_time_to_exhaustion() -> None:
    # 28 days of 40 000 events, objective 99 %: 400 failures allowed, 100 spent (25 %); this
    # week 10 000 events with 150 failures: burn rate 1.5, 150 / 400 of the period's budget
    period = evaluate(Measurement(1 - 100 / 40_000, 40_000), 0.99, 28 * 86400)
    week = evaluate(Measurement(1 - 150 / 10_000, 10_000), 0.99, WEEK)
    spend = budget(week, period)
    assert spend.allowed_minutes == pytest.approx(0.01 * 28 * 1440)  # 6 h 43 min
    assert (spend.allowed_events, spend.spent_events) == pytest.approx((400, 100))
    assert spend.week_share == pytest.approx(150 / 400)
    # 75 % left at 37.5 % a week: 2 weeks
    assert spend.exhaustion_seconds == pytest.approx(2 * WEEK)
    # burning slower than sustainable (burn rate 0.5): no exhaustion time
    calm = budget(evaluate(Measurement(1 - 5 / 10_000, 10_000), 0.99, WEEK), period)
    assert calm.week_share == pytest.approx(5 / 400) and calm.exhaustion_seconds is None
    # no event count (availability): the week's share by time, 7 of 28 days at burn rate 2
    timed = budget(evaluate(Measurement(0.98), 0.99, WEEK), evaluate(Measurement(0.995), 0.99,
                   28 * 86400))  # fmt: skip
    assert timed.allowed_events is None and timed.week_share == pytest.approx(2 * 7 / 28)
    assert timed.exhaustion_seconds == pytest.approx(0.5 / 0.5 * WEEK)
    # budget already spent: no exhaustion time; no numbers: no share
    assert (
        budget(week, evaluate(Measurement(0.98, 40_000), 0.99, 28 * 86400)).exhaustion_seconds
        is None
    )
    assert budget(evaluate(Measurement(None), 0.99, WEEK), period).week_share is None


def test_week_over_week_change_is_na_without_a_previous_value() -> None:
    assert week_over_week(120.0, 100.0) == (20.0, 0.2)
    assert week_over_week(120.0, None) == (None, None)
    assert week_over_week(5.0, 0.0) == (5.0, None)


def test_worst_first_orders_by_status_then_burn_rate() -> None:
    frame = pd.DataFrame(
        {
            "slo": ["a", "b", "c", "d", "e"],
            "status": ["met", "breached", "at_risk", "invalid", "at_risk"],
            "burn_rate": [0.2, 3.0, 1.5, None, 2.5],
        }
    )
    assert list(worst_first(frame)["slo"]) == ["b", "e", "c", "d", "a"]


START = pd.Timestamp("2026-11-01", tz="UTC")


def hours(*rows: tuple[str, int, float, float]) -> pd.DataFrame:
    """(group, hour, error ratio, events) rows as a history frame."""
    return pd.DataFrame(
        [(g, START + pd.Timedelta(hours=h), e, n)
         for g, h, e, n in rows],
        columns=["group", "time", "error_ratio", "events"],
    )  # fmt: skip


def test_rolling_sli_weights_hours_by_their_events() -> None:
    history = hours(("a", 0, 0.0, 100), ("a", 1, 0.5, 100), ("a", 2, 0.1, 800),
                    ("b", 0, 0.2, 10), ("b", 1, float("nan"), 0))  # fmt: skip
    rolling = rolling_sli(history, START - pd.Timedelta(hours=1), hours=2)
    a = rolling[rolling["group"] == "a"]["sli"].tolist()
    assert a == pytest.approx([1.0, 1 - 50 / 200, 1 - (50 + 80) / 900])
    b = rolling[rolling["group"] == "b"]["sli"].tolist()
    assert b[0] == pytest.approx(0.8)


def test_rolling_sli_shows_whole_windows_of_clock_hours_only() -> None:
    # hours 3 and 4 have no data: the window ending at hour 5 holds hour 5 alone, not hour 2
    history = hours(("a", 0, 0.5, 100), ("a", 1, 0.0, 100), ("a", 2, 0.1, 100),
                    ("a", 5, 0.2, 100))  # fmt: skip
    rolling = rolling_sli(history, since=START, hours=2)
    assert rolling["time"].tolist() == [START + pd.Timedelta(hours=h) for h in (1, 2, 5)]
    # the first point shown covers hours 0 and 1: the history reaches back a whole window
    assert rolling["sli"].tolist() == pytest.approx([1 - 50 / 200, 1 - 10 / 200, 0.8])


def test_budget_burndown_spends_the_period_budget_hour_by_hour() -> None:
    # 4 hours of 100 events, objective 0.99: the period allows 4 bad events
    history = hours(("a", 0, 0.0, 100), ("a", 1, 0.01, 100), ("a", 2, 0.02, 100),
                    ("a", 3, 0.0, 100))  # fmt: skip
    remaining = budget_burndown(history, 0.99)["remaining"].tolist()
    assert remaining == pytest.approx([1.0, 0.75, 0.25, 0.25])


def test_chart_math_on_no_history_is_empty() -> None:
    empty = hours()
    assert rolling_sli(empty, START).empty and budget_burndown(empty, 0.9).empty
