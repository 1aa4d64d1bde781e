"""Thoth's six Grafana dashboards as code (grafana-foundation-sdk), written as JSON for import.

Every panel reads the Prometheus that scrapes the stack through the ``DS_PROMETHEUS`` import input,
so the files import into any Grafana 10+ without editing; the uids are stable, so links (the
weekly SLO e-mail links to ``/d/thoth-slos/slos?var-slo=<slo id>``) keep working across
re-imports. The SLO dashboard is generated from ``slo_reporter/slos.yaml`` and reads the
recording rules generated from the same file, so a new SLO appears on it by regenerating.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    prometheus,
    stat,
    timeseries,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    GraphTresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    TooltipDisplayMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from thoth_monitoring.slo_reporter.definitions import SLO, load_slos
from thoth_monitoring.slo_reporter.rules import RECORD, WINDOWS

__all__ = ["panel_queries", "render_all", "write_all"]

# Where `thoth-monitoring dashboards` writes, relative to the working directory: the repository's
# folder when run from a checkout's root; from a wheel install a new folder, never the package.
TAG = "thoth"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${DS_PROMETHEUS}")
INPUTS = [{
    "name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
    "pluginId": "prometheus", "pluginName": "Prometheus",
    "description": "The Prometheus that scrapes the Thoth exporters and evaluates alerts/rules.",
}]  # fmt: skip
# Stand-ins for Grafana's own variables, so that Prometheus can evaluate a panel query alone.
BUILTIN_VARIABLES = {"__rate_interval": "5m", "__interval": "5m", "__range": "1h"}
# 2^31: transaction-ID wraparound, the point where PostgreSQL stops accepting writes.
WRAPAROUND = "2^31"

Steps = Sequence[tuple[float | None, str]]
NEUTRAL: Steps = ((None, "text"),)
AnyPanel = timeseries.Panel | stat.Panel | bargauge.Panel
PanelBuilder = TypeVar("PanelBuilder", timeseries.Panel, stat.Panel, bargauge.Panel)


def write_all(folder: Path) -> list[Path]:
    """Regenerate every dashboard file in ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render_all().items():
        path = folder / name
        path.write_text(text)
        paths.append(path)
    return paths


def render_all() -> dict[str, str]:
    """File name -> dashboard JSON (sorted keys, so regenerating is a no-op unless code changed)."""
    builders = {
        "knowledge-graph.json": knowledge_graph(),
        "database-health.json": database_health(),
        "slos.json": slo_dashboard(load_slos()),
        "stack-health.json": stack_health(),
        "kebechet.json": kebechet(),
        "request-pipeline.json": request_pipeline(),
    }
    return {
        name: json.dumps(_importable(builder), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
        for name, builder in builders.items()
    }


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL) for every target of every panel, with the template
    variables replaced so that Prometheus can evaluate the query: ``.*`` for label variables
    (panels always match them with ``=~``), fixed durations for Grafana's interval variables."""
    queries = []
    for text in render_all().values():
        model = json.loads(text)
        values = BUILTIN_VARIABLES | {v["name"]: ".*" for v in model["templating"].get("list", [])}
        for panel in model["panels"]:
            for target in panel.get("targets", []):
                queries.append((model["uid"], panel["title"], _substitute(target["expr"], values)))
    return queries


def _substitute(expr: str, values: dict[str, str]) -> str:
    return re.sub(
        r"\$(?:\{(\w+)\}|(\w+))", lambda match: values[match.group(1) or match.group(2)], expr
    )


# --- the dashboards ----------------------------------------------------------------------------


