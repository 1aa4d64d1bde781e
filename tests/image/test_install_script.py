"""deploy/image/install.sh refuses what it cannot do with a message naming the problem, before
building anything (the full install runs in tests/e2e/test_image.py)."""

import subprocess
from pathlib import Path

import pytest

from tests.support.repository import REPOSITORY

SCRIPT = REPOSITORY / "deploy" / "image" / "install.sh"


def install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=30)  # fmt: skip


def test_help_names_the_arguments_and_defaults() -> None:
    result = install("--help")
    assert result.returncode == 0
    assert "usage: install.sh [--python PYTHON] [SOURCE_DIR [VENV_DIR]]" in result.stdout
    assert "/opt/thoth-monitoring" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["--frobnicate"], "unknown option '--frobnicate'"),
        (["--python"], "--python needs a value"),
        (["a", "b", "c"], "expected at most SOURCE_DIR and VENV_DIR, got 3 arguments"),
        (["/nonexistent"], "no pyproject.toml in source directory '/nonexistent'"),
        ([str(REPOSITORY), "{venv}", "--python", "no-such-python"], "'no-such-python' not found"),
        ([str(REPOSITORY), "{occupied}"], "exists and is not empty; give a new folder"),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(
    tmp_path: Path, arguments: list[str], error: str
) -> None:
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "something").touch()
    folders = {"{venv}": str(tmp_path / "venv"), "{occupied}": str(tmp_path / "occupied")}
    result = install(*(folders.get(argument, argument) for argument in arguments))
    assert result.returncode == 1
    assert result.stderr.startswith("install.sh: error: ") and error in result.stderr, result.stderr
    assert not (tmp_path / "venv").exists()
