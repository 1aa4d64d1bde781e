"""The report at its edges, on a Prometheus of its own: the week summer time starts in Prague
(167 hours), and a previous week with too few events."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from slo_reporter.definitions import SLO
from slo_reporter.report import Week, slo_table
from slo_reporter.sources import PrometheusSettings, PrometheusSource
from tests.slo_reporter.conftest import serve_history

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
    return "\n".join(lines) + "\n# EOF\n"


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