def knowledge_graph() -> dashboard.Dashboard:
    solved = "thoth_graphdb_solved_python_packages"
    analysed = "thoth_graphdb_si_analyzed_python_packages"
    return _dashboard(
        "thoth-knowledge-graph", "Knowledge graph", "now-30d",
        "Content of Thoth's knowledge graph (metrics-exporter): packages, solvers, security "
        "indicators, advisers, Kebechet and the analysis documents on Ceph.",
        [
            Section("Overview", [
                stat_panel("Python package versions", "short", "Distinct Python package "
                           "versions (name, version, index) solved in any environment.",
                           Query("thoth_graphdb_python_package_versions")),
                stat_panel("Python packages", "short", "Package names with a solved version, "
                           "summed over indexes.",
                           Query("thoth_graphdb_python_packages_all_indexes")),
                stat_panel("CVEs", "short", "CVE records in the knowledge graph.",
                           Query("thoth_graphdb_cves")),
                stat_panel("CVE data age", "s", "Time since the CVE data was last updated; an "
                           "alert fires after 7 days.",
                           Query("time() - thoth_graphdb_cve_data_timestamp_seconds"),
                           steps=((None, "green"), (7 * 86400, "red"))),
                stat_panel("Knowledge-graph size", "bytes", "On-disk size of the knowledge-graph "
                           "database.", Query("thoth_graphdb_database_size_bytes")),
                stat_panel("Schema revision mismatch", "none", "1 when alembic_version does not "
                           "hold the schema revision the exporter expects.",
                           Query("thoth_graphdb_schema_revision_mismatch"),
                           steps=((None, "green"), (1, "red"))),
            ]),
            Section("Content growth", [
                timeseries_panel("Python package versions", "short", "Distinct Python package "
                                 "versions solved in any environment.",
                                 Query("thoth_graphdb_python_package_versions", "versions")),
                timeseries_panel("Package versions added per day", "short", "Change of the "
                                 "solved package versions over the preceding day (recording rule).",
                                 Query("job:thoth_graphdb_python_package_versions:delta1d",
                                       "{{job}}")),
                timeseries_panel("Python packages per index", "short", "Package names with a "
                                 "solved version, per package index.",
                                 Query("thoth_graphdb_python_packages_per_index", "{{index_url}}")),
                timeseries_panel("Software stacks", "short", "Python software stacks per type, "
                                 "and the stacks users submitted.",
                                 Query("thoth_graphdb_software_stacks", "{{software_stack_type}}"),
                                 Query("thoth_graphdb_user_software_stacks", "user-submitted")),
                timeseries_panel("Software environments", "short", "Thoth-built and "
                                 "user-supplied software environments per type.",
                                 Query("thoth_graphdb_software_environments",
                                       "{{environment_type}} (Thoth)"),
                                 Query("thoth_graphdb_user_software_environments",
                                       "{{environment_type}} (user)")),
                timeseries_panel("Performance-indicator records", "short", "Records per "
                                 "performance-indicator table.",
                                 Query("thoth_graphdb_performance_records",
                                       "{{performance_table}}")),
            ]),
            Section("Solvers", [
                stat_panel("Solvers in the database", "short", "Solver environments (os, "
                           "version, Python) present in the knowledge graph.",
                           Query("thoth_graphdb_solvers_database")),
                stat_panel("Expected solvers", "short", "Solvers in the configured expected "
                           "list.", Query("thoth_graphdb_solvers_expected")),
                stat_panel("Solver mismatch", "short", "Solvers in the database but not "
                           "expected plus solvers expected but not in the database.",
                           Query("thoth_graphdb_solvers_mismatch"),
                           steps=((None, "green"), (1, "red"))),
                stat_panel("Since the last solver result", "s", "Time since the newest solver "
                           "result was stored; an alert fires after a day.",
                           Query("time() - thoth_graphdb_last_solver_run_timestamp_seconds"),
                           steps=((None, "green"), (86400, "red"))),
                stat_panel("Since the last image analysis", "s", "Time since the newest "
                           "container image analysis (package-extract) was stored.",
                           Query("time() - thoth_graphdb_last_image_analysis_timestamp_seconds")),
                stat_panel("Unsolved (all solvers)", "short", "Package versions some solver "
                           "has not solved yet, summed over solvers.",
                           Query("thoth_graphdb_unsolved_python_packages_all_solvers")),
                timeseries_panel("Solver coverage", "percentunit", "Share of package versions "
                                 "each solver has a result for (solved or failed) among those "
                                 "it has solved or still has to solve.",
                                 Query(f"{solved} / ({solved} + "
                                       "thoth_graphdb_unsolved_python_packages)",
                                       "{{solver_name}}")),
                timeseries_panel("Solver errors per solver", "short", "Package versions with a "
                                 "solver error, per solver.",
                                 Query("thoth_graphdb_python_packages_solver_error",
                                       "{{solver_name}}")),
                timeseries_panel("Solver errors by kind", "short", "Solver errors where the "
                                 "requirement could not be parsed or the dependencies could not "
                                 "be resolved, over all solvers.",
                                 Query("sum(thoth_graphdb_python_packages_solver_error_unparseable)",
                                       "unparseable"),
                                 Query("sum(thoth_graphdb_python_packages_solver_error_unsolvable)",
                                       "unsolvable")),
                timeseries_panel("Unsolved backlog per solver", "short", "Package versions on "
                                 "enabled indexes a solver has not solved yet.",
                                 Query("thoth_graphdb_unsolved_python_packages",
                                       "{{solver_name}}")),
                timeseries_panel("Unsolved backlog change per hour", "short", "Change of the "
                                 "unsolved backlog over the preceding hour (recording rule); "
                                 "positive while solvers fall behind.",
                                 Query("job:thoth_graphdb_unsolved_python_packages_all_solvers"
                                       ":delta1h", "{{job}}")),
                timeseries_panel("Solved per day", "short", "Package versions each solver "
                                 "solved over the preceding day (recording rule).",
                                 Query("job:thoth_graphdb_solved_python_packages:delta1d",
                                       "{{solver_name}}")),
            ]),
            Section("Security indicators", [
                timeseries_panel("Security-indicator coverage", "percentunit", "Share of "
                                 "analysable package versions (with a source distribution) "
                                 "that have a successful security-indicator analysis.",
                                 Query(f"{analysed} / ({analysed} + "
                                       "thoth_graphdb_si_unanalyzed_python_packages)", "covered")),
                timeseries_panel("Security-indicator analyses", "short", "Package versions "
                                 "analysed, waiting for analysis, and not analysable (no source "
                                 "distribution).",
                                 Query(analysed, "analysed"),
                                 Query("thoth_graphdb_si_unanalyzed_python_packages", "waiting"),
                                 Query("thoth_graphdb_si_not_analyzable_python_packages",
                                       "not analysable")),
                timeseries_panel("Unanalysed backlog change per hour", "short", "Change of the "
                                 "security-indicator backlog over the preceding hour (recording "
                                 "rule).",
                                 Query("job:thoth_graphdb_si_unanalyzed_python_packages:delta1h",
                                       "{{job}}")),
            ]),
            Section("Advisers and integrations", [
                timeseries_panel("Adviser runs per integration", "short", "Adviser runs stored "
                                 "per Thoth integration.",
                                 Query("thoth_graphdb_adviser_runs", "{{thoth_integration}}")),
                timeseries_panel("Adviser runs per day", "short", "Adviser runs added over the "
                                 "preceding day per integration (recording rule).",
                                 Query("job:thoth_graphdb_adviser_runs:delta1d",
                                       "{{thoth_integration}}")),
                timeseries_panel("Users per integration", "short", "Distinct users (adviser "
                                 "run origins) per Thoth integration.",
                                 Query("thoth_graphdb_adviser_users", "{{thoth_integration}}")),
            ]),
            Section("Kebechet", [
                timeseries_panel("Kebechet adoption", "short", "Repositories with an active "
                                 "Kebechet installation, and the software stacks (repository "
                                 "and runtime environment) it maintains.",
                                 Query("thoth_kebechet_active_repositories", "repositories"),
                                 Query("thoth_kebechet_maintained_software_stacks",
                                       "software stacks"), width=12),
                bargauge_panel("Repositories per manager", "short", "Active repositories that "
                               "enable each Kebechet manager.",
                               Query("thoth_kebechet_active_repositories_per_manager",
                                     "{{manager}}"), width=12),
            ]),
            Section("Ceph documents", [
                timeseries_panel("Documents per result type", "short", "Analysis documents "
                                 "stored on Ceph per result type (counted incrementally).",
                                 Query("thoth_ceph_documents", "{{result_type}}"), width=12),
                timeseries_panel("Documents added per day", "short", "Change of the stored "
                                 "documents over the preceding day, per result type.",
                                 Query("sum by (result_type) (delta(thoth_ceph_documents[1d]))",
                                       "{{result_type}}"), width=12),
            ]),
        ],
    )  # fmt: skip


