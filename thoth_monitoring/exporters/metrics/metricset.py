"""Declarative metric definitions: YAML → pydantic → semantic checks → frozen ``MetricSet``.

The Thoth set ships as ``thoth_metrics.yaml`` beside this module; further files extend it or
override metrics by name (``enabled: false`` drops one). A file's ``fragments`` are SQL snippets
its metrics include as ``{{name}}``, so a common table expression is written once.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from thoth_monitoring.core.config import ConfigError, Duration, load_yaml, validate
from thoth_monitoring.core.resources import package_file

DEFAULT_METRICS_FILE = package_file(__package__, "thoth_metrics.yaml")
# The exporter's own metrics (self and Ceph) live under these; a metric file may not use them,
# or the exposition would hold one name twice and Prometheus would reject the whole scrape.
RESERVED_PREFIXES = ("thoth_metrics_exporter_", "thoth_ceph_", "thoth_kafka_", "kafka_")

_METRIC_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_PARAMETER = re.compile(r"(?<!:):([a-zA-Z_][a-zA-Z0-9_]*)")
_FRAGMENT = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


class MetricSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["gauge", "counter", "info"]
    help: str = Field(min_length=1)
    sql: str = Field(min_length=1)
    labels: tuple[str, ...] = ()
    value: str = "value"
    interval: Duration | None = None
    timeout: Duration | None = None
    enabled: bool = True

    @field_validator("labels")
    @classmethod
    def _labels_are_valid(cls, labels: tuple[str, ...]) -> tuple[str, ...]:
        for label in labels:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"{label!r} is not a valid Prometheus label name")
        if len(set(labels)) != len(labels):
            raise ValueError("label names repeat")
        return labels


class MetricFileSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fragments: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, MetricSchema]


@dataclass(frozen=True)
class MetricDefinition:
    """One metric: a query whose rows are label values plus one ``value`` column."""

    name: str
    type: Literal["gauge", "counter", "info"]
    help: str
    sql: str
    labels: tuple[str, ...]
    value_column: str
    interval: float
    timeout: float
    source: str

    @property
    def parameters(self) -> frozenset[str]:
        """Names of the ``:parameter`` placeholders the SQL uses."""
        return frozenset(_PARAMETER.findall(self.sql))


def load_metric_set(
    files: Iterable[Path],
    default_interval: float,
    default_timeout: float,
    parameters: frozenset[str],
    include_default: bool = True,
) -> dict[str, MetricDefinition]:
    """Load the default set (unless excluded) and then each file, later files winning by name."""
    paths = [DEFAULT_METRICS_FILE] if include_default else []
    paths.extend(files)
    metrics: dict[str, MetricDefinition] = {}
    for path in paths:
        schema = validate(MetricFileSchema, load_yaml(path), str(path))
        problems: list[tuple[str, str]] = []
        for name, metric in schema.metrics.items():
            sql, unknown = _include_fragments(metric.sql, schema.fragments)
            problems.extend((f"metrics.{name}.sql", f"no fragment named {u!r}") for u in unknown)
            metric = metric.model_copy(update={"sql": sql})
            problems.extend(
                (f"metrics.{name}.{field}", message)
                for field, message in _semantic_problems(name, metric, parameters)
            )
            if not metric.enabled:
                metrics.pop(name, None)
                continue
            metrics[name] = MetricDefinition(
                name=name,
                type=metric.type,
                help=metric.help.strip(),
                sql=metric.sql,
                labels=metric.labels,
                value_column=metric.value,
                interval=metric.interval or default_interval,
                timeout=metric.timeout or default_timeout,
                source=str(path),
            )
        if problems:
            raise ConfigError(str(path), problems)
    if not metrics:
        raise ConfigError(", ".join(map(str, paths)) or "metric set", [("", "no metrics defined")])
    _refuse_shared_families(metrics.values())
    return metrics


def _refuse_shared_families(definitions: Iterable[MetricDefinition]) -> None:
    """A counter ``x_total`` and an info ``x_info`` are exposed as family ``x``: a gauge ``x``
    beside either would repeat the family, and Prometheus rejects such a scrape."""
    seen: dict[str, MetricDefinition] = {}
    for definition in definitions:
        suffix = {"counter": "_total", "info": "_info"}.get(definition.type, "")
        family = definition.name.removesuffix(suffix) if suffix else definition.name
        other = seen.setdefault(family, definition)
        if other is not definition:
            raise ConfigError(definition.source, [(
                f"metrics.{definition.name}.name",
                f"exposed as the same family {family!r} as {other.name} ({other.source})",
            )])  # fmt: skip


def _semantic_problems(
    name: str, metric: MetricSchema, parameters: frozenset[str]
) -> Iterable[tuple[str, str]]:
    if not _METRIC_NAME.match(name):
        yield "name", f"{name!r} is not a valid Prometheus metric name (no colons, no dashes)"
    reserved = [prefix for prefix in RESERVED_PREFIXES if name.startswith(prefix)]
    if reserved:
        yield "name", f"the prefix {reserved[0]} is reserved for the exporter's own metrics"
    if metric.type == "counter" and not name.endswith("_total"):
        yield "name", "a counter's name must end in _total"
    if metric.type != "counter" and name.endswith("_total"):
        yield "name", "only counters may end in _total"
    if metric.type == "info" and not name.endswith("_info"):
        yield "name", "an info metric's name must end in _info"
    if metric.value in metric.labels:
        yield "value", f"column {metric.value!r} cannot be both a label and the value"
    timeout = metric.timeout
    if timeout is not None and metric.interval is not None and timeout > metric.interval:
        yield "timeout", "must not be longer than the interval"
    for unknown in sorted(set(_PARAMETER.findall(metric.sql)) - parameters):
        yield "sql", f"uses :{unknown}, which is not a configured parameter"


def _include_fragments(sql: str, fragments: dict[str, str]) -> tuple[str, list[str]]:
    """Replace ``{{name}}`` by the fragment's text; fragments may include other fragments."""
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fragments:
            unknown.append(name)
            return f"<unknown fragment {name}>"
        return fragments[name].strip()

    for _ in range(8):  # bounded, so fragments including each other cannot loop forever
        expanded = _FRAGMENT.sub(replace, sql)
        if expanded == sql:
            break
        sql = expanded
    return sql, unknown
