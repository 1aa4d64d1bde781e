"""The image definition, read without building it (no container engine on these machines):
pinned bases, one install path (deploy/image/install.sh), non-root, writes only under /tmp, and
the ports the commands serve on by default."""

import re
import tomllib
from types import ModuleType

import pytest

from tests.support.containerfile import Stage, stages
from tests.support.repository import REPOSITORY
from thoth_monitoring.cli import COMPONENTS

INSTALL_SCRIPT = "deploy/image/install.sh"
VENV = "/opt/thoth-monitoring"
WRITABLE = "/tmp"


@pytest.fixture(scope="module")
def builder() -> Stage:
    return stages()[0]


@pytest.fixture(scope="module")
def final() -> Stage:
    return stages()[-1]


def test_every_base_image_is_pinned_to_a_patch_release() -> None:
    images = [stage.image for stage in stages()]
    assert len(images) >= 2, "multi-stage: a builder and a final stage"
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"{image}: no tag"
        assert re.match(r"\d+\.\d+\.\d+-", tag), f"{image}: tag {tag!r} is not a patch release"


def test_the_builder_installs_with_the_script_and_nothing_else(builder: Stage) -> None:
    runs = [run.arguments for run in builder.all("RUN")]
    assert runs == [f"bash {INSTALL_SCRIPT} /src {VENV}"], runs
    assert (REPOSITORY / INSTALL_SCRIPT).stat().st_mode & 0o111, "the script is executable"


def test_the_final_stage_holds_only_the_environment(builder: Stage, final: Stage) -> None:
    copies = [copy.words() for copy in final.all("COPY")]
    assert copies == [[f"--from={builder.name}", VENV, VENV]], copies
    assert final.all("RUN") == [], "nothing installed or changed in the final stage"


def test_it_runs_as_a_numeric_non_root_user_before_the_entrypoint(final: Stage) -> None:
    keywords = [instruction.keyword for instruction in final.instructions]
    (user,) = final.all("USER")
    assert user.arguments.isdigit() and user.arguments != "0", user.arguments
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    (entrypoint,) = final.all("ENTRYPOINT")
    assert entrypoint.words() == ["thoth-monitoring"]
    assert entrypoint.arguments.startswith("["), "exec form: signals reach the command"
    (cmd,) = final.all("CMD")
    assert cmd.words() == ["--help"]


def test_everything_that_writes_points_under_tmp(final: Stage) -> None:
    """A read-only root filesystem with an emptyDir on /tmp must be enough."""
    env = final.env()
    assert env["PATH"].startswith(f"{VENV}/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    folders = {"HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
               "THOTH_MONITORING_DATA"}  # fmt: skip
    assert folders <= env.keys(), folders - env.keys()
    outside = {k: env[k] for k in folders if not _under(env[k], WRITABLE)}
    assert outside == {}, outside
    (workdir,) = final.all("WORKDIR")
    assert _under(workdir.arguments, WRITABLE), "relative output paths must be writable"


def test_exposed_ports_are_the_commands_default_ports(final: Stage) -> None:
    defaults = {
        _port(component) for component in COMPONENTS if hasattr(component, "DEFAULT_LISTEN")
    }
    assert len(defaults) >= 6, defaults
    exposed = {int(port) for expose in final.all("EXPOSE") for port in expose.words()}
    assert exposed == defaults


def test_labels_carry_the_project_version_and_licence(final: Stage) -> None:
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    labels = final.labels()
    assert labels["org.opencontainers.image.version"] == project["version"]
    assert labels["org.opencontainers.image.licenses"] == project["license"]
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/")


def test_the_build_context_leaves_out_environments_and_caches() -> None:
    ignored = (REPOSITORY / ".containerignore").read_text().split()
    assert {".git", ".venv", "demo-out", "**/__pycache__"} <= set(ignored)


def _port(component: ModuleType) -> int:
    listen: str = component.DEFAULT_LISTEN
    return int(listen.rsplit(":", 1)[1])


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")