def database_health() -> dashboard.Dashboard:
    db = 'database=~"$database"'
    dat = 'datname=~"$database"'
    relation = "{{database}} {{schema}}.{{table}}"

    def per_database_rate(metric: str) -> str:
        return f"sum by (datname) (rate({metric}{{{dat}}}[$__rate_interval]))"

    def since(operations: str) -> str:
        return (f"topk(10, time() - max by (database, schema, table) "
                f'(thoth_db_table_last_maintenance_timestamp_seconds{{{db}, '
                f'operation=~"{operations}"}}))')  # fmt: skip

    heap_hit = per_database_rate("thoth_pg_table_io_heap_blocks_hit_total")
    heap_read = per_database_rate("thoth_pg_table_io_heap_blocks_read_total")
    database = (
        dashboard.QueryVariable("database").label("Database")
        .description("Databases the graph-exporter watches (postgres_exporter: datname).")
        .query("label_values(thoth_db_size_bytes, database)").datasource(DATASOURCE)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True).include_all(True).all_value(".*").current(_ALL)
    )  # fmt: skip
    return _dashboard(
        "thoth-database-health", "Database health", "now-24h",
        "PostgreSQL health: sizes, bloat, vacuum and wraparound, amcheck and backups "
        "(graph-exporter), activity, locks and replication (postgres_exporter).",
        [
            Section("Overview", [
                stat_panel("postgres_exporter connected", "none", "1 when postgres_exporter "
                           "reached its database at the last scrape.", Query("pg_up"),
                           steps=((None, "red"), (1, "green"))),
                stat_panel("Database size", "bytes", "On-disk size of each database.",
                           Query(f"thoth_db_size_bytes{{{db}}}", "{{database}}")),
                stat_panel("Connections used", "percentunit", "Client sessions as a share of "
                           "max_connections; an alert fires above 80 %.",
                           Query("thoth_pg_connection_usage_ratio"),
                           steps=((None, "green"), (0.6, "orange"), (0.8, "red"))),
                stat_panel("Wraparound progress", "percentunit", "Transaction-ID age of each "
                           "database as a share of the 2^31 wraparound limit; alerts fire at "
                           "1e9 and 1.5e9 (47 % and 70 %).",
                           Query(f"thoth_pg_database_xid_age{{{dat}}} / {WRAPAROUND}",
                                 "{{datname}}"),
                           steps=((None, "green"), (0.45, "orange"), (0.7, "red"))),
                stat_panel("Corrupted indexes", "short", "Indexes the last amcheck pass found "
                           "corrupted.",
                           Query(f'sum(thoth_db_index_checks{{{db}, state="corrupted"}})'),
                           steps=((None, "green"), (1, "red"))),
                stat_panel("Since the newest backup", "s", "Age of the newest pg_dump backup on "
                           "Ceph; an alert fires after 36 hours.",
                           Query("time() - thoth_db_backup_newest_timestamp_seconds"),
                           steps=((None, "green"), (36 * 3600, "red"))),
            ]),
            Section("Sizes", [
                timeseries_panel("Database size", "bytes", "On-disk size of each database.",
                                 Query(f"thoth_db_size_bytes{{{db}}}", "{{database}}")),
                timeseries_panel("Table storage by part", "bytes", "Table storage summed over "
                                 "tables: heap, indexes and TOAST.",
                                 Query(f"sum by (part) (thoth_db_table_size_bytes{{{db}}})",
                                       "{{part}}")),
                bargauge_panel("Largest tables", "bytes", "The ten largest tables, heap, "
                               "indexes and TOAST together.",
                               Query("topk(10, sum by (database, schema, table) "
                                     f"(thoth_db_table_size_bytes{{{db}}}))", relation)),
            ]),
            Section("Bloat", [
                bargauge_panel("Most bloated tables", "bytes", "Space in a table beyond what "
                               "its live rows need (method: statistical estimate, or exact from "
                               "pgstattuple).",
                               Query(f"topk(10, thoth_db_table_bloat_bytes{{{db}}})",
                                     f"{relation} ({{{{method}}}})")),
                bargauge_panel("Most bloated indexes", "bytes", "Estimated space in a btree "
                               "index beyond what its entries need.",
                               Query(f"topk(10, thoth_db_index_bloat_bytes{{{db}}})",
                                     "{{database}} {{schema}}.{{index}}")),
                bargauge_panel("Highest table bloat ratio", "percentunit", "Share of a table's "
                               "size that is bloat.",
                               Query(f"topk(10, thoth_db_table_bloat_ratio{{{db}}})",
                                     f"{relation} ({{{{method}}}})")),
                timeseries_panel("Relations without a bloat estimate", "short", "Tables and "
                                 "indexes the estimate cannot cover, by reason (never analysed, "
                                 "no statistics, expression or non-btree indexes).",
                                 Query("sum by (reason) "
                                       f"(thoth_db_bloat_estimate_unavailable{{{db}}})",
                                       "{{reason}}"), width=24),
            ]),
            Section("Vacuum and wraparound", [
                bargauge_panel("Most dead tuples", "short", "Tables with the most dead tuples "
                               "(statistics collector estimate); vacuum removes them.",
                               Query(f'topk(10, thoth_db_table_tuples{{{db}, state="dead"}})',
                                     relation)),
                timeseries_panel("Dead tuple share", "percentunit", "Dead tuples as a share of "
                                 "all tuples, per database.",
                                 Query(f'sum by (database) (thoth_db_table_tuples{{{db}, '
                                       f'state="dead"}}) / sum by (database) '
                                       f"(thoth_db_table_tuples{{{db}}})", "{{database}}")),
                bargauge_panel("Longest since vacuum", "s", "Tables vacuumed (by hand or by "
                               "autovacuum) longest ago; never-vacuumed tables are not listed.",
                               Query(since("vacuum|autovacuum"), relation)),
                bargauge_panel("Longest since analyze", "s", "Tables analysed (by hand or by "
                               "autovacuum) longest ago; never-analysed tables are not listed.",
                               Query(since("analyze|autoanalyze"), relation)),
                timeseries_panel("Transaction-ID age", "short", "Transactions and multixacts "
                                 "since the oldest unfrozen ID; writes stop at 2^31.",
                                 Query(f"thoth_pg_database_xid_age{{{dat}}}", "{{datname}} xid"),
                                 Query(f"thoth_pg_database_mxid_age{{{dat}}}",
                                       "{{datname}} multixact")),
                bargauge_panel("Oldest tables", "short", "Transaction-ID age of the tables "
                               "closest to wraparound; vacuum freezes them.",
                               Query(f"topk(10, thoth_db_table_xid_age{{{db}}})", relation)),
            ]),
            Section("Integrity and backups", [
                timeseries_panel("amcheck outcomes", "short", "Indexes per outcome of the last "
                                 "amcheck pass (unchecked: the check could not run).",
                                 Query(f"sum by (state) (thoth_db_index_checks{{{db}}})",
                                       "{{state}}")),
                timeseries_panel("Backups on Ceph", "short", "pg_dump backups stored on Ceph, "
                                 "and objects whose names do not parse as backups.",
                                 Query("thoth_db_backups", "backups"),
                                 Query("thoth_db_backup_unparseable_names", "unparseable names")),
                timeseries_panel("Newest backup size", "bytes", "Size of the newest pg_dump "
                                 "backup; a sudden drop deserves a look.",
                                 Query("thoth_db_backup_newest_size_bytes", "size")),
            ]),
            Section("Activity", [
                timeseries_panel("Client sessions by state", "short", "Client sessions per "
                                 "state, and the max_connections setting.",
                                 Query("thoth_pg_connections_sessions", "{{state}}"),
                                 Query("thoth_pg_connection_usage_max_connections",
                                       "max_connections")),
                timeseries_panel("Oldest transactions", "s", "Age of the oldest open "
                                 "transaction and the longest time a session sat idle inside "
                                 "one; both hold back vacuum.",
                                 Query("thoth_pg_transactions_oldest_age_seconds", "oldest open"),
                                 Query("thoth_pg_transactions_oldest_idle_in_transaction_seconds",
                                       "longest idle in transaction")),
                timeseries_panel("Long and idle transactions", "short", "Transactions open for "
                                 "more than 5 minutes, and sessions idle inside a transaction.",
                                 Query("thoth_pg_transactions_longer_than_5m", "open > 5m"),
                                 Query("thoth_pg_transactions_idle_in_transaction",
                                       "idle in transaction")),
                timeseries_panel("Locks by mode", "short", "Locks held or awaited, per lock "
                                 "mode (postgres_exporter built-in).",
                                 Query(f"sum by (mode) (pg_locks_count{{{dat}}})", "{{mode}}")),
                timeseries_panel("Row operations", "cps", "Rows inserted, updated and deleted "
                                 "per second, per database.",
                                 Query(per_database_rate("thoth_pg_table_rows_inserted_total"),
                                       "{{datname}} inserted"),
                                 Query(per_database_rate("thoth_pg_table_rows_updated_total"),
                                       "{{datname}} updated"),
                                 Query(per_database_rate("thoth_pg_table_rows_deleted_total"),
                                       "{{datname}} deleted")),
                timeseries_panel("Scans", "cps", "Sequential and index scans started per "
                                 "second; many sequential scans on a large table hint at a "
                                 "missing index.",
                                 Query(per_database_rate("thoth_pg_table_seq_scans_total"),
                                       "{{datname}} sequential"),
                                 Query(per_database_rate("thoth_pg_table_index_scans_total"),
                                       "{{datname}} index")),
                timeseries_panel("Table cache hit ratio", "percentunit", "Share of table block "
                                 "reads served from shared buffers.",
                                 Query(f"{heap_hit} / ({heap_hit} + {heap_read})",
                                       "{{datname}}")),
                bargauge_panel("Slowest statements", "s", "Execution time over the dashboard's "
                               "time range of the statements pg_stat_statements ranks highest "
                               "(empty without the extension).",
                               Query("topk(10, sum by (datname, queryid, query) (increase("
                                     f"thoth_pg_top_statements_exec_seconds_total{{{dat}}}"
                                     "[$__range])))", "{{query}}"), width=16),
            ]),
            Section("Replication", [
                timeseries_panel("Replica replay lag", "s", "How far each standby connected to "
                                 "this primary is behind in replaying WAL (empty without "
                                 "standbys).",
                                 Query("thoth_pg_replication_replay_lag_seconds",
                                       "{{application_name}} ({{client_addr}})")),
                timeseries_panel("Replica replay lag in bytes", "bytes", "WAL each standby "
                                 "has not replayed yet (empty without standbys).",
                                 Query("thoth_pg_replication_replay_lag_bytes",
                                       "{{application_name}} ({{client_addr}})")),
                timeseries_panel("Standby replay delay", "s", "On a standby, time since the "
                                 "last replayed transaction; 0 on a primary.",
                                 Query("thoth_pg_standby_replay_delay_seconds", "{{instance}}")),
            ]),
        ],
        variables=[database],
    )  # fmt: skip


