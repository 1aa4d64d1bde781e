"""Expected values of every Thoth metric, computed in plain Python from the seeded rows.

Deliberately written without SQL so that a wrong query cannot agree with itself.
"""

import calendar
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pytest

from thoth_monitoring.exporters.knowledge_graph import models as m
from thoth_monitoring.exporters.knowledge_graph.seed import Dataset, solver_name
from thoth_monitoring.exporters.metrics.service import MetricsExporter, MetricsExporterSettings

Expected = dict[str, dict[tuple[str, ...], float]]
Record = dict[str, Any]


def _epoch(moments: Iterable[datetime]) -> dict[tuple[str, ...], float]:
    values = list(moments)
    return {(): float(calendar.timegm(max(values).timetuple()))} if values else {}


def expected_metrics(data: Dataset) -> Expected:
    indexes = {i["id"]: i for i in data.records(m.python_package_index)}
    versions = data.records(m.python_package_version)
    solved = data.records(m.solved)
    entities = data.records(m.python_package_version_entity)
    solvers = {
        (s["os_name"], s["os_version"], s["python_version"])
        for s in data.records(m.ecosystem_solver)
    }
    errors: dict[int, list[Record]] = {}
    for row in solved:
        if row["error"]:
            errors.setdefault(row["version_id"], []).append(row)
    out: Expected = {}

    def per_solver(predicate: Callable[[Record], bool]) -> dict[tuple[str, ...], float]:
        return {
            (solver_name(*env),): float(
                sum(
                    1
                    for v in versions
                    if (v["os_name"], v["os_version"], v["python_version"]) == env and predicate(v)
                )
            )
            for env in solvers
        }

    indexed = [v for v in versions if v["python_package_index_id"] is not None]
    out["thoth_graphdb_python_package_versions"] = {
        (): len(
            {
                (v["package_name"], v["package_version"], v["python_package_index_id"])
                for v in indexed
            }
        )
    }
    out["thoth_graphdb_python_indexes"] = {(): len(indexes)}
    per_index: dict[tuple[str, ...], float] = {
        (i["url"],): float(
            len({v["package_name"] for v in indexed if v["python_package_index_id"] == i["id"]})
        )
        for i in indexes.values()
    }
    out["thoth_graphdb_python_packages_per_index"] = per_index
    out["thoth_graphdb_python_packages_all_indexes"] = {(): sum(per_index.values())}

    out["thoth_graphdb_solvers_database"] = {(): len(solvers)}
    out["thoth_graphdb_solvers_expected"] = {(): len(solvers)}
    out["thoth_graphdb_solvers_mismatch"] = {(): 0}

    def has_index(v: Record) -> bool:
        return v["python_package_index_id"] is not None

    def errored(v: Record) -> bool:
        return v["id"] in errors

    out["thoth_graphdb_solved_python_packages"] = per_solver(has_index)
    out["thoth_graphdb_python_packages_solver_error"] = per_solver(
        lambda v: has_index(v) and errored(v)
    )
    out["thoth_graphdb_python_packages_solver_error_unparseable"] = per_solver(
        lambda v: any(e["error_unparseable"] for e in errors.get(v["id"], ()))
    )
    out["thoth_graphdb_python_packages_solver_error_unsolvable"] = per_solver(
        lambda v: has_index(v) and any(e["error_unsolvable"] for e in errors.get(v["id"], ()))
    )
    out["thoth_graphdb_python_packages_solved_without_error"] = per_solver(
        lambda v: has_index(v) and not errored(v)
    )
    ruled = {
        r["python_package_version_entity_id"]
        for r in data.records(m.python_package_version_entity_rules_association)
    }
    candidates = {
        e["id"]
        for e in entities
        if e["package_version"] is not None
        and e["python_package_index_id"] is not None
        and indexes[e["python_package_index_id"]]["enabled"]
        and e["id"] not in ruled
    }
    unsolved: dict[tuple[str, ...], float] = {}
    for env in solvers:
        solved_here = {
            v["entity_id"]
            for v in versions
            if (v["os_name"], v["os_version"], v["python_version"]) == env
        }
        unsolved[(solver_name(*env),)] = float(len(candidates - solved_here))
    out["thoth_graphdb_unsolved_python_packages"] = unsolved
    out["thoth_graphdb_unsolved_python_packages_all_solvers"] = {(): sum(unsolved.values())}
    out["thoth_graphdb_last_solver_run_timestamp_seconds"] = _epoch(s["datetime"] for s in solved)

    runs = {r["id"]: r for r in data.records(m.si_aggregated_run)}
    analyzed = {
        link["python_package_version_entity_id"]
        for link in data.records(m.si_aggregated)
        if not runs[link["si_aggregated_run_id"]]["error"]
    }

    def key(v: Record) -> tuple[Any, ...]:
        return v["package_name"], v["package_version"], v["python_package_index_id"]

    on_enabled = [
        v
        for v in indexed
        if v["package_version"] is not None and indexes[v["python_package_index_id"]]["enabled"]
    ]
    out["thoth_graphdb_si_analyzed_python_packages"] = {
        (): len({key(v) for v in indexed if v["entity_id"] in analyzed})
    }
    out["thoth_graphdb_si_unanalyzed_python_packages"] = {
        (): len(
            {
                key(v)
                for v in on_enabled
                if v["provides_source_distro"] and v["entity_id"] not in analyzed
            }
        )
    }
    out["thoth_graphdb_si_not_analyzable_python_packages"] = {
        (): len(
            {
                key(v)
                for v in on_enabled
                if not v["provides_source_distro"] and v["entity_id"] not in analyzed
            }
        )
    }
    out["thoth_graphdb_cves"] = {(): len(data.records(m.cve))}
    out["thoth_graphdb_cve_data_timestamp_seconds"] = _epoch(
        t["timestamp"] for t in data.records(m.cve_timestamp)
    )

    advisers = data.records(m.adviser_run)
    out["thoth_graphdb_adviser_runs"] = {
        (t,): sum(1 for r in advisers if r["source_type"] == t) for t in m.SOURCE_TYPES
    }
    out["thoth_graphdb_adviser_users"] = {
        (t,): len(
            {r["origin"] for r in advisers if r["source_type"] == t and r["origin"] is not None}
        )
        for t in m.SOURCE_TYPES
    }
    stacks = data.records(m.python_software_stack)
    out["thoth_graphdb_software_stacks"] = {
        (t,): sum(1 for s in stacks if s["software_stack_type"] == t)
        for t in m.SOFTWARE_STACK_TYPES
    }
    out["thoth_graphdb_user_software_stacks"] = {
        (): len(data.records(m.external_python_software_stack))
    }
    for metric, table in (
        ("thoth_graphdb_software_environments", m.software_environment),
        ("thoth_graphdb_user_software_environments", m.external_software_environment),
    ):
        rows = data.records(table)
        out[metric] = {
            (t,): len(
                {
                    r["environment_name"]
                    for r in rows
                    if r["environment_type"] == t and r["environment_name"]
                }
            )
            for t in m.ENVIRONMENT_TYPES
        }
    out["thoth_graphdb_last_image_analysis_timestamp_seconds"] = _epoch(
        r["datetime"] for r in data.records(m.package_extract_run)
    )
    out["thoth_graphdb_performance_records"] = {
        (t.name,): len(data.records(t)) for t in m.PERFORMANCE_INDICATOR_TABLES
    }
    per_component: dict[tuple[str, ...], float] = {}
    for table in m.PERFORMANCE_INDICATOR_TABLES:
        for row in data.records(table):
            label = (row["component"], table.name)
            per_component[label] = per_component.get(label, 0) + 1
    out["thoth_graphdb_performance_records_per_component"] = per_component

    active = [k for k in data.records(m.kebechet_github_installations) if k["is_active"]]
    out["thoth_kebechet_active_repositories"] = {(): len({k["slug"] for k in active})}
    out["thoth_kebechet_active_repositories_per_manager"] = {
        (flag.removesuffix("_manager").replace("_", "-"),): len(
            {k["slug"] for k in active if k[flag]}
        )
        for flag in m.KEBECHET_MANAGERS
    }
    out["thoth_kebechet_maintained_software_stacks"] = {
        (): len({(k["slug"], k["runtime_environment_name"] or "") for k in active})
    }
    out["thoth_graphdb_alembic_version_rows"] = {(): 1}
    out["thoth_graphdb_schema_revision_info"] = {(m.ALEMBIC_REVISION, m.ALEMBIC_REVISION): 1}
    out["thoth_graphdb_schema_revision_mismatch"] = {(): 0}
    return {
        name: {labels: float(v) for labels, v in values.items()} for name, values in out.items()
    }


# Metrics whose value depends on the server, not on the rows: checked separately.
SERVER_DEPENDENT = {"thoth_graphdb_database_size_bytes"}


async def collect(url: str, **options: object) -> MetricsExporter:
    exporter = MetricsExporter.build(
        MetricsExporterSettings.model_validate({"database_url": url, **options})
    )
    try:
        assert await exporter.collect_once() == {}
    finally:
        await exporter.collector.engine.dispose()
    return exporter


def values(exporter: MetricsExporter, name: str) -> dict[tuple[str, ...], float]:
    return {s.labels: s.value for s in exporter.collector.statuses[name].samples}


def mismatches(exporter: MetricsExporter, dataset: Dataset) -> dict[str, object]:
    """``{metric: (collected, expected)}`` for every metric whose values differ."""
    expected = expected_metrics(dataset)
    assert set(expected) | SERVER_DEPENDENT == set(exporter.collector.statuses)
    return {
        name: (values(exporter, name), want)
        for name, want in expected.items()
        if values(exporter, name) != pytest.approx(want)
    }
