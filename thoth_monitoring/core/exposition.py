"""Exposition helpers: metric families built from rows, and merged by name."""

from collections.abc import Iterable, Sequence

from prometheus_client.metrics_core import GaugeMetricFamily, Metric


def gauge(
    name: str,
    documentation: str,
    labels: Sequence[str],
    rows: Iterable[tuple[Sequence[str], float]],
) -> GaugeMetricFamily:
    """A gauge family with one sample per ``(label values, value)`` row."""
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    for values, value in rows:
        family.add_metric(list(values), value)
    return family


def merge(families: Iterable[Metric]) -> list[Metric]:
    """One family per name: tasks for several databases yield the same names, and an exposition
    must not repeat a family."""
    merged: dict[str, Metric] = {}
    for family in families:
        known = merged.get(family.name)
        if known is None:
            copy = Metric(family.name, family.documentation, family.type, family.unit)
            copy.samples = list(family.samples)
            merged[family.name] = copy
        else:
            known.samples.extend(family.samples)
    return list(merged.values())
