"""The Superset import bundle: committed and current, byte-stable, every reference resolvable,
and never a password in it."""

import io
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.support.repository import REPOSITORY
from thoth_monitoring.cli import main
from thoth_monitoring.superset_bundle.bundle import CHARTS, ROOT, render, write_folder, write_zip

COMMITTED = REPOSITORY / "thoth_monitoring" / "superset_bundle" / "thoth_analytics"


def test_committed_bundle_is_current() -> None:
    rendered = render()
    committed = {path.relative_to(COMMITTED).as_posix() for path in COMMITTED.rglob("*.yaml")}
    assert committed == set(rendered)
    for name, text in rendered.items():
        assert (COMMITTED / name).read_text() == text, (
            f"{COMMITTED.relative_to(REPOSITORY)}/{name} is stale: run "
            "`thoth-monitoring superset-bundle`"
        )


def test_zip_is_byte_identical_on_regeneration(tmp_path: Path) -> None:
    first = write_zip(tmp_path / "a.zip").read_bytes()
    assert write_zip(tmp_path / "b.zip").read_bytes() == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        contents = {name: archive.read(name).decode() for name in archive.namelist()}
    assert contents == {f"{ROOT}/{name}": text for name, text in render().items()}


def test_references_resolve_to_objects_in_the_bundle() -> None:
    files = {name: yaml.safe_load(text) for name, text in render().items()}
    database = files["databases/thoth_analytics.yaml"]["uuid"]
    datasets = {body["uuid"] for name, body in files.items() if name.startswith("datasets/")}
    charts = {body["uuid"] for name, body in files.items() if name.startswith("charts/")}
    assert len(charts) == len(CHARTS) == 5
    for name, body in files.items():
        if name.startswith("datasets/"):
            assert body["database_uuid"] == database, name
        if name.startswith("charts/"):
            assert body["dataset_uuid"] in datasets, name
    position = files["dashboards/thoth_analytics.yaml"]["position"]
    placed = {item["meta"]["uuid"] for item in position.values() if item_is_chart(item)}
    assert placed == charts


def item_is_chart(item: object) -> bool:
    return isinstance(item, dict) and item["type"] == "CHART"


def test_a_uri_with_a_password_is_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "bundle.zip"
    uri = "postgresql+psycopg2://thoth:secret@db:5432/thoth"
    assert main(["superset-bundle", "--output", str(target), "--database-uri", uri]) == 2
    assert "must not hold a password" in capsys.readouterr().err
    assert not target.exists()


def test_command_writes_the_zip_with_the_given_uri(tmp_path: Path) -> None:
    target = tmp_path / "bundle.zip"
    uri = "postgresql+psycopg2://analytics@db.example:5432/thoth"
    assert main(["superset-bundle", "--output", str(target), "--database-uri", uri]) == 0
    with zipfile.ZipFile(target) as archive:
        database = yaml.safe_load(archive.read(f"{ROOT}/databases/thoth_analytics.yaml"))
    assert database["sqlalchemy_uri"] == uri


def test_write_folder_removes_files_no_longer_generated(tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "gone.yaml").write_text("slice_name: gone\n")
    write_folder(tmp_path)
    assert not (tmp_path / "charts" / "gone.yaml").exists()
    assert (tmp_path / "charts" / "runs_per_day.yaml").exists()