def slo_dashboard(slos: list[SLO]) -> dashboard.Dashboard:
    """One repeated row per selected SLO. The objectives are not recorded series, so they are
    inlined as one constant series per SLO (``slo_id`` label) to divide and compare by."""
    selected = 'slo_id=~"$slo"'
    grouped_by = sorted({slo.group_by for slo in slos if slo.group_by})
    legend = "{{slo_id}}" + "".join(f" {{{{{label}}}}}" for label in grouped_by)
    budgets = " or ".join(
        f'label_replace(vector({1 - slo.objective:.6g}), "slo_id", "{slo.id}", "", "")'
        for slo in slos
    )

    def ratio(window: str) -> str:
        return f"{RECORD.format(window=window)}{{{selected}}}"

    def burn(window: str) -> str:
        return f"{ratio(window)} / on (slo_id) group_left () ({budgets})"

    budget_left = (
        f"1 - avg_over_time(({ratio('1h')} >= 0)[$__range:5m]) / on (slo_id) group_left () "
        f"({budgets})"
    )
    variable = (
        dashboard.CustomVariable("slo").label("SLO")
        .description("SLO ids from slo_reporter/slos.yaml.")
        .values(",".join(slo.id for slo in slos)).multi(True).include_all(True).current(_ALL)
        .options([_ALL, *(VariableOption(text=slo.id, value=slo.id, selected=False)
                          for slo in slos)])
    )  # fmt: skip
    return _dashboard(
        "thoth-slos", "SLOs", "now-7d",
        "Service level objectives from slo_reporter/slos.yaml, read from the burn-rate "
        "recording rules in alerts/rules/slo.yaml. The weekly SLO e-mail links here.",
        [
            Section("Overview", [
                bargauge_panel("Error budget remaining per SLO", "percentunit", "Share of the "
                               "error budget left over the dashboard's time range, from the "
                               "recorded 1h error ratio averaged over time (the weekly report "
                               "counts events exactly).",
                               Query(budget_left, legend),
                               steps=((None, "red"), (0, "orange"), (0.25, "green")), width=12),
                bargauge_panel("Burn rate per SLO (1h)", "suffix:x", "How many times faster than "
                               "sustainable each SLO burned its budget over the last hour (1 "
                               "spends exactly the budget over the budget period).",
                               Query(burn("1h"), legend),
                               steps=((None, "green"), (1, "orange"), (6, "red")), width=12),
            ]),
            Section("SLO $slo", repeat="slo", panels=[
                timeseries_panel("SLI vs objective", "percentunit", "Share of good events over "
                                 "the last hour and day (recorded), against the objective.",
                                 Query(f"1 - {ratio('1h')}", f"1h {legend}"),
                                 Query(f"1 - {ratio('1d')}", f"1d {legend}"),
                                 Query(f"(1 - ({budgets})) and on (slo_id) "
                                       f"group by (slo_id) ({ratio('1h')})", "objective")),
                bargauge_panel("Error budget remaining", "percentunit", "Share of the error "
                               "budget left over the dashboard's time range, per group.",
                               Query(budget_left, legend),
                               steps=((None, "red"), (0, "orange"), (0.25, "green"))),
                timeseries_panel("Burn rate by window", "suffix:x", "Error ratio over each "
                                 "recorded window divided by the error budget, worst group; the "
                                 "burn-rate alerts pair a long and a short window.",
                                 *(Query(f"max by (slo_id) ({burn(window)})", window)
                                   for window in WINDOWS)),
            ]),
        ],
        variables=[variable],
    )  # fmt: skip


