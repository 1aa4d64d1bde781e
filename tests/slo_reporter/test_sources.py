"""SLO measurements from the real Prometheus of conftest.py; every expected number is worked
out by hand from its synthetic history."""

from datetime import timedelta

import pytest

from tests.support.prometheus import DOWN, END, STEP, WEEK, WEEK_STEPS
from thoth_monitoring.demo.processes import answering, free_port
from thoth_monitoring.slo_reporter.definitions import SLO, load_slos
from thoth_monitoring.slo_reporter.sources import (
    PrometheusError,
    PrometheusSettings,
    PrometheusSource,
    Window,
    refused_queries,
)


def test_ratio_sli_events_and_previous_week(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    requests = next(s for s in load_slos() if s.id == "user-api-requests")
    week = source.measure(requests, Window(END, WEEK))[""]
    assert week.sli == pytest.approx(0.95)
    assert week.events == pytest.approx(WEEK_STEPS * 100)
    previous = source.measure(requests, Window(END - timedelta(seconds=WEEK), WEEK))[""]
    assert previous.sli == pytest.approx(0.98)
    period = source.measure(requests, Window(END, 28 * 86400))[""]
    assert period.sli == pytest.approx(1 - (3 * 2 + 5) / 400)  # weeks 2-4 at 2 %, week 5 at 5 %
    assert source.queries == 6  # SLI and events per window, whatever the number of series


def test_grouped_ratio_gives_one_measurement_per_workflow(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    success = next(s for s in load_slos() if s.id == "workflows-success")
    measured = source.measure(success, Window(END, WEEK))
    assert measured["adviser"].sli == pytest.approx(0.75)
    assert measured["adviser"].events == pytest.approx(WEEK_STEPS * 4)
    assert measured["solver"].sli == pytest.approx(1.0)
    assert source.queries == 2


def test_availability_sli_is_the_share_of_up_samples(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    availability = next(s for s in load_slos() if s.id == "user-api-availability")
    measured = source.measure(availability, Window(END, WEEK))[""]
    samples = WEEK_STEPS + 1  # both ends of the range hold a sample
    assert measured.sli == pytest.approx(1 - len(DOWN) / samples)
    assert measured.events is None


def test_hourly_history_for_the_charts(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    requests = next(s for s in load_slos() if s.id == "user-api-requests")
    history = source.history(requests, END, 28 * 86400)
    assert source.queries == 2  # error ratio and events, one point an hour
    assert len(history) == 28 * 24 + 1 and set(history["group"]) == {""}
    last_week = history[history["time"] > END - timedelta(days=7)]
    before = history[history["time"] <= END - timedelta(days=7, hours=1)]
    assert last_week["error_ratio"].tolist() == pytest.approx([0.05] * len(last_week))
    assert before["error_ratio"].tolist() == pytest.approx([0.02] * len(before))
    assert history["events"].tolist() == pytest.approx([100 * 3600 / STEP] * len(history))


def test_a_counter_that_never_appeared_counts_zero_not_no_data(prometheus: str) -> None:
    """Error counters often appear only with the first error: a service without one is at 100 %."""
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    slo = SLO.model_validate({
        "service": "user-api", "name": "gateway-timeouts", "description": "No 504s.",
        "objective": 0.99, "sli": {"ratio": {"bad": 'flask_http_request_total{status="504"}',
                                             "total": "flask_http_request_total"}},
    })  # fmt: skip
    week = source.measure(slo, Window(END, WEEK))[""]
    assert week.sli == 1.0
    assert week.events == pytest.approx(WEEK_STEPS * 100)
    history = source.history(slo, END, WEEK)
    assert set(history["error_ratio"]) == {0.0}


def broken_slo(expr: str = "up{{{") -> SLO:
    return SLO.model_validate({
        "service": "user-api", "name": "broken", "description": "Invalid PromQL.",
        "objective": 0.99, "sli": {"availability": {"expr": expr}},
    })  # fmt: skip


def test_invalid_promql_is_refused_with_prometheus_words(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    with pytest.raises(PrometheusError) as caught:
        source.measure(broken_slo(), Window(END, WEEK))
    error = caught.value
    assert (error.slo, error.refused) == ("user-api-broken", True)
    assert error.query == "1 - (1 - avg (avg_over_time(up{{{[604800s])))"
    assert error.message.startswith("Prometheus answered HTTP 400: ")
    assert "parse error" in error.message
    assert str(error).startswith("SLO user-api-broken, query `1 - (1 - avg")
    with pytest.raises(PrometheusError, match=r"SLO user-api-broken, .*parse error"):
        source.history(broken_slo(), END, WEEK)


def test_unreachable_prometheus_names_the_slo_and_the_reason() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    source = PrometheusSource(PrometheusSettings(url=url, retries=0))
    with pytest.raises(PrometheusError) as caught:
        source.measure(broken_slo("up"), Window(END, WEEK))
    assert (caught.value.slo, caught.value.refused) == ("user-api-broken", False)
    assert (
        caught.value.message == f"Prometheus at {url} unreachable: [Errno 111] Connection refused"
    )
    assert "\n" not in str(caught.value)


def test_http_500_is_reported_with_its_body() -> None:
    with answering(500, b"<html>\n<b>internal error</b>\n</html>") as url:
        source = PrometheusSource(PrometheusSettings(url=url, retries=0))
        with pytest.raises(PrometheusError) as caught:
            source.measure(broken_slo("up"), Window(END, WEEK))
    assert caught.value.slo == "user-api-broken" and not caught.value.refused
    assert (
        caught.value.message == "Prometheus answered HTTP 500: <html> <b>internal error</b> </html>"
    )


def test_refused_queries_checks_each_slo_once_at_a_fixed_time(prometheus: str) -> None:
    source = PrometheusSource(PrometheusSettings(url=prometheus))
    refused = refused_queries(source, [*load_slos(), broken_slo()])
    assert [error.slo for error in refused] == ["user-api-broken"]
    assert source.queries == 2 * 3 + 1 + 1 + 1  # 2 ratio + 1 latency, availability, raw, broken
