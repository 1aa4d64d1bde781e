"""Configuration errors name the file, the place and the problem."""

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from thoth_monitoring.core.config import ConfigError, load_yaml, parse_duration
from thoth_monitoring.exporters.metrics.collection import Collector
from thoth_monitoring.exporters.metrics.documents import DocumentCounter, DocumentCountSettings
from thoth_monitoring.exporters.metrics.exposition import ContentMetrics
from thoth_monitoring.exporters.metrics.metricset import (
    DEFAULT_METRICS_FILE,
    RESERVED_PREFIXES,
    load_metric_set,
)


def load(tmp_path: Path, text: str, parameters: frozenset[str] = frozenset()) -> ConfigError:
    path = tmp_path / "team.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_metric_set([path], 60, 30, parameters, include_default=False)
    assert caught.value.source == str(path)
    return caught.value


def test_unknown_field_is_named_with_metric_and_field(tmp_path: Path) -> None:
    error = load(
        tmp_path,
        "metrics:\n  team_jobs:\n    type: gauge\n    help: Jobs.\n    sql: SELECT 1 AS value\n"
        "    intervall: 5m\n",
    )
    assert error.problems == [("metrics.team_jobs.intervall", "Extra inputs are not permitted")]


def test_semantic_problems_are_all_reported_at_once(tmp_path: Path) -> None:
    error = load(
        tmp_path,
        """metrics:
  team-jobs:
    type: gauge
    help: Jobs.
    sql: SELECT 1 AS value
  team_runs:
    type: counter
    help: Runs.
    timeout: 10m
    interval: 1m
    sql: SELECT 1 AS value WHERE :missing_parameter
""",
    )
    assert ("metrics.team-jobs.name", "'team-jobs' is not a valid Prometheus metric name "
            "(no colons, no dashes)") in error.problems  # fmt: skip
    assert ("metrics.team_runs.name", "a counter's name must end in _total") in error.problems
    assert ("metrics.team_runs.timeout", "must not be longer than the interval") in error.problems
    assert (
        "metrics.team_runs.sql",
        "uses :missing_parameter, which is not a configured parameter",
    ) in error.problems
    assert str(error).startswith(f"{tmp_path / 'team.yaml'}: metrics.team-jobs.name: ")


def test_bad_duration_and_label_are_explained(tmp_path: Path) -> None:
    error = load(
        tmp_path,
        "metrics:\n  team_jobs:\n    type: gauge\n    help: Jobs.\n    sql: SELECT 1\n"
        "    interval: soon\n    labels: [ok, __bad]\n",
    )
    messages = dict(error.problems)
    assert "'soon' is not a duration" in messages["metrics.team_jobs.interval"]
    assert "'__bad' is not a valid Prometheus label name" in messages["metrics.team_jobs.labels"]


def test_unknown_fragment_is_reported(tmp_path: Path) -> None:
    error = load(
        tmp_path,
        "metrics:\n  team_jobs:\n    type: gauge\n    help: Jobs.\n"
        "    sql: 'WITH {{nope}} SELECT 1'\n",
    )
    assert error.problems == [("metrics.team_jobs.sql", "no fragment named 'nope'")]


def test_invalid_yaml_reports_line_and_column(tmp_path: Path) -> None:
    error = load(tmp_path, "metrics:\n  team_jobs: [unclosed\n")
    assert error.problems[0][0].startswith("line 3")
    assert error.problems[0][1].startswith("invalid YAML")


