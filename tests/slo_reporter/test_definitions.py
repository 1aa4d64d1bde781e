"""SLO definitions: our format, OpenSLO v1, precise errors, and the PromQL they turn into."""

from collections.abc import Mapping
from pathlib import Path

import pytest

from exporters.config import ConfigError
from slo_reporter.definitions import SLO, error_ratio, load_slos

RATIO = """
slos:
  - service: user-api
    name: requests
    description: Requests answered without a server error.
    objective: 0.99
    sli:
      ratio:
        bad: http_requests_total{job="user-api", code=~"5.."}
        total: http_requests_total{job="user-api"}
"""


def write(tmp_path: Path, text: str, name: str = "slos.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_slos(path)
    return caught.value.problems


def test_ratio_slo_loads_with_defaults(tmp_path: Path) -> None:
    (slo,) = load_slos(write(tmp_path, RATIO))
    assert (slo.id, slo.window, slo.budget_period) == ("user-api-requests", 604800, 2419200)
    assert error_ratio(slo, "5m") == (
        '(sum (rate(http_requests_total{job="user-api", code=~"5.."}[5m])) / '
        'sum (rate(http_requests_total{job="user-api"}[5m])))'
    )


def test_each_sli_kind_becomes_an_error_ratio() -> None:
    def slo(sli: Mapping[str, object], group_by: str | None = None) -> SLO:
        return SLO.model_validate({"service": "s", "name": "n", "description": "d",
                                   "objective": 0.9, "sli": sli, "group_by": group_by})  # fmt: skip

    assert error_ratio(
        slo({"ratio": {"good": "ok_total", "total": "all_total"}}, "name"), "1h"
    ) == ("(1 - sum by (name) (rate(ok_total[1h])) / sum by (name) (rate(all_total[1h])))")
    latency = {"latency": {"histogram": "runtime_seconds", "threshold": "600", "selector": 'x="y"'}}
    assert error_ratio(slo(latency), "1d") == (
        '(1 - sum (rate(runtime_seconds_bucket{x="y",le="600"}[1d])) / '
        'sum (rate(runtime_seconds_count{x="y"}[1d])))'
    )
    assert error_ratio(slo({"availability": {"expr": 'up{job="api"}'}}), "7d") == (
        '(1 - avg (avg_over_time(up{job="api"}[7d])))'
    )
    raw = {"promql": {"expr": "avg_over_time(ok[{{window}}])"}}
    assert error_ratio(slo(raw), "30m") == "(1 - (avg_over_time(ok[30m])))"


def test_errors_name_the_slo_and_field(tmp_path: Path) -> None:
    both = RATIO.replace("0.99", "1.5").replace("bad:", "good: ok_total\n        bad:")
    found = problems(write(tmp_path, both))
    messages = dict(found)
    assert "Input should be less than 1" in messages["slos.0.objective"]
    assert "give exactly one of good and bad" in messages["slos.0.sli.ratio"]
    twice = RATIO + RATIO.split("slos:\n", 1)[1]
    assert problems(write(tmp_path, twice)) == [("slos.1", "duplicate SLO user-api-requests")]


OPENSLO = """
apiVersion: openslo/v1
kind: SLI
metadata: {name: api-errors}
spec:
  ratioMetric:
    counter: true
    bad: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{code=~"5.."}'}}}
    total: {metricSource: {type: Prometheus, spec: {query: http_requests_total}}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: api-availability, labels: {repo: thoth-station/user-api}}
spec:
  service: user-api
  description: API requests without server errors.
  indicatorRef: api-errors
  budgetingMethod: Occurrences
  timeWindow: [{duration: 28d, isRolling: true}]
  objectives: [{displayName: good, target: 0.995}]
"""


def test_openslo_ratio_documents_are_accepted(tmp_path: Path) -> None:
    (slo,) = load_slos(write(tmp_path, OPENSLO))
    assert (slo.id, slo.objective, slo.budget_period) == (
        "user-api-api-availability",
        0.995,
        2419200,
    )
    assert slo.labels == {"repo": "thoth-station/user-api"}
    assert slo.sli.ratio is not None and slo.sli.ratio.bad == 'http_requests_total{code=~"5.."}'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("Occurrences", "Timeslices"),
            "unsupported budgetingMethod 'Timeslices' (only Occurrences)",
        ),
        (("isRolling: true", "isRolling: false"), "only one rolling timeWindow is supported"),
        (
            ("type: Prometheus, spec: {query: http", "type: Datadog, spec: {query: http"),
            "ratioMetric.total: unsupported metricSource type 'Datadog'",
        ),
        (
            ("  indicatorRef", "  alertPolicies: [x]\n  indicatorRef"),
            "unsupported OpenSLO SLO fields: alertPolicies",
        ),
        (
            ("target: 0.995}", "target: 0.995, timeSliceTarget: 0.9}"),
            "unsupported objective fields: timeSliceTarget",
        ),
    ],
)
def test_unsupported_openslo_features_are_named(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    found = problems(write(tmp_path, OPENSLO.replace(*change)))
    assert any(message in text for _, text in found), found


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "---\n...\n"])
def test_a_file_without_slos_is_refused(tmp_path: Path, text: str) -> None:
    assert problems(write(tmp_path, text)) == [
        ("", "no SLOs defined (expected a `slos:` list or OpenSLO SLO documents)")
    ]
    only_indicator = OPENSLO.split("---")[0]
    assert problems(write(tmp_path, only_indicator))[0][1].startswith("no SLOs defined")