def stack_health() -> dashboard.Dashboard:
    def per_second(metric: str, by: str) -> str:
        return f"sum by ({by}) (rate({metric}[$__rate_interval]))"

    task = "{{task}} {{database}}"
    return _dashboard(
        "thoth-stack-health", "Stack health", "now-6h",
        "The monitoring stack itself: scrape targets, the exporters' collections, the alert "
        "receiver's GitHub work and the weekly SLO report.",
        [
            Section("Targets", [
                timeseries_panel("Scrape targets up", "short", "Targets Prometheus scraped "
                                 "successfully, per job.",
                                 Query("sum by (job) (up)", "{{job}}"), width=12),
                stat_panel("Share of targets up", "percentunit", "Scraped targets that "
                           "answered, per job.",
                           Query("sum by (job) (up) / count by (job) (up)", "{{job}}"),
                           steps=((None, "red"), (1, "green")), width=6),
                stat_panel("Database and Ceph reachable", "none", "metrics-exporter's last "
                           "probes of the knowledge graph and of the Ceph bucket.",
                           Query("thoth_metrics_exporter_database_up", "database"),
                           Query("thoth_ceph_up", "Ceph"),
                           steps=((None, "red"), (1, "green")), width=6),
            ]),
            Section("metrics-exporter", [
                timeseries_panel("Collection errors", "cps", "Failed metric collections per "
                                 "second (query error, timeout, rows not fitting), per metric.",
                                 Query(per_second(
                                     "thoth_metrics_exporter_collection_errors_total", "metric"),
                                     "{{metric}}")),
                timeseries_panel("Slowest collections", "s", "Wall time of each metric's last "
                                 "collection, the ten slowest.",
                                 Query("topk(10, "
                                       "thoth_metrics_exporter_collection_duration_seconds)",
                                       "{{metric}}")),
                timeseries_panel("Oldest metric result", "s", "Age of the stalest content "
                                 "metric; an alert fires after an hour.",
                                 Query("max(time() - "
                                       "thoth_metrics_exporter_last_success_timestamp_seconds)",
                                       "oldest"),
                                 steps=((None, "green"), (3600, "red"))),
                timeseries_panel("Ceph list requests", "reqps", "ListObjectsV2 requests per "
                                 "second sent to count the documents.",
                                 Query(per_second(
                                     "thoth_metrics_exporter_ceph_list_requests_total", "job"),
                                     "{{job}}")),
                stat_panel("Since the last Ceph refresh", "s", "Time since the document counts "
                           "were last refreshed.",
                           Query("time() - "
                                 "thoth_metrics_exporter_ceph_last_refresh_timestamp_seconds")),
            ]),
            Section("graph-exporter", [
                stat_panel("Tasks up", "none", "1 when the task's last run succeeded.",
                           Query("thoth_graph_exporter_task_up", task),
                           steps=((None, "red"), (1, "green")), width=24),
                timeseries_panel("Task errors", "cps", "Failed task runs per second.",
                                 Query(per_second("thoth_graph_exporter_task_errors_total",
                                                  "task, database"), task)),
                timeseries_panel("Task duration", "s", "Wall time of each task's last run.",
                                 Query("thoth_graph_exporter_task_duration_seconds", task)),
                timeseries_panel("Task result age", "s", "Time since each task last "
                                 "succeeded; its metrics are as of then.",
                                 Query("time() - "
                                       "thoth_graph_exporter_task_last_success_timestamp_seconds",
                                       task)),
            ]),
            Section("Alert receiver", [
                timeseries_panel("Notifications by outcome", "cps", "Alertmanager webhook "
                                 "notifications per second by outcome; github_error makes "
                                 "Alertmanager retry.",
                                 Query(per_second("thoth_alert_receiver_notifications_total",
                                                  "outcome"), "{{outcome}}")),
                timeseries_panel("GitHub errors", "cps", "GitHub API requests per second that "
                                 "did not succeed, by operation and HTTP status (0: no answer).",
                                 Query(per_second('thoth_alert_receiver_github_requests_total'
                                                  '{code!~"2.."}', "operation, code"),
                                       "{{operation}} {{code}}")),
                timeseries_panel("GitHub rate limit remaining", "short", "x-ratelimit-remaining "
                                 "of GitHub's last answer.",
                                 Query("thoth_alert_receiver_github_rate_limit_remaining",
                                       "remaining")),
                stat_panel("Tracked open issues", "short", "Open alert issues the receiver "
                           "tracks.", Query("thoth_alert_receiver_tracked_open_issues")),
                stat_panel("Misrouted notifications", "short", "Notifications over the "
                           "dashboard's time range whose repo label named an unknown or "
                           "forbidden repository.",
                           Query("sum(increase("
                                 "thoth_alert_receiver_misrouted_notifications_total[$__range]))"),
                           steps=((None, "green"), (1, "orange"))),
            ]),
            Section("Weekly SLO report", [
                stat_panel("Since the last weekly report", "s", "Time since the last report "
                           "was built, stored and sent; an alert fires after 8 days.",
                           Query("time() - thoth_slo_report_last_success_timestamp_seconds"),
                           steps=((None, "green"), (8 * 86400, "red"))),
                stat_panel("Next report in", "s", "Time until the scheduler runs the report "
                           "next.", Query("thoth_slo_report_next_run_timestamp_seconds - time()")),
                stat_panel("Report runs", "short", "Report runs by outcome since the reporter "
                           "started.",
                           Query("sum by (outcome) (thoth_slo_report_runs_total)", "{{outcome}}")),
                stat_panel("Last report duration", "s", "How long the last report run took.",
                           Query("thoth_slo_report_duration_seconds")),
            ]),
        ],
    )  # fmt: skip


