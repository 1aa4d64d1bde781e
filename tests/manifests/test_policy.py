"""Policy over every rendered overlay: the restricted security context, resources and probes on
every pod, pinned images, no secret values, ServiceMonitors that find their Services, network
policies that let only Prometheus and Alertmanager in, PrometheusRules equal to the rule files
(and clean under `promtool check rules`), CronJobs that cannot pile up."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.manifests import (
    IMAGE,
    NAMESPACE,
    OVERLAYS,
    VARIANTS,
    Object,
    Pod,
    named,
    of_kind,
    pods,
    project_version,
    rendered,
)
from tests.support.repository import REPOSITORY
from thoth_monitoring.core.config import parse_duration

RULES = sorted((REPOSITORY / "thoth_monitoring" / "alerts" / "rules").glob("*.yaml"))
# The scrape jobs the rules and dashboards select (alerts/rules/stack.yaml, the demo's
# Prometheus), by component; graph-exporter's only with its --listen Deployment.
JOBS = {
    "metrics-exporter": "thoth-metrics-exporter",
    "alert-receiver": "thoth-alert-receiver",
    "repo-metrics": "repo-metrics",
    "analytics": "analytics",
    "pushgateway": "pushgateway",
    "graph-exporter": "thoth-graph-exporter",
}
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|ACCESS_KEY|PRIVATE_KEY|DATABASE_URL|STATE_URL")
SECRET_KEY = re.compile(
    r"^\s*(password|token|secret_access_key|access_key_id|bearer_token|basic_password|"
    r"github_token|sasl_password|database_url|state_url)\s*:\s*(\S.*)$",
    re.MULTILINE,
)
MONITORING = {"prometheus", "alertmanager"}
OPENSHIFT_MONITORING = "openshift-monitoring namespaces"
USERINFO = re.compile(r"://[^/\s:@\"']+:[^/\s@\"']+@")


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_pod_runs_restricted(variant: str) -> None:
    problems = [f"{pod.name}: {p}" for pod in pods(rendered(variant)) for p in restricted(pod)]
    assert problems == []


def test_restriction_check_finds_a_root_container() -> None:
    pod = next(pods(rendered("kubernetes")))
    assert restricted(pod) == []
    spec = {**pod.spec, "securityContext": {"runAsUser": 0}}
    assert restricted(Pod(pod.workload, {**pod.template, "spec": spec}))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_container_has_requests_limits_and_a_pinned_image(variant: str) -> None:
    containers = [(pod, c) for pod in pods(rendered(variant)) for c in pod.containers()]
    assert len(containers) >= 6
    for pod, container in containers:
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}, (pod.name, kind)
        name, _, tag = container["image"].rpartition(":")
        assert name and tag and tag != "latest" and "/" not in tag, (pod.name, container["image"])
        if name == IMAGE:
            assert tag == project_version(), pod.name
            assert container["args"][0] in JOBS or container["args"][0] == "slo-report"
    assert {c["image"] for _, c in containers} >= {f"{IMAGE}:{project_version()}"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_servers_have_probes_and_cronjobs_cannot_pile_up(variant: str) -> None:
    for pod in pods(rendered(variant)):
        (container,) = pod.spec["containers"]
        if pod.workload["kind"] == "Deployment":
            live, ready = container["livenessProbe"], container["readinessProbe"]
            ports = {port["name"] for port in container["ports"]}
            assert live["httpGet"]["port"] in ports and ready["httpGet"]["port"] in ports
            if container["image"].startswith(IMAGE):  # served by core/service.py
                assert (live["httpGet"]["path"], ready["httpGet"]["path"]) == (
                    "/healthz",
                    "/readyz",
                )
        else:  # a run-once pod serves nothing; its deadline ends a hang
            job = pod.workload["spec"]
            assert job["concurrencyPolicy"] == "Forbid", pod.name
            assert job["startingDeadlineSeconds"] > 0
            assert job["successfulJobsHistoryLimit"] >= 1 and job["failedJobsHistoryLimit"] >= 1
            assert job["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 0
            assert "livenessProbe" not in container


def test_graph_exporter_cronjobs_outlive_their_task_deadlines() -> None:
    objects = rendered("kubernetes")
    config = yaml.safe_load(config_map_data(objects, "graph-exporter-config")["config.yaml"])
    for task in ("tables", "bloat", "amcheck", "backups"):
        cronjob = named(objects, "CronJob", f"graph-exporter-{task}")
        deadline = cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
        assert deadline > parse_duration(config[task]["deadline"]), task
        flags = {k: v for k, v in environment(objects, cronjob).items() if k.startswith("RUN_")}
        assert flags == {
            f"RUN_{t.upper()}": str(t == task).lower()
            for t in ("tables", "bloat", "amcheck", "backups")
        }
        args = pod_of(cronjob)["containers"][0]["args"]
        assert args[args.index("--push") + 1] == "$(PUSHGATEWAY_URL)"


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_secret_values_in_the_manifests(variant: str) -> None:
    objects = rendered(variant)
    assert of_kind(objects, "Secret") == []  # the README's commands create them
    for pod in pods(objects):
        for container in pod.containers():
            for variable in container.get("env", []):
                if SECRET_NAME.search(variable["name"]):
                    assert set(variable) == {"name", "valueFrom"}, (pod.name, variable["name"])
                    assert set(variable["valueFrom"]) == {"secretKeyRef"}
    for config_map in of_kind(objects, "ConfigMap"):
        for name, text in config_map.get("data", {}).items():
            assert not USERINFO.search(text), (config_map["metadata"]["name"], name)
            for key, value in SECRET_KEY.findall(text):
                assert re.fullmatch(r"\"?\$\{[A-Z_]+\}\"?", value), (name, key, value)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_readme_says_how_to_create_every_secret_the_manifests_use(overlay: str) -> None:
    readme = (REPOSITORY / "README.md").read_text()
    deploy = readme[readme.index("## Deploy") :]
    used = secret_references(rendered(overlay))
    assert len(used) >= 8
    for secret, key in sorted(used):
        command = re.search(rf"kubectl create secret generic {secret} (.*)", deploy)
        assert command, f"README Deploy: no `kubectl create secret generic {secret}`"
        assert re.search(rf"--from-(literal|file)={key}=", command.group(1)), (secret, key)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_service_monitor_selects_a_service_that_selects_a_pod(variant: str) -> None:
    objects = rendered(variant)
    monitors = of_kind(objects, "ServiceMonitor")
    jobs = set()
    for monitor in monitors:
        spec = monitor["spec"]
        services = [
            s
            for s in of_kind(objects, "Service")
            if matches(spec["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        assert len(services) == 1, monitor["metadata"]["name"]
        (service,) = services
        ports = {port["name"]: port for port in service["spec"]["ports"]}
        for endpoint in spec["endpoints"]:
            assert endpoint["port"] in ports
        targets = [pod for pod in pods(objects) if matches(service["spec"]["selector"], pod.labels)]
        assert len(targets) == 1, service["metadata"]["name"]
        container_ports = {p["name"] for c in targets[0].containers() for p in c.get("ports", [])}
        assert {port["targetPort"] for port in ports.values()} <= container_ports
        jobs.add(service["metadata"]["labels"][spec["jobLabel"]])
    served = {
        JOBS[pod.labels["app.kubernetes.io/name"]]
        for pod in pods(objects)
        if pod.workload["kind"] == "Deployment"
    }
    assert jobs == served
    assert {"thoth-metrics-exporter", "thoth-alert-receiver", "repo-metrics"} <= jobs


@pytest.mark.parametrize("variant", VARIANTS)
def test_only_prometheus_and_alertmanager_get_in(variant: str) -> None:
    objects = rendered(variant)
    policies = of_kind(objects, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    assert len(deny) == 1 and deny[0]["spec"]["policyTypes"] == ["Ingress"]
    for pod in pods(objects):
        ports = {p["name"] for c in pod.containers() for p in c.get("ports", [])}
        allowed = {name: peers(policies, pod, name) for name in ports}
        for name, sources in allowed.items():
            assert sources, f"{pod.name}: nothing may reach port {name}"
            assert "anyone" not in sources, pod.name
        if pod.workload["kind"] != "Deployment":
            continue
        component = pod.labels["app.kubernetes.io/name"]
        expected = {"prometheus"} | ({"alertmanager"} if component == "alert-receiver" else set())
        expected |= {"graph-exporter"} if component == "pushgateway" else set()
        if variant == "openshift":  # one peer, the namespaces holding Prometheus and Alertmanager
            expected = {OPENSHIFT_MONITORING if p in MONITORING else p for p in expected}
        assert set().union(*allowed.values()) == expected, pod.name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_place_everything_in_one_namespace(overlay: str) -> None:
    objects = rendered(overlay)
    (namespace,) = of_kind(objects, "Namespace")
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    cluster_wide = {"Namespace", "ClusterRoleBinding"}
    for item in objects:
        if item["kind"] not in cluster_wide:
            assert item["metadata"]["namespace"] == NAMESPACE, item["metadata"]["name"]
    for binding in of_kind(objects, "ClusterRoleBinding"):
        for subject in binding["subjects"]:
            named(objects, subject["kind"], subject["name"])
            assert subject["namespace"] == NAMESPACE


@pytest.mark.parametrize("variant", VARIANTS)
def test_prometheus_rules_equal_the_rule_files(variant: str, tmp_path: Path) -> None:
    objects = rendered(variant)
    rules = {r["metadata"]["name"]: r["spec"]["groups"] for r in of_kind(objects, "PrometheusRule")}
    assert RULES and rules == {
        f"thoth-{path.stem}": yaml.safe_load(path.read_text())["groups"] for path in RULES
    }
    files = []
    for name, groups in rules.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        files.append(str(path))
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run .ci/system-deps"
    result = subprocess.run(
        [promtool, "check", "rules", *files], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_receivers_scale_out_only_with_shared_state() -> None:
    objects = rendered("kubernetes")
    receiver = named(objects, "Deployment", "alert-receiver")
    assert receiver["spec"]["replicas"] == 2
    config = yaml.safe_load(config_map_data(objects, "alert-receiver-config")["config.yaml"])
    assert config["state_url"] == "${ALERT_RECEIVER_STATE_URL}"
    assert environment(objects, receiver)["ALERT_RECEIVER_STATE_URL"] == (
        "secret alert-receiver-state/url"
    )
    (budget,) = of_kind(objects, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    (pod,) = pods((receiver,))
    assert matches(budget["spec"]["selector"]["matchLabels"], pod.labels)
    spread = pod_of(receiver)["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }


def test_overlays_adapt_selection_to_their_monitoring_stack() -> None:
    kubernetes, openshift = rendered("kubernetes"), rendered("openshift")
    selected = ("ServiceMonitor", "PrometheusRule", "AlertmanagerConfig")
    assert len(of_kind(kubernetes, *selected)) == 14
    for item in of_kind(kubernetes, *selected):
        assert item["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for item in of_kind(openshift, *selected):
        assert "release" not in item["metadata"]["labels"]
    for policy in of_kind(openshift, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            if policy["metadata"]["name"].startswith("thoth-monitoring-allow"):
                assert rule["from"] == [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"network.openshift.io/policy-group": "monitoring"}
                        }
                    }
                ]
    report = named(openshift, "CronJob", "slo-report")
    assert environment(openshift, report)["PROMETHEUS_URL"].startswith("https://thanos-querier.")


# --- helpers -------------------------------------------------------------------------------


def restricted(pod: Pod) -> list[str]:
    """What keeps ``pod`` from running under the restricted SCC / Pod Security Standard."""
    problems = []
    spec = pod.spec
    context = spec.get("securityContext", {})
    if context.get("runAsNonRoot") is not True:
        problems.append("pod: runAsNonRoot is not true")
    if context.get("seccompProfile") != {"type": "RuntimeDefault"}:
        problems.append("pod: seccompProfile is not RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        problems.append("pod: the service-account token is mounted")
    fixed = {"runAsUser", "runAsGroup", "fsGroup"} & set(context)
    problems += [f"pod: fixed {key}" for key in sorted(fixed)]
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    for container in pod.containers():
        name = container["name"]
        own = container.get("securityContext", {})
        expected = {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
        problems += [
            f"{name}: {key} is not {value}"
            for key, value in expected.items()
            if own.get(key) != value
        ]
        problems += [
            f"{name}: fixed {key}" for key in sorted({"runAsUser", "runAsGroup"} & set(own))
        ]
        if own.get("privileged"):
            problems.append(f"{name}: privileged")
        for mount in container.get("volumeMounts", []):
            if not mount.get("readOnly") and "emptyDir" not in volumes[mount["name"]]:
                problems.append(f"{name}: writes to {mount['mountPath']}, not an emptyDir")
        if container["image"].startswith(IMAGE) and not any(
            m["mountPath"] == "/tmp" for m in container.get("volumeMounts", [])
        ):
            problems.append(f"{name}: no writable /tmp")
    return problems


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


def peers(policies: list[Object], pod: Pod, port: str) -> set[str]:
    """Who the policies let reach ``port`` of ``pod``: prometheus, alertmanager, a component's
    name, or "anyone"."""
    sources: set[str] = set()
    for policy in policies:
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if not selector.items() <= pod.labels.items():
            continue
        for rule in policy["spec"].get("ingress", []):
            if rule.get("ports") and port not in {p["port"] for p in rule["ports"]}:
                continue
            if not rule.get("from"):
                sources.add("anyone")
            for peer in rule.get("from", []):
                sources.add(peer_name(peer))
    return sources


def peer_name(peer: dict[str, Any]) -> str:
    pod_labels = peer.get("podSelector", {}).get("matchLabels", {})
    if "app.kubernetes.io/name" in pod_labels:
        return str(pod_labels["app.kubernetes.io/name"])
    namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
    if namespace == {"network.openshift.io/policy-group": "monitoring"}:
        return OPENSHIFT_MONITORING
    return "anyone"


def config_map_data(objects: tuple[Object, ...], prefix: str) -> dict[str, str]:
    """A generated ConfigMap's data, by its name before kustomize's hash suffix."""
    (config_map,) = [
        c
        for c in of_kind(objects, "ConfigMap")
        if c["metadata"]["name"].rsplit("-", 1)[0] == prefix
    ]
    data: dict[str, str] = config_map["data"]
    return data


def pod_of(workload: Object) -> Object:
    (pod,) = pods((workload,))
    return pod.spec


def environment(objects: tuple[Object, ...], workload: Object) -> dict[str, str]:
    """The first container's environment: ConfigMap values as they are, Secrets by reference."""
    (container,) = pod_of(workload)["containers"]
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        values.update(named(objects, "ConfigMap", name)["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            values[variable["name"]] = variable["value"]
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            values[variable["name"]] = f"secret {ref['name']}/{ref['key']}"
    return values


def secret_references(objects: tuple[Object, ...]) -> set[tuple[str, str]]:
    """(Secret, key) pairs the objects read: env, volumes, AlertmanagerConfig credentials."""
    used = set()
    for pod in pods(objects):
        for container in pod.containers():
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    used.add((ref["name"], ref["key"]))
        for volume in pod.spec.get("volumes", []):
            if "secret" in volume:
                used |= {
                    (volume["secret"]["secretName"], i["key"]) for i in volume["secret"]["items"]
                }
    for config in of_kind(objects, "AlertmanagerConfig"):
        for receiver in config["spec"]["receivers"]:
            for webhook in receiver.get("webhookConfigs", []):
                credentials = webhook["httpConfig"]["authorization"]["credentials"]
                used.add((credentials["name"], credentials["key"]))
    return used