LATENCY = """
slos:
  - service: adviser
    name: latency
    description: Advises within ten minutes.
    objective: 0.9
    sli: {latency: {histogram: adviser_duration_seconds, threshold: THRESHOLD}}
"""


@pytest.mark.parametrize("threshold", ['"abc"', '""', "[600]", "true", ".nan"])
def test_latency_threshold_must_be_a_number(tmp_path: Path, threshold: str) -> None:
    (location, message), *_ = problems(write(tmp_path, LATENCY.replace("THRESHOLD", threshold)))
    assert location == "slos.0.sli.latency.threshold"
    assert "number" in message


@pytest.mark.parametrize(
    ("threshold", "le"), [('"600"', "600"), ("600", "600"), ("0.5", "0.5"), ('"+Inf"', "+Inf")]
)
def test_latency_threshold_keeps_the_bucket_label_text(
    tmp_path: Path, threshold: str, le: str
) -> None:
    (slo,) = load_slos(write(tmp_path, LATENCY.replace("THRESHOLD", threshold)))
    counters = slo.sli.counters
    assert (
        counters is not None and counters.counted == f'adviser_duration_seconds_bucket{{le="{le}"}}'
    )


def test_a_file_that_is_not_utf8_gets_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "slos.yaml"
    path.write_bytes(RATIO.replace("Requests", "Requ\xeates").encode("latin-1"))
    [(location, message)] = problems(path)
    assert location.startswith("line 5") and message.startswith("not UTF-8 text (byte 0xea)")


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [("4w", 28 * 86400), ("1w", 7 * 86400), ("672h", 28 * 86400), ("28d", 28 * 86400)],
)
def test_openslo_durations_accept_weeks(tmp_path: Path, duration: str, seconds: int) -> None:
    (slo,) = load_slos(write(tmp_path, OPENSLO.replace("duration: 28d", f"duration: {duration}")))
    assert slo.budget_period == seconds


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        ("1M", "M (month, quarter, year) has no fixed length"),
        ("4 weeks", "expected e.g. 28d or 4w"),
    ],
)
def test_openslo_durations_without_a_fixed_length_are_refused(
    tmp_path: Path, duration: str, message: str
) -> None:
    found = problems(write(tmp_path, OPENSLO.replace("duration: 28d", f"duration: {duration}")))
    assert any(message in text for _, text in found), found