def kebechet() -> dashboard.Dashboard:
    """repo-metrics' gauges count everything stored, so a week's figure is the growth over the
    preceding 7 days: the value now minus the week's lowest (the totals only grow; a fresh
    Prometheus shows the growth since its first sample instead of nothing). Every pod of a
    deployment serves the whole store's indicators: they are taken once per job (``one_pod``)
    before summing, while the collector's own counters add up across pods."""
    manager = 'manager=~"$manager"'
    by_manager = "{{manager}}"

    def one_pod(expression: str) -> str:
        return f"max without (instance, pod) ({expression})"

    def pulls(state: str = "", by: str = "manager") -> str:
        matchers = f'{manager}, state="{state}"' if state else manager
        return f"sum{_by(by)} ({one_pod(f'thoth_kebechet_pull_requests{{{matchers}}}')})"

    def weekly(state: str = "", by: str = "manager") -> str:
        # the subquery at the evaluation interval: a fresh Prometheus shows growth since its
        # first sample at once
        return f"({pulls(state, by)} - min_over_time({pulls(state, by)}[7d:]))"

    def ratio(by: str = "manager") -> str:
        return f"{weekly('merged', by)} / ({weekly('merged', by)} + {weekly('closed', by)} > 0)"

    def quantile(q: float, metric: str, by: str = "manager") -> str:
        selector = f"{{{manager}}}" if by else ""
        return (f"histogram_quantile({q}, sum{_by(f'le, {by}' if by else 'le')} "
                f"({one_pod(f'increase({metric}_bucket{selector}[7d])')}))")  # fmt: skip

    merge = "thoth_kebechet_pull_request_merge_duration_seconds"
    review = "thoth_kebechet_pull_request_first_review_duration_seconds"
    response = "thoth_github_issue_first_response_duration_seconds"
    requests = "thoth_repo_metrics_github_requests_total"
    variable = (
        dashboard.QueryVariable("manager").label("Manager")
        .description("Kebechet managers (unknown: a title no template matches).")
        .query("label_values(thoth_kebechet_pull_requests, manager)").datasource(DATASOURCE)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True).include_all(True).all_value(".*").current(_ALL)
    )  # fmt: skip
    return _dashboard(
        "thoth-kebechet", "Kebechet", "now-30d",
        "Kebechet's pull requests per manager (opened, merged, rejected, review and merge "
        "times) and the issues of the repositories it is installed in, from repo-metrics, "
        "with the collector's own health. Weekly figures cover the preceding 7 days.",
        [
            Section("Overview", [
                stat_panel("Open pull requests", "short", "Kebechet's pull requests open now.",
                           Query(pulls("open", by=""))),
                stat_panel("Opened in 7 days", "short", "Pull requests Kebechet opened over "
                           "the preceding 7 days.", Query(weekly(by=""))),
                stat_panel("Merged in 7 days", "short", "Kebechet's pull requests merged over "
                           "the preceding 7 days.", Query(weekly("merged", by=""))),
                stat_panel("Delivery ratio (7 days)", "percentunit", "Merged among the pull "
                           "requests closed over the preceding 7 days (closed: merged or "
                           "rejected): the share of Kebechet's proposals users took.",
                           Query(ratio(by="")),
                           steps=((None, "red"), (0.5, "orange"), (0.8, "green"))),
                stat_panel("Since the last pull request", "s", "Age of the newest pull request "
                           "Kebechet opened in any collected repository; an alert fires after "
                           "7 days while installations are active.",
                           Query("time() - "
                                 "max(thoth_kebechet_last_pull_request_timestamp_seconds)"),
                           steps=((None, "green"), (7 * 86400, "red"))),
                stat_panel("Active installations", "short", "Repositories with an active "
                           "Kebechet installation in the knowledge graph.",
                           Query("sum(" + one_pod('thoth_kebechet_installations{active="true"}')
                                 + ")")),
            ]),
            Section("Delivery per manager", [
                timeseries_panel("Opened per week", "short", "Pull requests opened over the "
                                 "preceding 7 days (growth of all states together), per manager.",
                                 Query(weekly(), by_manager)),
                timeseries_panel("Merged per week", "short", "Pull requests merged over the "
                                 "preceding 7 days, per manager.",
                                 Query(weekly("merged"), by_manager)),
                timeseries_panel("Rejected per week", "short", "Pull requests closed without "
                                 "merge over the preceding 7 days, per manager.",
                                 Query(weekly("closed"), by_manager)),
                timeseries_panel("Delivery ratio per week", "percentunit", "Merged ÷ (merged + "
                                 "rejected) over the preceding 7 days, per manager; no point "
                                 "for a week without closed pull requests.",
                                 Query(ratio(), by_manager)),
                bargauge_panel("Open pull requests per manager", "short", "Kebechet's pull "
                               "requests open now, per manager.",
                               Query(pulls("open"), by_manager)),
                bargauge_panel("Top repositories by open pull requests", "short", "The ten "
                               "repositories with most open Kebechet pull requests (other: the "
                               "repositories beyond repo-metrics' top_repositories, summed).",
                               Query("topk(10, sum by (repository) ("
                                     + one_pod('thoth_kebechet_repository_pull_requests'
                                               '{state="open"}') + "))",
                                     "{{repository}}")),
            ]),
            Section("Review and merge times", [
                timeseries_panel("Time to merge", "s", "Median and 90th percentile of the time "
                                 "from opening to merge of the pull requests merged over the "
                                 "preceding 7 days, per manager (interpolated in the histogram's "
                                 "buckets: 1h, 6h, 1d, 2d, 3d, 7d, 14d, 30d, 90d).",
                                 Query(quantile(0.5, merge), f"median {by_manager}"),
                                 Query(quantile(0.9, merge), f"p90 {by_manager}"), width=12),
                timeseries_panel("Time to first review", "s", "Median and 90th percentile of the "
                                 "time from opening to the first review (by someone else, not a "
                                 "bot) of the pull requests first reviewed over the preceding 7 "
                                 "days, per manager.",
                                 Query(quantile(0.5, review), f"median {by_manager}"),
                                 Query(quantile(0.9, review), f"p90 {by_manager}"), width=12),
            ]),
            Section("Repositories and issues", [
                timeseries_panel("Issue first response", "s", "Median and 90th percentile of "
                                 "the time to the first comment by someone else (not a bot) on "
                                 "the issues answered over the preceding 7 days.",
                                 Query(quantile(0.5, response, by=""), "median"),
                                 Query(quantile(0.9, response, by=""), "p90")),
                timeseries_panel("Issues", "short", "Issues (not pull requests) of the "
                                 "collected repositories, by state.",
                                 Query(f"sum by (state) ({one_pod('thoth_github_issues')})",
                                       "{{state}}")),
                stat_panel("Repositories", "short", "Repositories repo-metrics collects, and "
                           "those GitHub answers 404 or 451 for (gone: kept, no longer updated).",
                           Query(f"sum by (state) ({one_pod('thoth_repo_metrics_repositories')})",
                                 "{{state}}")),
                stat_panel("Installations", "short", "Repositories with a Kebechet "
                           "installation in the knowledge graph, active or not.",
                           Query("sum by (active) ("
                                 + one_pod("thoth_kebechet_installations") + ")",
                                 "active={{active}}")),
            ]),
            Section("Collector", [
                stat_panel("Since the last successful collection", "s", "Time since the last "
                           "collection in which no repository failed; an alert fires after 3 "
                           "hours (3 default intervals).",
                           Query("time() - "
                                 "max(thoth_repo_metrics_collection_success_timestamp_seconds)"),
                           steps=((None, "green"), (3 * 3600, "red"))),
                stat_panel("Last collection duration", "s", "How long the last collection "
                           "took.", Query("max(thoth_repo_metrics_collection_duration_seconds)")),
                stat_panel("Rate limit remaining", "short", "x-ratelimit-remaining of GitHub's "
                           "last answer; an alert fires below 100.",
                           Query("min(thoth_repo_metrics_github_rate_limit_remaining)"),
                           steps=((None, "red"), (100, "green"))),
                stat_panel("Not modified (304) share", "percentunit", "GitHub requests over the "
                           "dashboard's time range answered 304 Not Modified: unchanged "
                           "repositories, free of rate limit.",
                           Query(f'(sum(increase({requests}{{status="304"}}[$__range])) or '
                                 f"vector(0)) / sum(increase({requests}[$__range]))")),
                stat_panel("Corrupt store documents", "short", "Knowledge-store documents found "
                           "unreadable since the collector started (kept aside, collected again).",
                           Query("sum(thoth_repo_metrics_store_corrupt_documents_total)"),
                           steps=((None, "green"), (1, "orange")), width=8),
                timeseries_panel("GitHub requests by status", "short", "GitHub API requests per "
                                 "hour by answer status (304: not modified, 0: no answer).",
                                 Query(f"sum by (status) (increase({requests}[1h]))",
                                       "{{status}}"), width=12),
                timeseries_panel("Repository collections by outcome", "short", "Repository "
                                 "collections per hour by outcome (unchanged: one 304 answer).",
                                 Query("sum by (outcome) (increase("
                                       "thoth_repo_metrics_repository_collections_total[1h]))",
                                       "{{outcome}}"), width=12),
            ]),
        ],
        variables=[variable],
    )  # fmt: skip


