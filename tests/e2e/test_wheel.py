"""Installed from a wheel, as a user installs it: every command runs from an empty folder, away
from the checkout, reading only what the wheel ships (through importlib.resources).

The wheel is built from a copy of the checkout and installed without its dependencies into a new
virtual environment whose ``.pth`` file points at this environment's site-packages: the
dependencies come from there, the project itself does not (here it is installed editable,
through a finder that a plain path entry does not load)."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from tests.support.alerts import payload
from tests.support.demo import (
    assert_rules_loaded,
    assert_stopped_cleanly,
    interrupt,
    start_demo,
    wait_for_urls,
)
from tests.support.repository import REPOSITORY

# What a build leaves behind or what the wheel never holds: not copied.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "demo-out",
    ".thoth-monitoring", "docs", "bench",
)  # fmt: skip


@dataclass(frozen=True)
class Installed:
    venv: Path
    site_packages: Path
    env: dict[str, str]  # without PYTHONPATH, which would put a checkout first

    @property
    def command(self) -> str:
        return str(self.venv / "bin" / "thoth-monitoring")

    def run(self, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.command, *args], cwd=folder, env=self.env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPOSITORY, source, ignore=NOT_SOURCES)
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    # build isolation: the build backend pyproject.toml asks for, from the configured index
    build = subprocess.run([*pip, "wheel", "--no-deps", "-w", str(root / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (root / "dist").glob("thoth_monitoring-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    Path(site, "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
                             capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    yield Installed(venv, Path(site), env)


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_the_project_is_imported_from_the_wheel(installed: Installed, empty: Path) -> None:
    packages = ("thoth_monitoring",)
    code = f"import importlib\nfor p in {packages}: print(importlib.import_module(p).__file__)"
    python = installed.venv / "bin" / "python"
    where = subprocess.run([python, "-c", code], cwd=empty, env=installed.env,
                           capture_output=True, text=True, check=True)  # fmt: skip
    paths = [Path(line) for line in where.stdout.split()]
    assert len(paths) == len(packages), where.stdout
    assert all(path.is_relative_to(installed.site_packages) for path in paths), paths


def test_every_command_validates_its_configuration(installed: Installed, empty: Path) -> None:
    assert installed.run(empty, "--help").returncode == 0
    (empty / "github-token").write_text("token\n")
    (empty / "receiver.yaml").write_text(
        "default_repo: thoth-station/thoth-application\nbearer_token: secret\n"
        "github_token_file: github-token\n"
    )
    (empty / "payload.json").write_text(json.dumps(payload()))
    checks = {
        ("metrics-exporter", "--check-config"): "configuration is valid: 36 metrics",
        ("graph-exporter", "--check-config"): "configuration is valid: the embedded database(s)",
        ("alert-receiver", "--config", "receiver.yaml", "--check-config"): "configuration is valid",
        ("alert-receiver", "render", "payload.json"): "| alertname | ThothDatabaseUnreachable |",
        ("slo-report", "--check-config"): "configuration is valid: 5 SLOs",
        (
            "repo-metrics",
            "--repository",
            "thoth-station/adviser",
            "--store",
            "store",
            "--github-token-file",
            "github-token",
            "--check-config",
        ): f"configuration is valid: token authentication, knowledge in {empty / 'store'}",
    }
    (empty / "analytics.yaml").write_text(
        "ceph: {endpoint_url: 'http://127.0.0.1:9', bucket: thoth, deployment: ocp4-stage}\n"
    )
    checks[("analytics", "--config", "analytics.yaml", "--check-config")] = "configuration is valid"
    for args, expected in checks.items():
        result = installed.run(empty, *args)
        assert result.returncode == 0 and expected in result.stdout, (args, result)


def test_generators_write_under_the_working_folder(installed: Installed, empty: Path) -> None:
    """Never into the installed package: from a wheel the repository's folders do not exist."""
    rules = installed.run(empty, "slo-report", "rules")
    assert rules.returncode == 0, rules.stderr
    written = (empty / "thoth_monitoring" / "alerts" / "rules" / "slo.yaml").read_text()
    assert written == (files("thoth_monitoring.alerts") / "rules" / "slo.yaml").read_text()
    dashboards = installed.run(empty, "dashboards")
    assert dashboards.returncode == 0, dashboards.stderr
    written_dashboards = (empty / "thoth_monitoring" / "dashboards").glob("*.json")
    assert sorted(path.name for path in written_dashboards) == [
        "database-health.json", "kebechet.json", "knowledge-graph.json", "request-pipeline.json",
        "slos.json", "stack-health.json",
    ]  # fmt: skip
    bundle = installed.run(empty, "superset-bundle")
    assert bundle.returncode == 0, bundle.stderr
    written_bundle = empty / "thoth_monitoring" / "superset_bundle" / "thoth_analytics"
    assert (written_bundle / "metadata.yaml").is_file()


def test_demo_comes_up_with_every_rule_and_stops_cleanly(
    installed: Installed, empty: Path, tmp_path: Path
) -> None:
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        process = start_demo(installed.command, empty, log, installed.env)
        try:
            urls = wait_for_urls(process, empty / "demo-out", log_path)
            assert_rules_loaded(urls["Prometheus"].rsplit("/classic", 1)[0])
            config = yaml.safe_load((empty / "demo-out" / "prometheus.yml").read_text())
            assert all(Path(path).is_absolute() for path in config["rule_files"]), config
        finally:
            interrupt(process)
    assert_stopped_cleanly(process, log_path)
