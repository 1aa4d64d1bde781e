"""Superset's import bundle (format version 1.0.0) for the adviser analytics dashboard.

One database connection (its password left out: set it when importing), the two
``thoth_analytics`` tables as datasets with their metrics, five charts and one dashboard. The
UUIDs are ``uuid5`` of the object's name and the timestamp is fixed, so regenerating writes the same
bytes unless this code changed. Each chart carries the query context Superset's
``/api/v1/chart/{id}/data/`` endpoint runs, alongside the form data the chart view draws from.
"""

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = ["CHARTS", "DATABASE_URI", "ROOT", "chart_uuid", "render", "write_folder", "write_zip"]

# Edit the host (and user) after import or pass --database-uri; the password is never stored.
DATABASE_URI = "postgresql+psycopg2://thoth@thoth-analytics-db:5432/thoth"
# The folder every file of the ZIP sits in (Superset drops the first path component).
ROOT = "thoth_analytics"
SCHEMA = "thoth_analytics"
VERSION = "1.0.0"
TIMESTAMP = "2026-01-01T00:00:00+00:00"
NAMESPACE = uuid.UUID("6d1c1a3e-52b4-4a57-9d0e-2f8c4f1e7a10")
DATABASE_NAME = "Thoth analytics"


def _uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    expression: str
    d3format: str | None = None


@dataclass(frozen=True)
class Dataset:
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, SQL type)
    metrics: tuple[Metric, ...]
    time_column: str = "day"


@dataclass(frozen=True)
class Chart:
    """One chart: its query in Superset's terms (columns, metrics, filters, order, limit)."""

    name: str
    title: str
    viz_type: str
    table: str
    columns: tuple[str, ...]
    metrics: tuple[str, ...]
    filters: tuple[tuple[str, str, str], ...] = ()  # (column, operator, value)
    order_by: str | None = None  # a metric, descending
    row_limit: int = 10000
    extra_params: tuple[tuple[str, Any], ...] = ()


DATASETS = (
    Dataset(
        "adviser_runs",
        (
            ("document_id", "TEXT"),
            ("day", "DATE"),
            ("created_at", "TIMESTAMP WITH TIME ZONE"),
            ("integration", "TEXT"),
            ("recommendation_type", "TEXT"),
            ("outcome", "TEXT"),
            ("error_class", "TEXT"),
            ("error_message", "TEXT"),
            ("duration_seconds", "DOUBLE PRECISION"),
            ("os_name", "TEXT"),
            ("os_version", "TEXT"),
            ("python_version", "TEXT"),
            ("kebechet", "BOOLEAN"),
        ),
        (
            Metric("count", "Runs", "COUNT(*)"),
            Metric(
                "kebechet_success_ratio",
                "Kebechet's success ratio",
                "COUNT(*) FILTER (WHERE kebechet AND outcome = 'success')::float"
                " / NULLIF(COUNT(*) FILTER (WHERE kebechet), 0)",
                ".1%",
            ),
        ),
    ),
    Dataset(
        "adviser_daily",
        (
            ("day", "DATE"),
            ("integration", "TEXT"),
            ("recommendation_type", "TEXT"),
            ("outcome", "TEXT"),
            ("runs", "INTEGER"),
        ),
        (
            Metric("runs", "Runs", "SUM(runs)"),
            Metric(
                "error_share",
                "Error share",
                "SUM(CASE WHEN outcome = 'error' THEN runs ELSE 0 END)::float"
                " / NULLIF(SUM(runs), 0)",
                ".1%",
            ),
        ),
    ),
)

CHARTS = (
    Chart(
        "runs_per_day", "Adviser runs per day by integration", "echarts_timeseries_bar",
        "adviser_daily", ("day", "integration"), ("runs",),
        extra_params=(("x_axis", "day"), ("time_grain_sqla", "P1D"), ("groupby", ["integration"]),
                      ("stack", "Stack"), ("show_legend", True)),
    ),
    Chart(
        "error_share", "Error share by integration", "echarts_timeseries_bar",
        "adviser_daily", ("integration",), ("error_share",), order_by="error_share",
        extra_params=(("x_axis", "integration"), ("y_axis_format", ".0%"),
                      ("x_axis_sort_asc", False)),
    ),
    Chart(
        "top_error_classes", "Top error classes", "table", "adviser_runs", ("error_class",),
        ("count",), filters=(("outcome", "==", "error"),), order_by="count", row_limit=10,
        extra_params=(("query_mode", "aggregate"), ("groupby", ["error_class"])),
    ),
    Chart(
        "recommendation_types", "Recommendation types", "pie", "adviser_daily",
        ("recommendation_type",), ("runs",), order_by="runs",
        extra_params=(("groupby", ["recommendation_type"]), ("metric", "runs"),
                      ("show_labels", True), ("label_type", "key_percent")),
    ),
    Chart(
        "kebechet_success_ratio", "Kebechet's success ratio", "big_number_total", "adviser_runs",
        (), ("kebechet_success_ratio",),
        extra_params=(("metric", "kebechet_success_ratio"), ("y_axis_format", ".1%"),
                      ("subheader", "of the adviser runs Kebechet started"),
                      ("header_font_size", 0.4), ("subheader_font_size", 0.125)),
    ),
)  # fmt: skip


def chart_uuid(chart: Chart) -> str:
    return _uuid("chart", chart.name)


