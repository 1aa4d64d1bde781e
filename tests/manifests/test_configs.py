"""The configuration each pod would start with is valid for the real command: its ConfigMap files
and mounted Secrets laid out under a temporary folder, its environment as the manifests set it
(Secrets replaced by dummy values), and `thoth-monitoring <command> ... --check-config` run on
it in this process."""

import re
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.manifests import IMAGE, VARIANTS, Object, Pod, named, pods, rendered
from thoth_monitoring.alert_receiver.receiver import ReceiverSettings

# A database that refuses at once: the commands that would plan their queries on it say so and
# still validate everything else. Prometheus likewise, for slo-report's PromQL check.
DUMMY_URL = "postgresql://thoth:dummy@127.0.0.1:1/thoth"
UNREACHABLE = {"PROMETHEUS_URL": "http://127.0.0.1:1"}
KUBERNETES_VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def thoth_pods(variant: str) -> list[Pod]:
    return [
        pod
        for pod in pods(rendered(variant))
        if pod.spec["containers"][0]["image"].startswith(IMAGE)
    ]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_rendered_config_passes_check_config(
    variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered(variant)
    checked = []
    for pod in thoth_pods(variant):
        command = pod.spec["containers"][0]["args"][0]
        if command == "alert-receiver" and "state_url" not in ReceiverSettings.model_fields:
            continue  # state_url (the shared state) comes with the scale-out part of issue 15
        root = tmp_path / pod.workload["metadata"]["name"]
        with monkeypatch.context() as patch:
            args, environ = lay_out(objects, pod, root)
            for name, value in environ.items():
                patch.setenv(name, value)
            result = run(*args, "--check-config")
        assert result.returncode == 0, f"{pod.name}: {result.stdout}{result.stderr}"
        assert "configuration is valid" in result.stdout, pod.name
        checked.append(command)
    assert {"metrics-exporter", "graph-exporter", "slo-report", "repo-metrics", "analytics"} <= set(
        checked
    )


def test_a_broken_rendered_config_fails_check_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered("kubernetes")
    (pod,) = [p for p in thoth_pods("kubernetes") if p.workload["metadata"]["name"] == "analytics"]
    args, environ = lay_out(objects, pod, tmp_path)
    config = Path(args[args.index("--config") + 1])
    config.write_text(config.read_text().replace("schema_name", "schema") + "days: 0\n")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = run(*args, "--check-config")
    assert result.returncode == 2
    assert "days" in result.stderr


def lay_out(objects: tuple[Object, ...], pod: Pod, root: Path) -> tuple[list[str], dict[str, str]]:
    """Write the pod's mounted files under ``root``; return its arguments and environment with
    every mount path moved there."""
    (container,) = pod.spec["containers"]
    volumes = {volume["name"]: volume for volume in pod.spec.get("volumes", [])}
    moved: dict[str, str] = {}
    for mount in container.get("volumeMounts", []):
        folder = root / mount["mountPath"].lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        moved[mount["mountPath"]] = str(folder)
        for name, text in mounted_files(objects, volumes[mount["name"]]).items():
            (folder / name).write_text(text)

    # One pass, whole path components only: "/tmp" must not match inside "/tmp/pytest-…".
    paths = "|".join(map(re.escape, sorted(moved, key=len, reverse=True)))
    pattern = re.compile(rf"(?<![\w./-])({paths})(?![\w.-])")

    def move(text: str) -> str:
        return pattern.sub(lambda match: moved[match.group(1)], text)

    for path in root.rglob("*"):
        if path.is_file():
            path.write_text(move(path.read_text()))
    environ = {name: move(value) for name, value in environment_values(objects, container).items()}
    environ.update(UNREACHABLE)
    args = [
        move(KUBERNETES_VARIABLE.sub(lambda m: environ[m.group(1)], arg))
        for arg in container["args"]
    ]
    return args, environ


def mounted_files(objects: tuple[Object, ...], volume: Object) -> dict[str, str]:
    if "configMap" in volume:
        data: dict[str, str] = named(objects, "ConfigMap", volume["configMap"]["name"])["data"]
        return data
    if "secret" in volume:
        return {item["path"]: f"dummy-{item['key']}\n" for item in volume["secret"]["items"]}
    if "projected" in volume:
        files = {}
        for source in volume["projected"]["sources"]:
            if "serviceAccountToken" in source:
                files[source["serviceAccountToken"]["path"]] = "dummy-token\n"
            for item in source.get("configMap", {}).get("items", []):
                files[item["path"]] = "dummy-certificate\n"  # a platform ConfigMap
        return files
    assert "emptyDir" in volume, volume
    return {}


def environment_values(objects: tuple[Object, ...], container: Object) -> dict[str, str]:
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values.update(named(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            values[variable["name"]] = variable["value"]
        else:
            key = variable["valueFrom"]["secretKeyRef"]["key"]
            values[variable["name"]] = DUMMY_URL if key == "url" else f"dummy-{key}"
    return values