def request_pipeline() -> dashboard.Dashboard:
    """A request's way: User API -> Kafka -> Investigator (a consumer group) -> Argo workflow ->
    result document on Ceph; each row answers "does it move on from here"."""
    lag = "thoth_kafka_consumergroup_topic_lag"
    group = "{{consumergroup}} {{topic}}"
    # the alert ThothKafkaConsumerGroupHalted before its for:
    halted = (f"{lag} > 0 and "
              "changes(thoth_kafka_consumergroup_topic_current_offset[15m]) == 0 "
              "and on (job, instance) thoth_kafka_up == 1")  # fmt: skip
    durations = "argo_workflows_duration_seconds_histogram_bucket"

    def duration(q: float) -> Query:
        return Query(f"histogram_quantile({q}, sum by (le, name) (rate({durations}[1h])))",
                     f"p{round(q * 100)} {{{{name}}}}")  # fmt: skip

    return _dashboard(
        "thoth-request-pipeline", "Request pipeline", "now-24h",
        "User requests on their way: requests and result documents on Ceph, the Kafka topics "
        "and consumer groups that carry them (metrics-exporter), and the Argo workflows that "
        "answer them (the Argo controller's and the workflows' own metrics).",
        [
            Section("Requests and results", [
                timeseries_panel("Requests per type", "short", "Requests stored on Ceph "
                                 "(<id>.request objects), per result type.",
                                 Query("thoth_ceph_requests", "{{result_type}}")),
                timeseries_panel("Result documents per type", "short", "Result documents "
                                 "stored on Ceph, per result type.",
                                 Query("thoth_ceph_documents", "{{result_type}}")),
                timeseries_panel("Requests without a result", "short", "Stored requests whose "
                                 "result document is not there (yet), per result type: those "
                                 "being processed and those that never got one. An alert fires "
                                 "when its lowest value over 2 hours rises by more than 10.",
                                 Query("thoth_ceph_requests_without_result", "{{result_type}}")),
            ]),
            Section("Kafka", [
                stat_panel("Kafka reachable", "none", "1 when metrics-exporter's last Kafka "
                           "collection reached the brokers; an alert fires after 10 minutes "
                           "at 0.", Query("thoth_kafka_up"),
                           steps=((None, "red"), (1, "green"))),
                stat_panel("Brokers", "short", "Brokers in the cluster metadata.",
                           Query("kafka_brokers")),
                stat_panel("Since the last Kafka collection", "s", "Age of the Kafka values; "
                           "they are held while the brokers are unreachable.",
                           Query("time() - thoth_kafka_last_success_timestamp_seconds")),
                stat_panel("Halted consumer groups", "short", "Consumer groups and topics with "
                           "messages waiting and no commit for 15 minutes while Kafka is "
                           "reachable; an alert fires 15 minutes later.",
                           Query(f"count({halted}) or sum(0 * thoth_kafka_up)"),
                           steps=((None, "green"), (1, "red"))),
                stat_panel("Consumer group members", "short", "Members of each consumer group "
                           "(0: no consumer running).",
                           Query("kafka_consumergroup_members", "{{consumergroup}}"), width=8),
                timeseries_panel("Messages per topic", "cps", "Messages written per second, "
                                 "per topic (growth of the partitions' newest offsets).",
                                 Query("sum by (topic) "
                                       "(rate(kafka_topic_partition_current_offset"
                                       "[$__rate_interval]))", "{{topic}}"), width=12),
                timeseries_panel("Consumer lag", "short", "Messages waiting for each consumer "
                                 "group, per topic (newest minus committed offsets, summed over "
                                 "partitions); an alert fires when it grows for 30 minutes "
                                 "above 100.", Query(lag, group), width=12),
            ]),
            Section("Argo workflows", [
                timeseries_panel("Workflows by phase", "short", "Workflows the Argo "
                                 "controllers hold now, per phase.",
                                 Query("sum by (status) (argo_workflows_count)", "{{status}}")),
                timeseries_panel("Finished workflows per hour", "short", "Workflows finished "
                                 "over the preceding hour, per status.",
                                 Query("sum by (status) "
                                       "(increase(argo_workflows_status_counter[1h]))",
                                       "{{status}}")),
                timeseries_panel("Workflow duration", "s", "Median and 90th percentile of the "
                                 "duration of the workflows that succeeded over the preceding "
                                 "hour, per workflow (interpolated in the histogram's buckets).",
                                 duration(0.5), duration(0.9)),
            ]),
        ],
    )  # fmt: skip