def test_missing_environment_variable_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "exporter.yaml"
    path.write_text("listen: ':9701'\ndatabase_url: ${THOTH_TEST_UNSET_VARIABLE}\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml(path, environ={})
    assert caught.value.problems == [
        ("line 2", "environment variable THOTH_TEST_UNSET_VARIABLE is not set")
    ]
    assert load_yaml(path, environ={"THOTH_TEST_UNSET_VARIABLE": "postgresql://x/y"}) == {
        "listen": ":9701",
        "database_url": "postgresql://x/y",
    }


def test_an_unset_variable_named_in_a_comment_is_no_error(tmp_path: Path) -> None:
    path = tmp_path / "exporter.yaml"
    path.write_text(
        "# ${THOTH_TEST_UNSET} comes from the pod's environment\n"
        "listen: ':9701'  # or ${THOTH_TEST_UNSET}\n"
        "password: 'a #${THOTH_TEST_UNSET_TOO}'\n"
    )
    with pytest.raises(ConfigError) as caught:  # inside quotes it is a value, not a comment
        load_yaml(path, environ={})
    assert caught.value.problems == [
        ("line 3", "environment variable THOTH_TEST_UNSET_TOO is not set")
    ]
    assert load_yaml(path, environ={"THOTH_TEST_UNSET_TOO": "x"}) == {
        "listen": ":9701",
        "password": "a #x",
    }


def test_later_files_override_and_disable_by_name(tmp_path: Path) -> None:
    override = tmp_path / "override.yaml"
    override.write_text(
        "metrics:\n"
        "  thoth_graphdb_cves:\n    type: gauge\n    help: Mine.\n    sql: SELECT 1 AS value\n"
        "  thoth_graphdb_python_indexes:\n    type: gauge\n    help: x\n    sql: x\n"
        "    enabled: false\n"
    )
    params = frozenset({"expected_solvers", "expected_schema_revision"})
    metrics = load_metric_set([override], 60, 30, params)
    assert metrics["thoth_graphdb_cves"].help == "Mine."
    assert metrics["thoth_graphdb_cves"].source == str(override)
    assert "thoth_graphdb_python_indexes" not in metrics
    assert metrics["thoth_graphdb_adviser_runs"].source == str(DEFAULT_METRICS_FILE)


def test_durations() -> None:
    assert [parse_duration(v) for v in (30, "30s", "5m", "1.5h", "250ms", "7d")] == [
        30, 30, 300, 5400, 0.25, 604800,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        parse_duration("0s")


def test_non_utf8_file_is_refused_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_bytes(
        "metrics:\n  team_jobs:\n    type: gauge\n    help: Café jobs.\n".encode("latin-1")
    )
    with pytest.raises(ConfigError) as caught:
        load_metric_set([path], 60, 30, frozenset(), include_default=False)
    assert caught.value.problems == [
        ("line 4, column 14", "not UTF-8 text (byte 0xe9); save the file as UTF-8")
    ]


def test_duplicate_keys_are_refused_with_both_lines(tmp_path: Path) -> None:
    error = load(
        tmp_path,
        "metrics:\n"
        "  team_jobs:\n    type: gauge\n    help: Jobs.\n    sql: SELECT 1 AS value\n"
        "  team_jobs:\n    type: gauge\n    help: Jobs.\n    sql: SELECT 2 AS value\n    sql: x\n",
    )
    assert error.problems == [
        ("line 6, column 3", "invalid YAML: duplicate key 'team_jobs' (first at line 2)")
    ]


def test_duplicate_option_in_a_config_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "exporter.yaml"
    path.write_text("listen: ':9701'\ninterval: 1m\nlisten: ':9801'\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml(path)
    assert caught.value.problems == [
        ("line 3, column 1", "invalid YAML: duplicate key 'listen' (first at line 1)")
    ]


def test_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "exporter.yaml"
    path.write_text("base: &base {interval: 1m, timeout: 5s}\nbloat: {<<: *base, interval: 2h}\n")
    assert load_yaml(path)["bloat"] == {"interval": "2h", "timeout": "5s"}


def test_names_of_the_exporters_own_metrics_are_refused(tmp_path: Path) -> None:
    error = load(
        tmp_path,
        "metrics:\n"
        "  thoth_metrics_exporter_database_up:\n    type: gauge\n    help: x\n    sql: SELECT 1\n"
        "  thoth_ceph_up:\n    type: gauge\n    help: x\n    sql: SELECT 1\n",
    )
    assert error.problems == [
        ("metrics.thoth_metrics_exporter_database_up.name",
         "the prefix thoth_metrics_exporter_ is reserved for the exporter's own metrics"),
        ("metrics.thoth_ceph_up.name",
         "the prefix thoth_ceph_ is reserved for the exporter's own metrics"),
    ]  # fmt: skip


def test_every_metric_the_exporter_adds_itself_has_a_reserved_prefix() -> None:
    s3 = DocumentCountSettings(endpoint_url="http://s3", bucket="b", deployment="d")
    documents = DocumentCounter(None, s3, up=True, last_refresh=1.0)
    engine = create_async_engine("postgresql+psycopg://")
    own = ContentMetrics(Collector(engine, {}), documents, "0")
    names = [family.name for family in own.collect()]
    assert len(names) > 5
    assert [name for name in names if not name.startswith(RESERVED_PREFIXES)] == []


def test_metrics_exposed_under_one_family_name_are_refused(tmp_path: Path) -> None:
    error = load(
        tmp_path,
        "metrics:\n"
        "  team_jobs_total:\n    type: counter\n    help: x\n    sql: SELECT 1 AS value\n"
        "  team_jobs:\n    type: gauge\n    help: x\n    sql: SELECT 1 AS value\n",
    )
    path = tmp_path / "team.yaml"
    assert error.problems == [
        (
            "metrics.team_jobs.name",
            f"exposed as the same family 'team_jobs' as team_jobs_total ({path})",
        )
    ]
