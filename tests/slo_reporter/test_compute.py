"""SLO arithmetic against hand-computed values."""

import pandas as pd
import pytest

from slo_reporter.compute import Measurement, evaluate, status, week_over_week, worst_first

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


def test_status_breached_at_risk_met_invalid() -> None:
    good_period = evaluate(Measurement(0.995, 1000), 0.99, 28 * 86400)
    spent_period = evaluate(Measurement(0.985, 1000), 0.99, 28 * 86400)
    calm_week = evaluate(Measurement(0.999, 1000), 0.99, WEEK)
    hot_week = evaluate(Measurement(0.98, 1000), 0.99, WEEK)
    assert status(calm_week, good_period) == "met"
    assert status(hot_week, good_period) == "at_risk"
    assert status(calm_week, spent_period) == "breached"
    assert status(evaluate(Measurement(None), 0.99, WEEK), good_period) == "invalid"


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
