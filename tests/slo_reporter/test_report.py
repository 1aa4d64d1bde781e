"""The SLO table of the report, from the real Prometheus of conftest.py: statuses and numbers
checked against the hand-computed history."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from slo_reporter.definitions import load_slos
from slo_reporter.render import (
    budget_lines,
    duration,
    hours,
    number,
    percent,
    points,
    relative,
)
from slo_reporter.report import Week, chart_series, kpi_table, slo_table
from slo_reporter.sources import PrometheusSettings, PrometheusSource
from tests.slo_reporter.conftest import (
    DOWN,
    END,
    REPORT_WEEK,
    STEPS,
    WEEK_STEPS,
    range_query,
)


def test_slo_table_statuses_and_numbers(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    table = slo_table(load_slos(), source, REPORT_WEEK)
    rows: dict[tuple[Any, Any], dict[Any, Any]] = {
        (row["slo"], row["group"]): row for row in table.to_dict("records")
    }
    requests = rows[("user-api-requests", "")]
    assert requests["sli"] == pytest.approx(0.95)
    assert requests["burn_rate"] == pytest.approx(5.0)  # (1 - 0.95) / (1 - 0.99)
    assert requests["period_sli"] == pytest.approx(1 - 11 / 400)
    assert requests["status"] == "breached"  # the 28-day SLI is under 0.99
    assert requests["change"] == pytest.approx(0.95 - 0.98)
    availability = rows[("user-api-availability", "")]
    week_sli = 1 - len(DOWN) / (WEEK_STEPS + 1)
    assert availability["sli"] == pytest.approx(week_sli)
    assert availability["status"] == "at_risk"  # burned 2x faster this week, period still met
    assert rows[("workflows-success", "adviser")]["status"] == "breached"
    assert rows[("workflows-success", "solver")]["status"] == "met"
    freshness = rows[("metrics-exporter-freshness", "")]
    assert (freshness["status"], freshness["errors"]) == ("no_data", "no data")
    assert next(iter(rows.values()))["status"] == "breached"  # worst first
    latency = [row for (slo, _), row in rows.items() if slo == "workflows-latency"]
    assert [row["status"] for row in latency] == ["no_data"]  # no histogram in the history


def test_error_budget_in_time_events_this_weeks_share_and_exhaustion(prometheus: str) -> None:
    """By hand from the history: 28 days are 8064 steps, the last 2016 of them this week."""
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    table = slo_table(load_slos(), source, REPORT_WEEK)
    rows: dict[Any, dict[Any, Any]] = {row["slo"]: row for row in table.to_dict("records")}
    requests = rows["user-api-requests"]  # 100 requests a step; 5 failed this week, 2 before
    failures = 2016 * 5 + 6048 * 2
    assert requests["period_events"] == 8064 * 100
    assert requests["budget_allowed_events"] == pytest.approx(0.01 * 8064 * 100)
    assert requests["budget_spent_events"] == pytest.approx(failures)
    assert requests["week_budget_share"] == pytest.approx(2016 * 5 / (0.01 * 8064 * 100))
    assert pd.isna(requests["budget_exhaustion_seconds"])  # already spent
    assert requests["budget_allowed_minutes"] == pytest.approx(0.01 * 28 * 1440)
    assert budget_lines(requests) == [
        "budget left: -175.0% (overspent by 11 h 46 min; 6 h 43 min allowed per 28 d)",
        "failures: 22,176 of 8,064 allowed per 28 d",
        "this week burned 125.0% of it",
    ]
    availability = rows["user-api-availability"]  # a sample a step, 20 of them down this week
    burn_rate = len(DOWN) / (WEEK_STEPS + 1) / 0.005
    left = 1 - len(DOWN) / (8064 + 1) / 0.005
    assert availability["burn_rate"] == pytest.approx(burn_rate)
    assert availability["budget_remaining"] == pytest.approx(left)
    assert availability["week_budget_share"] == pytest.approx(burn_rate * 7 / 28)
    exhaustion = left / (burn_rate * 7 / 28) * 7 * 86400  # 7.12 days at this week's rate
    assert availability["budget_exhaustion_seconds"] == pytest.approx(exhaustion)
    assert pd.isna(availability["budget_allowed_events"])  # no event count
    assert budget_lines(availability) == [
        "budget left: 50.4% (1 h 42 min of 3 h 22 min allowed per 28 d)",
        "this week burned 49.6% of it; at this rate it runs out in 7 d 02 h",
    ]


def test_sli_chart_points_are_whole_24_hour_windows_from_the_first(prometheus: str) -> None:
    """Each point of the SLI chart against Prometheus' own SLI over the 24 hours before it.
    The chart is placed to begin where the history changes (the error ratio at the start of
    the last week; the User API down 3 hours before the end): a first point computed from the
    hours fetched so far (as it was) shows the 1-hour SLI there, not the 24-hour one."""
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    slos = {slo.id: slo for slo in load_slos()}
    counters = slos["user-api-requests"].sli.counters
    assert counters is not None and counters.bad
    checks = (
        # (SLO, PromQL of its 24-hour SLI, the chart shows the points after, tolerance)
        # hourly increases add up exactly to the 24-hour increase
        ("user-api-requests", f"1 - sum(increase({counters.counted}[24h]))"
                              f" / sum(increase({counters.total}[24h]))",
         END - timedelta(days=7, hours=-11), 1e-9),
        # Prometheus 2 ranges include both ends, so the 24 hourly averages count the samples
        # on hour boundaries twice: a difference of about 1e-3 while the API is down
        ("user-api-availability", 'avg_over_time(up{job="user-api"}[24h])',
         END - timedelta(hours=3), 2e-3),
    )  # fmt: skip
    for slo_id, query, shown, tolerance in checks:
        series = chart_series(slos[slo_id], source, shown + timedelta(days=28))
        assert series is not None
        chart = series[0][series[0]["time"] <= pd.Timestamp(END)]
        expected = range_query(prometheus, query, shown + timedelta(hours=1), END, 3600)[0][
            "values"
        ]
        assert len(chart) == len(expected) == (END - shown) // timedelta(hours=1)
        assert chart["sli"].tolist() == pytest.approx([float(v) for _, v in expected],
                                                      abs=tolerance)  # fmt: skip
        assert chart["time"].tolist() == [pd.Timestamp(float(t), unit="s", tz="UTC")
                                          for t, _ in expected]  # fmt: skip


def test_kpis_with_week_over_week_change_and_na(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    kpis: dict[Any, dict[Any, Any]] = {
        row["kpi"]: row for row in kpi_table(source, REPORT_WEEK).to_dict("records")
    }
    versions = kpis["Python package versions"]
    assert versions["value"] == 1000 + STEPS
    assert versions["change"] == WEEK_STEPS  # one more per step
    assert versions["relative_change"] == pytest.approx(WEEK_STEPS / (1000 + STEPS - WEEK_STEPS))
    cves = kpis["CVE records"]
    assert cves["value"] == STEPS
    # no CVE series a week ago: n/a (NaN in the frame), never a fake change
    assert all(pd.isna(cves[key]) for key in ("previous", "change", "relative_change"))
    assert pd.isna(kpis["Adviser runs"]["value"])  # no such series in this history


def test_weeks_are_iso_weeks_in_the_timezone() -> None:
    week = Week.parse("2026-W47")
    assert (week.start.isoformat(), week.end.isoformat()) == (
        "2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00"
    )  # fmt: skip
    wednesday = datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert Week.last_full(wednesday).label == "2026-W47"
    assert Week.last_full(wednesday, back=2).label == "2026-W45"
    # Monday 00:30 in Prague is still Sunday in UTC: the week that just ended there is W47
    assert Week.last_full(datetime(2026, 11, 23, 0, 30, tzinfo=UTC), "Europe/Prague").label == (
        "2026-W47"
    )
    assert Week.last_full(datetime(2026, 11, 22, 22, 30, tzinfo=UTC)).label == "2026-W46"
    # the week summer time ends has 169 hours, Monday to Monday on the wall clock
    autumn = Week.parse("2026-W43", "Europe/Prague")
    assert autumn.end.timestamp() - autumn.start.timestamp() == 169 * 3600
    with pytest.raises(ValueError, match="expected an ISO week such as 2026-W47"):
        Week.parse("2026-47")


def test_numbers_are_formatted_with_their_unit_and_na() -> None:
    assert (points(-1e-9), points(-0.0069), points(None)) == ("+0.00 pp", "-0.69 pp", "n/a")
    assert (duration(-4000), duration(65), duration(5), duration(float("nan"))) == (
        "-2 d 18 h", "1 h 05 min", "5 min", "n/a"
    )  # fmt: skip
    assert (hours(7 * 86400), hours(167 * 3600), hours(169 * 3600)) == ("7 d", "167 h", "169 h")
    assert (percent(0.99512, 3), relative(0.0511), number(1234567.0, signed=True)) == (
        "99.512%", "+5.11%", "+1,234,567"
    )  # fmt: skip
