"""The report at its edges, on a Prometheus of its own: the week summer time starts in Prague
(167 hours), a previous week with too few events, a week with none, and the burn-rate alerts
that fired (Prometheus' ALERTS series)."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from slo_reporter.definitions import SLO
from slo_reporter.render import render_html, render_json, render_text
from slo_reporter.report import Week, build_report, fired_alerts, slo_table
from slo_reporter.sources import PrometheusSettings, PrometheusSource
from tests.slo_reporter.conftest import range_query, serve_history

WEEK = Week.parse("2026-W13", "Europe/Prague")  # clocks go forward on Sunday 29 March
STEP = 300
FIRST = WEEK.start - timedelta(hours=2)  # the history begins 2 hours before the week
STEPS = int((WEEK.end - FIRST).total_seconds()) // STEP
SLO_ = SLO.model_validate({
    "service": "edge", "name": "requests", "description": "d", "objective": 0.99,
    "min_events": 100,
    "sli": {"ratio": {"bad": 'edge_requests_total{code="500"}', "total": "edge_requests_total"}},
})  # fmt: skip


def history() -> str:
    """One good request a step throughout, and one failed request a step in the hour before
    the week only: 12 failures the week must not see."""
    start = FIRST.timestamp()
    lines = ["# TYPE edge_requests_total gauge"]
    for i in range(STEPS + 1):
        at = f"{start + i * STEP:.0f}"
        lines.append(f'edge_requests_total{{code="200"}} {i} {at}')
        lines.append(f'edge_requests_total{{code="500"}} {min(max(i - 12, 0), 12)} {at}')
    lines.append("# TYPE ALERTS gauge")
    for alert, state, begin, minutes in ALERTS:
        severity = "critical" if alert.endswith("Fast") else "warning"
        labels = (f'alertname="{alert}",alertstate="{state}",severity="{severity}",'
                  f'slo_id="edge-requests"')  # fmt: skip
        lines.extend(
            f"ALERTS{{{labels}}} 1 {begin.timestamp() + 60 * m:.0f}" for m in range(minutes)
        )
    return "\n".join(lines) + "\n# EOF\n"


# (alert, state, first sample, minutes): a sample a minute, as a rule evaluated every minute
ALERTS = (
    ("ThothSLOBudgetBurnFast", "firing", WEEK.start + timedelta(hours=25), 30),
    ("ThothSLOBudgetBurnFast", "pending", WEEK.start + timedelta(hours=24, minutes=58), 2),
    ("ThothSLOBudgetBurnSlow", "firing", FIRST, 30),  # over 90 minutes before the week
    ("ThothSLOBudgetBurnSlow", "firing", WEEK.start + timedelta(days=3), 150),
    ("ThothExporterDown", "firing", WEEK.start + timedelta(days=4), 10),  # not a burn rate
)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_history(tmp_path_factory.mktemp("edges"), history()) as url:
        yield url


def report_rows(prometheus: str) -> list[dict[Any, Any]]:
    table = slo_table([SLO_], PrometheusSource(PrometheusSettings(url=prometheus)), WEEK)
    rows: list[dict[Any, Any]] = table.to_dict("records")
    return rows


def test_weeks_with_a_clock_change_have_their_real_length() -> None:
    assert WEEK.seconds == 167 * 3600
    autumn = Week.parse("2026-W44", "Europe/Prague").previous()
    assert (autumn.label, autumn.seconds) == ("2026-W43", 169 * 3600)
    assert Week.parse("2026-W47").previous().label == "2026-W46"


def test_the_week_of_a_clock_change_is_queried_over_its_real_length(prometheus: str) -> None:
    [row] = report_rows(prometheus)
    assert row["window_seconds"] == 167 * 3600
    # 167 hours of 12 good requests; 7 x 24 hours would reach into Sunday 22:00-23:00 UTC of
    # the week before, with its 12 failures: 2028 events, SLI 1 - 12/2028
    assert (row["events"], row["sli"]) == (167 * 12, 1.0)


def test_change_is_na_when_the_previous_week_had_too_few_events(prometheus: str) -> None:
    [row] = report_rows(prometheus)
    # the week before holds the history's first 2 hours: 24 + 12 = 36 events, under 100
    assert pd.isna(row["previous_sli"]) and pd.isna(row["change"])
    assert row["status"] == "met"


def test_too_few_events_and_no_data_are_two_statuses(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    before = slo_table([SLO_], source, WEEK.previous()).to_dict("records")
    assert [(row["status"], row["errors"]) for row in before] == [
        ("too_few_events", "too few events (36 < 100)")
    ]
    empty = slo_table([SLO_], source, WEEK.previous().previous()).to_dict("records")
    assert [(row["status"], row["errors"]) for row in empty] == [("no_data", "no data")]


def test_burn_rate_alerts_that_fired_in_the_week(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    alerts = fired_alerts([SLO_], source, WEEK)
    assert source.queries == 2  # for every SLO at once
    rows = alerts.to_dict("records")
    assert [(row["alert"], row["severity"], row["slo"], row["group"]) for row in rows] == [
        ("ThothSLOBudgetBurnFast", "critical", "edge-requests", ""),
        ("ThothSLOBudgetBurnSlow", "warning", "edge-requests", ""),
    ]
    assert [row["first"] for row in rows] == [
        WEEK.start + timedelta(hours=25), WEEK.start + timedelta(days=3)
    ]  # fmt: skip
    assert str(rows[0]["first"].tzinfo) == "Europe/Prague"
    # the minutes Prometheus itself shows each alert firing, a point a minute through the week
    shown = range_query(
        prometheus,
        'count by (alertname) (ALERTS{alertstate="firing", alertname=~"ThothSLO.*"})',
        WEEK.start + timedelta(minutes=1), WEEK.end, 60,
    )  # fmt: skip
    minutes = {item["metric"]["alertname"]: len(item["values"]) for item in shown}
    assert [row["minutes"] for row in rows] == [
        minutes["ThothSLOBudgetBurnFast"], minutes["ThothSLOBudgetBurnSlow"]
    ]  # fmt: skip
    # the samples plus Prometheus' 5-minute look-back (backfilled series end without a
    # staleness marker)
    assert minutes == {"ThothSLOBudgetBurnFast": 30 + 5, "ThothSLOBudgetBurnSlow": 150 + 5}


def test_the_text_json_and_html_parts_carry_the_same_alerts_and_window(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    report = build_report([SLO_], source, WEEK, None, datetime.now(UTC))
    text = render_text(report)
    assert "SLI 167 h: 100.000% (2,004 events), change vs previous week n/a" in text
    line = "first firing Tue 24 Mar 01:00, firing for 35 min"
    assert f"- ThothSLOBudgetBurnFast (critical) edge-requests: {line}" in text
    document = json.loads(render_json(report))
    assert document["alerts"][0] == {
        "alert": "ThothSLOBudgetBurnFast", "severity": "critical", "slo": "edge-requests",
        "group": "", "first": "2026-03-24T01:00:00+01:00", "minutes": 35,
    }  # fmt: skip
    html = render_html(report)
    assert ">Tue 24 Mar 01:00</td>" in html and ">35 min</td>" in html