def write_zip(path: Path, database_uri: str = DATABASE_URI) -> Path:
    """The bundle as the ZIP Superset imports (fixed dates, so the bytes are stable too)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in render(database_uri).items():
            archive.writestr(zipfile.ZipInfo(f"{ROOT}/{name}", (2026, 1, 1, 0, 0, 0)), text)
    path.write_bytes(buffer.getvalue())
    return path


def write_folder(folder: Path, database_uri: str = DATABASE_URI) -> list[Path]:
    """The bundle's files unzipped into ``folder``, which holds nothing else afterwards."""
    files = render(database_uri)
    for stale in sorted(folder.rglob("*.yaml")):
        if stale.relative_to(folder).as_posix() not in files:
            stale.unlink()
    paths = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(path)
    return paths


def render(database_uri: str = DATABASE_URI) -> dict[str, str]:
    """Path inside the bundle -> YAML text."""
    if urlsplit(database_uri).password is not None:
        raise ValueError(
            "the database URI must not hold a password: Superset asks for it on import"
        )
    database = _uuid("database", DATABASE_NAME)
    files = {
        "metadata.yaml": {"version": VERSION, "type": "Dashboard", "timestamp": TIMESTAMP},
        "databases/thoth_analytics.yaml": _database(database_uri, database),
    }
    for dataset in DATASETS:
        files[f"datasets/thoth_analytics/{dataset.table}.yaml"] = _dataset(dataset, database)
    for chart in CHARTS:
        files[f"charts/{chart.name}.yaml"] = _chart(chart)
    files["dashboards/thoth_analytics.yaml"] = _dashboard()
    return {name: yaml.safe_dump(body, sort_keys=False, width=100) for name, body in files.items()}


def _database(uri: str, database_uuid: str) -> dict[str, Any]:
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": uri,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "extra": {"allows_virtual_table_explore": True},
        "uuid": database_uuid,
        "version": VERSION,
    }


def _dataset(dataset: Dataset, database_uuid: str) -> dict[str, Any]:
    return {
        "table_name": dataset.table,
        "main_dttm_col": dataset.time_column,
        "description": None,
        "schema": SCHEMA,
        "sql": None,
        "params": None,
        "filter_select_enabled": True,
        "extra": None,
        "uuid": _uuid("dataset", dataset.table),
        "metrics": [
            {
                "metric_name": metric.name,
                "verbose_name": metric.label,
                "expression": metric.expression,
                "d3format": metric.d3format,
                "description": None,
                "extra": {},
                "warning_text": None,
            }
            for metric in dataset.metrics
        ],
        "columns": [
            {
                "column_name": name,
                "verbose_name": None,
                "is_dttm": sql_type in ("DATE", "TIMESTAMP WITH TIME ZONE"),
                "is_active": True,
                "type": sql_type,
                "groupby": True,
                "filterable": True,
                "expression": None,
                "description": None,
                "python_date_format": None,
                "extra": {},
            }
            for name, sql_type in dataset.columns
        ],
        "version": VERSION,
        "database_uuid": database_uuid,
    }


def _chart(chart: Chart) -> dict[str, Any]:
    datasource = f"__{chart.table}__table"  # rewritten to the imported dataset's id by Superset
    filters = [
        {"expressionType": "SIMPLE", "subject": column, "operator": operator,
         "comparator": value, "clause": "WHERE"}
        for column, operator, value in chart.filters
    ]  # fmt: skip
    params: dict[str, Any] = {
        "viz_type": chart.viz_type,
        "datasource": datasource,
        "metrics": list(chart.metrics),
        "adhoc_filters": filters,
        "row_limit": chart.row_limit,
        "time_range": "No filter",
        **dict(chart.extra_params),
    }
    query = {
        "columns": list(chart.columns),
        "metrics": list(chart.metrics),
        "filters": [{"col": c, "op": o, "val": v} for c, o, v in chart.filters],
        "orderby": [[chart.order_by, False]] if chart.order_by else [],
        "row_limit": chart.row_limit,
        "time_range": "No filter",
    }
    context = {
        "datasource": {"id": 0, "type": "table"},
        "force": False,
        "queries": [query],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }
    return {
        "slice_name": chart.title,
        "description": None,
        "viz_type": chart.viz_type,
        "params": params,
        "query_context": json.dumps(context, sort_keys=True),
        "cache_timeout": None,
        "uuid": chart_uuid(chart),
        "version": VERSION,
        "dataset_uuid": _uuid("dataset", chart.table),
    }


def _dashboard() -> dict[str, Any]:
    """Two charts per row, the ratio alone on the last, in Superset's 12-column grid."""
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": "Adviser analytics"}},
    }
    rows = [CHARTS[0:2], CHARTS[2:4], CHARTS[4:]]
    chart_ids = {chart.name: number for number, chart in enumerate(CHARTS, 1)}  # remapped on import
    for number, charts in enumerate(rows, 1):
        row = f"ROW-{number}"
        position["GRID_ID"]["children"].append(row)
        position[row] = {
            "type": "ROW", "id": row, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }  # fmt: skip
        for chart in charts:
            key = f"CHART-{chart.name}"
            position[row]["children"].append(key)
            position[key] = {
                "type": "CHART", "id": key, "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row],
                "meta": {"width": 12 // len(charts), "height": 50 if len(charts) > 1 else 25,
                         "chartId": chart_ids[chart.name], "uuid": chart_uuid(chart),
                         "sliceName": chart.title},
            }  # fmt: skip
    return {
        "dashboard_title": "Thoth adviser analytics",
        "description": None,
        "css": "",
        "slug": "thoth-adviser-analytics",
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "uuid": _uuid("dashboard", "thoth_analytics"),
        "position": position,
        "metadata": {
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "expanded_slices": {},
            "timed_refresh_immune_slices": [],
            "cross_filters_enabled": True,
            "native_filter_configuration": [],
            "shared_label_colors": [],
            "default_filters": "{}",
        },
        "version": VERSION,
    }
