"""Where the demo finds Superset, and the bundle's connection for the demo's database (Superset
itself runs in tests/e2e/test_superset.py)."""

from pathlib import Path

import pytest

from thoth_monitoring.demo.superset import ENV_VAR, TEST_VENV, find_superset, superset_uri
from thoth_monitoring.superset_bundle.bundle import write_zip


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_superset_named_by_the_environment_variable_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = executable(tmp_path / "elsewhere" / "superset")
    executable(tmp_path / TEST_VENV / "bin" / "superset")
    monkeypatch.setenv(ENV_VAR, str(named))
    assert find_superset(tmp_path) == named


def test_superset_named_by_the_environment_variable_must_be_an_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=f"{ENV_VAR}=.*missing is not an executable superset"):
        find_superset(tmp_path)


def test_superset_of_the_test_cache_is_found_else_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert find_superset(tmp_path) is None
    cached = executable(tmp_path / TEST_VENV / "bin" / "superset")
    assert find_superset(tmp_path) == cached


@pytest.mark.parametrize(
    ("url", "uri"),
    [
        # pgserver's URLs carry an empty password, which the bundle refuses
        ("postgresql://postgres:@/postgres?host=/tmp/socket",
         "postgresql+psycopg2://postgres@/postgres?host=/tmp/socket"),
        ("postgresql+psycopg://thoth@db.example:5432/thoth",
         "postgresql+psycopg2://thoth@db.example:5432/thoth"),
    ],
)  # fmt: skip
def test_superset_connects_to_the_database_with_psycopg2_and_no_password(
    url: str, uri: str, tmp_path: Path
) -> None:
    assert superset_uri(url) == uri
    write_zip(tmp_path / "bundle.zip", superset_uri(url))  # the bundle accepts it