def _by(labels: str) -> str:
    """A grouping clause, none for no labels."""
    return f" by ({labels})" if labels else ""


# --- building blocks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One PromQL target and its legend (Grafana's ``{{label}}`` templates)."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Section:
    """A dashboard row and the panels under it; ``repeat`` names a variable to repeat it by."""

    title: str
    panels: list[AnyPanel]
    repeat: str | None = None


_ALL = VariableOption(text="All", value="$__all", selected=True)


def timeseries_panel(
    title: str, unit: str, description: str, *queries: Query, width: int = 8,
    steps: Steps = NEUTRAL,
) -> timeseries.Panel:  # fmt: skip
    """Trends over the time range; thresholds other than the base step are drawn as lines."""
    builder = (
        timeseries.Panel().fill_opacity(10)
        .thresholds_style(common.GraphThresholdsStyleConfig().mode(GraphTresholdsStyleMode.LINE))
        .legend(common.VizLegendOptions().display_mode(LegendDisplayMode.LIST)
                .placement(LegendPlacement.BOTTOM).show_legend(True))
        .tooltip(common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI)
                 .sort(SortOrder.DESCENDING))
    )  # fmt: skip
    return _common(builder, title, unit, description, queries, instant=False,
                   width=width, height=8, steps=steps)  # fmt: skip


def stat_panel(
    title: str, unit: str, description: str, *queries: Query, width: int = 4,
    steps: Steps = NEUTRAL,
) -> stat.Panel:  # fmt: skip
    """Current values (the last one in the range) over a small trend, coloured by ``steps``."""
    builder = (
        stat.Panel().graph_mode(BigValueGraphMode.AREA).color_mode(BigValueColorMode.VALUE)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )  # fmt: skip
    return _common(builder, title, unit, description, queries, instant=False,
                   width=width, height=4, steps=steps)  # fmt: skip


def bargauge_panel(
    title: str, unit: str, description: str, *queries: Query, width: int = 8,
    steps: Steps = NEUTRAL,
) -> bargauge.Panel:  # fmt: skip
    """Top-N lists: instant queries, one bar per series."""
    builder = (
        bargauge.Panel().orientation(VizOrientation.HORIZONTAL)
        .display_mode(BarGaugeDisplayMode.BASIC).show_unfilled(True)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )  # fmt: skip
    return _common(builder, title, unit, description, queries, instant=True,
                   width=width, height=8, steps=steps)  # fmt: skip


def _common(
    builder: PanelBuilder, title: str, unit: str, description: str, queries: Sequence[Query],
    instant: bool, width: int, height: int, steps: Steps,
) -> PanelBuilder:  # fmt: skip
    builder = (
        builder.title(title).description(description).unit(unit).datasource(DATASOURCE)
        .span(width).height(height)
        .thresholds(dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE)
                    .steps([Threshold(value=value, color=color) for value, color in steps]))
    )  # fmt: skip
    for number, query in enumerate(queries):
        target = (
            prometheus.Dataquery().expr(query.expr).legend_format(query.legend)
            .ref_id(chr(ord("A") + number)).datasource(DATASOURCE)
        )  # fmt: skip
        builder = builder.with_target(target.instant() if instant else target.range())
    return builder


def _dashboard(
    uid: str, title: str, time_from: str, description: str, sections: list[Section],
    variables: Sequence[dashboard.QueryVariable | dashboard.CustomVariable] = (),
) -> dashboard.Dashboard:  # fmt: skip
    builder = (
        dashboard.Dashboard(title).uid(uid).description(description).tags([TAG])
        .time(time_from, "now").refresh("5m").tooltip(DashboardCursorSync.CROSSHAIR)
        .link(dashboard.DashboardLink("Thoth dashboards").type(DashboardLinkType.DASHBOARDS)
              .tags([TAG]).as_dropdown(True).keep_time(True))
    )  # fmt: skip
    for variable in variables:
        builder = builder.with_variable(variable)
    for section in sections:
        row = dashboard.Row(section.title)
        builder = builder.with_row(row.repeat(section.repeat) if section.repeat else row)
        for panel in section.panels:
            builder = builder.with_panel(panel)
    return builder


def _importable(builder: dashboard.Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana's "export for sharing externally" writes it: numbered panels
    and the datasource as an import input."""
    model = builder.build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    payload = model.to_json()
    kinds = sorted({p.type_val for p in model.panels or []} - {"row"})
    payload["__inputs"] = INPUTS
    payload["__requires"] = [
        {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
        {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
        *({"type": "panel", "id": kind, "name": kind, "version": ""} for kind in kinds),
    ]
    return payload
