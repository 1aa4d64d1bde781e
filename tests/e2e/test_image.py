"""The image's contents without the image (no container engine on these machines): the builder
stage's files are copied here and its RUN line (deploy/image/install.sh) installs into a fresh
virtual environment (the first test's set-up: about 45 s). The commands run from it with the
environment the Containerfile sets, its /tmp mapped to a world-writable folder of the test. A
serving command must write there and nowhere else: not in its working folder, not in the
installed environment (the image's root filesystem is read-only).

Run as root, the tests run the commands as an arbitrary UID in group 0 with no passwd entry, as
OpenShift's restricted SCC does: the environment and the working folder are root's, so a write
there fails rather than only being noticed afterwards. That needs an interpreter every user can
reach (``interpreter``); without one the commands run as the test's own user."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.alerts import payload
from tests.support.containerfile import stages
from tests.support.demo import get, wait_for
from tests.support.repository import REPOSITORY
from thoth_monitoring.cli import parser
from thoth_monitoring.demo.processes import free_port, wait_for_http
from thoth_monitoring.exporters.metrics.exposition import SELF

VENV = "/opt/thoth-monitoring"  # where the Containerfile installs (checked in tests/image/)
WRITABLE = "/tmp"
ARBITRARY_UID = 1000680000  # from an OpenShift project's range; in no passwd file
NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.egg-info")  # as .containerignore says
# Installed only with the demo or test extras: the image has none.
NOT_IN_THE_IMAGE = ("aiosmtpd", "moto", "pytest")


@dataclass(frozen=True)
class Image:
    root: Path  # the test's folder, readable by everyone
    venv: Path
    tmp: Path  # stands for the image's /tmp
    uid: int | None  # the commands run as this user (group 0) when set

    def env(self) -> dict[str, str]:
        """The Containerfile's ENV with its folders mapped here; nothing of ours inherited (no
        PYTHONPATH pointing at the checkout), only what finds the system's tools."""
        env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
        here = {VENV: str(self.venv), WRITABLE: str(self.tmp), "$PATH": env["PATH"]}
        for name, value in stages()[-1].env().items():
            env[name] = ":".join(_mapped(entry, here) for entry in value.split(":"))
        return env

    def options(self, folder: Path) -> dict[str, Any]:
        """``subprocess`` options to run a command of the image in ``folder``."""
        user = {} if self.uid is None else {"user": self.uid, "group": 0, "extra_groups": []}
        return {"cwd": folder, "env": self.env(), **user}

    def run(self, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["thoth-monitoring", *args], **self.options(folder),
                              capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    """Outside pytest's temporary folders, which only their owner may enter."""
    with tempfile.TemporaryDirectory(prefix="thoth-image-") as folder:
        root = Path(folder)
        root.chmod(0o755)
        venv = root / "opt" / "thoth-monitoring"
        python, unprivileged = interpreter()
        install = build_like_the_builder(root, venv, python)
        assert install.returncode == 0, install.stdout + install.stderr
        assert f"into {venv}" in install.stdout
        tmp = root / "tmp"
        tmp.mkdir(mode=0o1777)
        tmp.chmod(0o1777)  # as the image's /tmp and an emptyDir are
        yield Image(root, venv, tmp, ARBITRARY_UID if unprivileged else None)


def build_like_the_builder(root: Path, venv: Path, python: str) -> subprocess.CompletedProcess[str]:
    """The builder stage's COPY and RUN instructions with its folders mapped under ``root``: the
    install sees only what the Containerfile copies, and runs as the Containerfile runs it."""
    builder = stages()[0]
    (workdir,) = builder.all("WORKDIR")
    source = root / workdir.arguments.lstrip("/")
    here = {workdir.arguments: str(source), VENV: str(venv)}
    for copy in builder.all("COPY"):
        *names, target = copy.words()
        destination = Path(_mapped(target, here)) if target.startswith("/") else source / target
        for name in names:
            origin = REPOSITORY / name
            if origin.is_dir():
                shutil.copytree(origin, destination, dirs_exist_ok=True, ignore=NOT_COPIED)
            else:
                into = destination / origin.name if target.endswith("/") else destination
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)
    (run,) = builder.all("RUN")
    shell, script, *arguments = (_mapped(word, here) for word in run.words())
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    command = [shell, script, "--python", python, *arguments]
    return subprocess.run(command, cwd=source, env=env | builder.env(), capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def interpreter() -> tuple[str, bool]:
    """The Python to install with, and whether an arbitrary UID can run what it installs: this
    one, else the system's (when we are root and this one lives in a private folder)."""
    if os.geteuid() != 0:
        return sys.executable, False
    for candidate in (sys.executable, "/usr/bin/python3"):
        if _reachable(Path(candidate).resolve()) and _can_install(candidate):
            return candidate, True
    return sys.executable, False


@pytest.fixture
def elsewhere(image: Image) -> Path:
    """A working folder away from the checkout and the environment; like every folder of the
    image but /tmp, only root may write in it."""
    folder = Path(tempfile.mkdtemp(prefix="elsewhere-", dir=image.root))
    folder.chmod(0o755)
    return folder


def test_the_environment_holds_the_wheel_compiled_and_no_extras(
    image: Image, elsewhere: Path
) -> None:
    python = str(image.venv / "bin" / "python")
    code = (
        "import importlib.util, sysconfig, thoth_monitoring\n"
        "print(thoth_monitoring.__file__)\n"
        "print(sysconfig.get_path('purelib'))\n"
        f"print(*[m for m in {NOT_IN_THE_IMAGE!r} if importlib.util.find_spec(m)])\n"
    )
    where = subprocess.run([python, "-c", code], **image.options(elsewhere),
                           capture_output=True, text=True, check=True)  # fmt: skip
    module, site, extras = where.stdout.splitlines()
    assert Path(module).is_relative_to(site), "installed from the wheel, not the checkout"
    assert not list(Path(site).glob("__editable__*")), "not an editable install"
    assert extras == "", f"demo/test extras in the image: {extras}"
    # byte code compiled at install, checked against nothing (flags 0b01: unchecked hash)
    cached = Path(module).parent / "__pycache__"
    headers = [path.read_bytes()[4:8] for path in cached.glob("*.pyc")]
    assert headers and all(header == b"\x01\x00\x00\x00" for header in headers)


def test_every_command_answers_help_from_another_folder(image: Image, elsewhere: Path) -> None:
    root = image.run(elsewhere, "--help")
    assert root.returncode == 0, root.stderr
    commands = sorted(_commands())
    assert len(commands) >= 10, commands
    for command in commands:
        result = image.run(elsewhere, command, "--help")
        assert result.returncode == 0 and f"thoth-monitoring {command}" in result.stdout, (
            command, result.stderr)  # fmt: skip
        assert command in root.stdout


def test_the_receiver_keeps_its_state_under_tmp_and_nothing_else(
    image: Image, elsewhere: Path
) -> None:
    with serving(image, elsewhere, "alert-receiver", "--dry-run", "--allow-unauthenticated",
                 "--default-repo", "thoth-station/thoth-application") as url:  # fmt: skip
        wait_for_http(f"{url}/readyz", 30)
        assert _post(f"{url}/alerts", payload()) == {"outcome": "queued"}
    state = list((image.tmp / "thoth-monitoring" / "alert-receiver").iterdir())
    assert state, "the receiver keeps its state under THOTH_MONITORING_DATA"
    if image.uid is not None:
        assert {path.stat().st_uid for path in state} == {image.uid}


def test_the_exporter_reads_the_database_and_writes_nothing(
    image: Image, elsewhere: Path, make_database: Callable[..., str]
) -> None:
    """As an arbitrary UID too: libpq looks the user up unless the URL names one."""
    with serving(image, elsewhere, "metrics-exporter", "--database-url", make_database()) as url:
        up = f"{SELF}_database_up 1.0"
        wait_for(lambda: up in get(f"{url}/metrics").decode(), 30, up)


@contextmanager
def serving(image: Image, folder: Path, *command: str) -> Iterator[str]:
    """A command serving on a free port, from ``folder``, until SIGTERM (what the kubelet sends);
    then it must have stopped cleanly, leaving ``folder`` and the environment as they were."""
    before = _tree(image.venv)
    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        ["thoth-monitoring", *command, "--listen", url.removeprefix("http://")],
        **image.options(folder), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_http(f"{url}/healthz", 30, process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        print(stderr, file=sys.stderr)  # its log, shown when the test fails
    assert process.returncode == 0, stderr
    assert list(folder.iterdir()) == [], "wrote into the working folder"
    assert _tree(image.venv) == before, "wrote into the installed environment"


def _reachable(path: Path) -> bool:
    """Every user may enter each folder above ``path`` and run it."""
    return all(folder.stat().st_mode & 0o001 for folder in path.parents) and bool(
        path.stat().st_mode & 0o001
    )


def _can_install(python: str) -> bool:
    """Python 3.11 or later with venv and pip (Debian splits them into packages of their own)."""
    check = "import sys, ensurepip, pip, venv; sys.exit(sys.version_info < (3, 11))"
    return subprocess.run([python, "-c", check], capture_output=True, timeout=30).returncode == 0


def _mapped(path: str, here: dict[str, str]) -> str:
    """``path`` with the image folder it starts with replaced by its stand-in here."""
    for folder, stand_in in here.items():
        if path == folder or path.startswith(folder + "/"):
            return stand_in + path[len(folder) :]
    return path


def _commands() -> Iterator[str]:
    for action in parser()._subparsers._group_actions:  # type: ignore[union-attr]
        choices = getattr(action, "choices", None)
        if choices:
            yield from choices


def _tree(folder: Path) -> dict[str, float]:
    return {str(path): path.lstat().st_mtime for path in folder.rglob("*")}


def _post(url: str, body: object) -> object:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
