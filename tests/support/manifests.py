"""deploy/ rendered the way `kubectl apply -k` would (kubectl's built-in kustomize), and the
walks over the rendered objects the manifest tests share."""

import functools
import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.repository import REPOSITORY

DEPLOY = REPOSITORY / "deploy"
OVERLAYS = ("kubernetes", "openshift")
NAMESPACE = "thoth-monitoring"
IMAGE = "quay.io/thoth-station/thoth-monitoring"
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
Object = dict[str, Any]


def kubectl() -> str:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed: it renders deploy/ (its kustomize is built in)")
    return binary


@functools.cache
def rendered(variant: str) -> tuple[Object, ...]:
    """The objects of an overlay, or of "listen": the base with graph-exporter's --listen
    component (the overlays' one-line alternative), rendered from a throw-away kustomization."""
    if variant in OVERLAYS:
        return _render(DEPLOY / "overlays" / variant)
    assert variant == "listen", variant
    cache = REPOSITORY / ".test-cache"
    cache.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as name:
        return _render_listen(Path(name))


def _render_listen(folder: Path) -> tuple[Object, ...]:
    deploy = os.path.relpath(DEPLOY, folder)  # kustomize refuses absolute paths
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": [f"{deploy}/base"],
        "components": [f"{deploy}/components/graph-exporter-listen"],
    }
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return _render(folder)


def _render(folder: Path) -> tuple[Object, ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {folder} failed:\n{result.stderr}"
    objects = tuple(document for document in yaml.safe_load_all(result.stdout) if document)
    assert objects, f"{folder} rendered nothing"
    return objects


VARIANTS = (*OVERLAYS, "listen")


def of_kind(objects: tuple[Object, ...], *kinds: str) -> list[Object]:
    return [item for item in objects if item["kind"] in kinds]


def named(objects: tuple[Object, ...], kind: str, name: str) -> Object:
    matches = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} rendered"
    return matches[0]


@dataclass(frozen=True)
class Pod:
    """A workload's pod template and where it came from."""

    workload: Object
    template: Object

    @property
    def name(self) -> str:
        return f"{self.workload['kind']}/{self.workload['metadata']['name']}"

    @property
    def spec(self) -> Object:
        spec: Object = self.template["spec"]
        return spec

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.template["metadata"]["labels"]
        return labels

    def containers(self) -> list[Object]:
        return [*self.spec.get("initContainers", []), *self.spec["containers"]]


def pods(objects: tuple[Object, ...]) -> Iterator[Pod]:
    for workload in objects:
        if workload["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield Pod(workload, workload["spec"]["template"])
        elif workload["kind"] == "CronJob":
            yield Pod(workload, workload["spec"]["jobTemplate"]["spec"]["template"])


def project_version() -> str:
    version: str = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]
    return version


def crd_dir() -> Path:
    """The Prometheus Operator CRDs: $THOTH_CRD_DIR, else ../shared/reference/crds beside the
    repository (beside the main checkout when this is a git worktree)."""
    if "THOTH_CRD_DIR" in os.environ:
        return Path(os.environ["THOTH_CRD_DIR"])
    roots = [REPOSITORY]
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if common.returncode == 0:
        roots.append(Path(common.stdout.strip()).parent)
    for root in roots:
        folder = root.parent / "shared" / "reference" / "crds"
        if folder.is_dir():
            return folder
    pytest.skip("no Prometheus Operator CRDs in ../shared/reference/crds: set THOTH_CRD_DIR")
