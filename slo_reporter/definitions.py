"""SLO definitions: our YAML format and OpenSLO v1 (the Prometheus ratio subset), validated into
one frozen model. The same definitions drive the weekly report and the burn-rate rules, through
``error_ratio``: the PromQL of an SLI's error ratio over a window.
"""

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from exporters.config import ConfigError, Duration, load_yaml_documents, validate

DEFAULT_SLOS = Path(__file__).with_name("slos.yaml")
_NAME = r"^[a-z0-9][a-z0-9-]*$"
_WINDOW = re.compile(r"\{\{\s*window\s*\}\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatioSLI(_Strict):
    """Counters: good (or bad) events over total events. Each is a counter selector such as
    ``http_requests_total{code!~"5.."}``; rates and increases are applied to it."""

    good: str | None = None
    bad: str | None = None
    total: str

    @model_validator(mode="after")
    def _good_or_bad(self) -> "RatioSLI":
        if (self.good is None) == (self.bad is None):
            raise ValueError("give exactly one of good and bad")
        return self


def _bucket_boundary(value: object) -> str:
    """An ``le`` label value, kept as written (``"0.5"``, ``600``, ``"+Inf"``): the query matches
    the bucket's label text exactly, so it is checked to be a number but not reformatted."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a number, the le value of a bucket such as 600 or '0.5'")
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a number (expected the le value of a bucket such as 600 or '0.5')"
        ) from None
    if math.isnan(number):
        raise ValueError("expected a number, not NaN")
    return text


class LatencySLI(_Strict):
    """The share of a histogram's observations at or under a bucket boundary."""

    histogram: str = Field(description="metric name without _bucket/_count")
    threshold: Annotated[str, BeforeValidator(_bucket_boundary)] = Field(
        description="the le value of an existing bucket, e.g. '600'"
    )
    selector: str = Field("", description='label matchers, e.g. name=~"adviser.*"')


class AvailabilitySLI(_Strict):
    """A 0/1 signal such as ``up`` or ``probe_success``; the SLI is its average."""

    expr: str


class PromQLSLI(_Strict):
    """Raw PromQL giving the SLI (0-1); ``{{window}}`` stands for the window's duration (``7d``),
    e.g. ``avg_over_time(x[{{window}}])`` or a subquery ``[{{window}}:5m]``."""

    expr: str = Field(pattern=r"\{\{\s*window\s*\}\}")
    events: str | None = Field(None, description="PromQL of the event count, if any")


@dataclass(frozen=True)
class Counters:
    """An SLI made of two counters: ``counted`` events (bad ones if ``bad``, else good ones)
    among ``total`` events."""

    counted: str
    total: str
    bad: bool


class SLI(_Strict):
    ratio: RatioSLI | None = None
    latency: LatencySLI | None = None
    availability: AvailabilitySLI | None = None
    promql: PromQLSLI | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "SLI":
        given = [
            kind for kind in ("ratio", "latency", "availability", "promql") if getattr(self, kind)
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one SLI kind (ratio, latency, availability, promql); got "
                + (", ".join(given) or "none")
            )
        return self

    @property
    def counters(self) -> "Counters | None":
        """The two counters behind a ratio or latency SLI; None for the other kinds."""
        if self.ratio is not None:
            counted = self.ratio.bad or self.ratio.good
            assert counted is not None
            return Counters(counted, self.ratio.total, bad=self.ratio.bad is not None)
        if self.latency is not None:
            latency = self.latency
            sep = "," if latency.selector else ""
            good = f'{latency.histogram}_bucket{{{latency.selector}{sep}le="{latency.threshold}"}}'
            return Counters(good, f"{latency.histogram}_count{{{latency.selector}}}", bad=False)
        return None

    @property
    def kind(self) -> Literal["ratio", "latency", "availability", "promql"]:
        for kind in ("ratio", "latency", "availability", "promql"):
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated to have one kind")


Objective = Annotated[float, Field(gt=0, lt=1)]


class SLO(_Strict):
    service: str = Field(pattern=_NAME)
    name: str = Field(pattern=_NAME)
    description: str = Field(min_length=1)
    objective: Objective
    window: Duration = 7 * 86400.0
    budget_period: Duration = 28 * 86400.0
    sli: SLI
    group_by: str | None = Field(None, pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    labels: dict[str, str] = Field(default_factory=dict)
    min_events: int = Field(1, ge=0)

    @property
    def id(self) -> str:
        return f"{self.service}-{self.name}"


class SLOFile(_Strict):
    slos: list[SLO] = Field(min_length=1)


def load_slos(path: Path = DEFAULT_SLOS) -> list[SLO]:
    """Our format or a multi-document OpenSLO v1 file; ids must be unique."""
    documents = load_yaml_documents(path)
    if len(documents) == 1 and isinstance(documents[0], dict) and "slos" in documents[0]:
        slos = validate(SLOFile, documents[0], str(path)).slos
    else:
        slos = from_openslo(path, documents)
    if not slos:
        raise ConfigError(
            str(path), [("", "no SLOs defined (expected a `slos:` list or OpenSLO SLO documents)")]
        )
    seen: set[str] = set()
    for index, slo in enumerate(slos):
        if slo.id in seen:
            raise ConfigError(str(path), [(f"slos.{index}", f"duplicate SLO {slo.id}")])
        seen.add(slo.id)
    return slos


def error_ratio(slo: SLO, window: str) -> str:
    """PromQL of the SLO's error ratio (0-1) over ``window`` (e.g. ``5m``, ``7d``), one series
    per ``group_by`` value."""
    by = f" by ({slo.group_by})" if slo.group_by else ""
    sli = slo.sli
    counters = sli.counters
    if counters is not None:
        counted = f"sum{by} (rate({counters.counted}[{window}]))"
        total = f"sum{by} (rate({counters.total}[{window}]))"
        return f"({counted} / {total})" if counters.bad else f"(1 - {counted} / {total})"
    if sli.availability is not None:
        return f"(1 - avg{by} (avg_over_time({sli.availability.expr}[{window}])))"
    assert sli.promql is not None
    return f"(1 - ({with_window(sli.promql.expr, window)}))"


def with_window(expr: str, window: str) -> str:
    """Raw PromQL with its ``{{window}}`` placeholder filled in."""
    return _WINDOW.sub(window, expr)


# --- OpenSLO v1 --------------------------------------------------------------------------------

_SUPPORTED_SLO_SPEC = {"service", "description", "indicator", "indicatorRef", "budgetingMethod",
                       "timeWindow", "objectives"}  # fmt: skip
_SUPPORTED_SLI_SPEC = {"ratioMetric", "description"}


def from_openslo(path: Path, documents: list[Any]) -> list[SLO]:
    """SLOs from OpenSLO v1 ``SLO`` (and referenced ``SLI``) documents: Occurrences budgeting,
    one objective, a rolling window, and a Prometheus ``ratioMetric``. Anything else is refused
    with its name."""
    problems: list[tuple[str, str]] = []
    indicators = {d.get("metadata", {}).get("name"): d for d in documents
                  if isinstance(d, dict) and d.get("kind") == "SLI"}  # fmt: skip
    slos = []
    for index, document in enumerate(documents):
        where = f"document {index + 1}"
        if not isinstance(document, dict):
            problems.append((where, "expected a mapping"))
            continue
        if document.get("apiVersion") != "openslo/v1":
            problems.append((where, "expected apiVersion openslo/v1 (or our `slos:` format)"))
            continue
        if document.get("kind") == "SLI":
            continue
        if document.get("kind") != "SLO":
            problems.append((where, f"unsupported OpenSLO kind {document.get('kind')!r}"))
            continue
        try:
            slos.append(_openslo_slo(document, indicators))
        except ValueError as error:
            problems.append((f"{where} ({document.get('metadata', {}).get('name')})", str(error)))
    if problems:
        raise ConfigError(str(path), problems)
    return slos


def _openslo_slo(document: dict[str, Any], indicators: dict[str, Any]) -> SLO:
    spec = document.get("spec", {})
    unsupported = sorted(set(spec) - _SUPPORTED_SLO_SPEC)
    if unsupported:
        raise ValueError(f"unsupported OpenSLO SLO fields: {', '.join(unsupported)}")
    if spec.get("budgetingMethod", "Occurrences") != "Occurrences":
        raise ValueError(
            f"unsupported budgetingMethod {spec['budgetingMethod']!r} (only Occurrences)"
        )
    objectives = spec.get("objectives") or []
    if len(objectives) != 1 or "target" not in objectives[0]:
        raise ValueError("exactly one objective with a `target` is supported")
    extra = sorted(set(objectives[0]) - {"target", "displayName"})
    if extra:
        raise ValueError(f"unsupported objective fields: {', '.join(extra)}")
    windows = spec.get("timeWindow") or [{"duration": "28d", "isRolling": True}]
    if len(windows) != 1 or not windows[0].get("isRolling", False) or "calendar" in windows[0]:
        raise ValueError("only one rolling timeWindow is supported (no calendar windows)")
    indicator = spec.get("indicator") or indicators.get(spec.get("indicatorRef"))
    if indicator is None:
        raise ValueError(f"indicator {spec.get('indicatorRef')!r} not found")
    ratio = _openslo_ratio(indicator.get("spec", {}))
    metadata = document.get("metadata", {})
    return SLO.model_validate({
        "service": spec.get("service"), "name": metadata.get("name"),
        "description": (
            spec.get("description") or metadata.get("displayName") or metadata.get("name")
        ),
        "objective": objectives[0]["target"],
        "budget_period": _openslo_duration(windows[0].get("duration")),
        "sli": {"ratio": ratio}, "labels": metadata.get("labels") or {},
    })  # fmt: skip


_OPENSLO_DURATION = re.compile(r"^(\d+)([mhdwMQY])$")
_OPENSLO_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _openslo_duration(value: object) -> int:
    """Seconds from an OpenSLO duration shorthand (``28d``, ``4w``). Months, quarters and years
    have no fixed length, so a rolling window in them is refused."""
    match = _OPENSLO_DURATION.match(str(value))
    if match is None:
        raise ValueError(f"timeWindow duration {value!r}: expected e.g. 28d or 4w")
    count, unit = int(match.group(1)), match.group(2)
    if unit not in _OPENSLO_UNIT_SECONDS:
        raise ValueError(
            f"timeWindow duration {value!r}: {unit} (month, quarter, year) has no fixed length; "
            "give the rolling window in m, h, d or w"
        )
    return count * _OPENSLO_UNIT_SECONDS[unit]


def _openslo_ratio(spec: dict[str, Any]) -> dict[str, str]:
    unsupported = sorted(set(spec) - _SUPPORTED_SLI_SPEC)
    if unsupported:
        raise ValueError(f"unsupported OpenSLO SLI fields: {', '.join(unsupported)}")
    ratio = spec.get("ratioMetric")
    if ratio is None:
        raise ValueError("only ratioMetric SLIs are supported")
    if ratio.get("rawType") or ratio.get("raw"):
        raise ValueError("unsupported ratioMetric.raw / rawType (give good or bad with total)")
    if not ratio.get("counter", True):
        raise ValueError("unsupported ratioMetric.counter: false (the queries must be counters)")
    queries = {}
    for part in ("good", "bad", "total"):
        if part not in ratio:
            continue
        source = ratio[part].get("metricSource", {})
        if source.get("type") != "Prometheus":
            raise ValueError(
                f"ratioMetric.{part}: unsupported metricSource type {source.get('type')!r}"
            )
        queries[part] = source.get("spec", {}).get("query", "")
    return queries
