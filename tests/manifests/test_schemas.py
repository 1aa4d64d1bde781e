"""Every object `kubectl apply -k deploy/overlays/<overlay>` would send validates: the built-in
kinds against Kubernetes' OpenAPI schemas (kubernetes-validate, strict: an unknown field is an
error, as with `kubectl apply --validate=strict`), ServiceMonitor, PodMonitor and PrometheusRule
against the Prometheus Operator 0.93 CRDs, made just as strict. AlertmanagerConfig has no CRD in
the reference set: its shape is checked field by field."""

import copy
import shutil
import subprocess
from collections import Counter
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.support.manifests import (
    CRD_KINDS,
    NAMESPACE,
    OVERLAYS,
    VARIANTS,
    Object,
    crd_dir,
    named,
    of_kind,
    rendered,
)
from tests.support.repository import REPOSITORY

KUBERNETES_VERSION = "1.31"  # OpenShift 4.18; kubernetes-validate strict schemas exist for it
CUSTOM = {*CRD_KINDS, "AlertmanagerConfig"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_built_in_objects_validate_against_kubernetes_schemas(variant: str) -> None:
    objects = [o for o in rendered(variant) if o["kind"] not in CUSTOM]
    assert len(objects) > 25
    errors = [f"{o['kind']}/{o['metadata']['name']}: {e}" for o in objects for e in k8s_errors(o)]
    assert errors == []


def test_kubernetes_validation_rejects_a_misspelt_field() -> None:
    deployment = copy.deepcopy(named(rendered("kubernetes"), "Deployment", "alert-receiver"))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    assert k8s_errors(deployment)
    deployment = copy.deepcopy(named(rendered("kubernetes"), "Deployment", "alert-receiver"))
    deployment["spec"]["replicas"] = "two"
    assert k8s_errors(deployment)


@pytest.mark.parametrize("variant", VARIANTS)
def test_custom_resources_validate_against_the_operator_crds(variant: str) -> None:
    objects = of_kind(rendered(variant), *CRD_KINDS)
    assert {o["kind"] for o in objects} == {"ServiceMonitor", "PrometheusRule"}
    errors = [f"{o['kind']}/{o['metadata']['name']}: {e}" for o in objects for e in crd_errors(o)]
    assert errors == []


def test_crd_validation_rejects_a_misspelt_field_and_a_bad_value() -> None:
    monitor = copy.deepcopy(named(rendered("kubernetes"), "ServiceMonitor", "alert-receiver"))
    monitor["spec"]["endpoints"][0]["honorlabels"] = True
    assert crd_errors(monitor)
    monitor = copy.deepcopy(named(rendered("kubernetes"), "ServiceMonitor", "alert-receiver"))
    monitor["spec"]["endpoints"][0]["scheme"] = "gopher"
    assert crd_errors(monitor)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_alertmanager_config_routes_to_the_receiver_service_with_its_token(overlay: str) -> None:
    objects = rendered(overlay)
    (config,) = of_kind(objects, "AlertmanagerConfig")
    assert config["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    spec = config["spec"]
    assert set(spec) == {"route", "receivers"}
    route = spec["route"]
    assert set(route) <= {
        "receiver",
        "groupBy",
        "groupWait",
        "groupInterval",
        "repeatInterval",
        "matchers",
        "continue",
        "routes",
    }
    assert route["receiver"] in {receiver["name"] for receiver in spec["receivers"]}
    packaged = yaml.safe_load((REPOSITORY / "thoth_monitoring/alerts/alertmanager.yml").read_text())
    assert route["groupBy"] == packaged["route"]["group_by"]
    assert [route[k] for k in ("groupWait", "groupInterval", "repeatInterval")] == [
        packaged["route"][k] for k in ("group_wait", "group_interval", "repeat_interval")
    ]
    (receiver,) = spec["receivers"]
    assert set(receiver) == {"name", "webhookConfigs"}
    (webhook,) = receiver["webhookConfigs"]
    assert set(webhook) == {"url", "sendResolved", "maxAlerts", "httpConfig"}
    assert webhook["sendResolved"] is True
    service = named(objects, "Service", "alert-receiver")
    port = service["spec"]["ports"][0]["port"]
    assert webhook["url"] == f"http://alert-receiver:{port}/alerts"
    authorization = webhook["httpConfig"]["authorization"]
    assert authorization["type"] == "Bearer"
    assert authorization["credentials"] == {"name": "alert-receiver-webhook", "key": "token"}
    # The same Secret is the one the receiver checks the token against.
    receiver_pod = named(objects, "Deployment", "alert-receiver")["spec"]["template"]["spec"]
    assert {
        "secretName": "alert-receiver-webhook",
        "items": [{"key": "token", "path": "token"}],
    } in [volume.get("secret") for volume in receiver_pod["volumes"]]


def test_plain_alertmanager_snippet_matches_the_packaged_route() -> None:
    snippet = yaml.safe_load((REPOSITORY / "deploy/alertmanager/alertmanager.yml").read_text())
    packaged = yaml.safe_load((REPOSITORY / "thoth_monitoring/alerts/alertmanager.yml").read_text())
    assert snippet["route"] == packaged["route"]
    (webhook,) = snippet["receivers"][0]["webhook_configs"]
    (packaged_webhook,) = packaged["receivers"][0]["webhook_configs"]
    assert webhook["url"] == f"http://alert-receiver.{NAMESPACE}.svc:9703/alerts"
    assert {k: v for k, v in webhook.items() if k not in ("url", "http_config")} == {
        k: v for k, v in packaged_webhook.items() if k not in ("url", "http_config")
    }
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    amtool = shutil.which("amtool")
    assert amtool, "amtool missing: run .ci/system-deps"
    result = subprocess.run(
        [amtool, "check-config", str(REPOSITORY / "deploy/alertmanager/alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_object_counts() -> None:
    """The numbers the README quotes; a new object changes them on purpose."""
    counts = {variant: Counter(o["kind"] for o in rendered(variant)) for variant in VARIANTS}
    for variant, kinds in counts.items():
        print(variant, sum(kinds.values()), dict(sorted(kinds.items())))
    assert counts["openshift"] - counts["kubernetes"] == Counter({"ClusterRoleBinding": 1})
    assert counts["kubernetes"]["CronJob"] == 5 and counts["listen"]["CronJob"] == 1


def k8s_errors(item: Object) -> list[str]:
    try:
        kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(map(str, error.path))}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"no schema: {error}"]
    return []


def crd_errors(item: Object) -> list[str]:
    validator = jsonschema.Draft7Validator(crd_schema(item["kind"], item["apiVersion"]))
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(item)]


@cache
def crd_schema(kind: str, api_version: str) -> dict[str, Any]:
    """The served version's openAPIV3Schema, with unknown fields refused (the API server would
    silently prune them, hiding a misspelt option)."""
    crd = yaml.safe_load((crd_dir() / f"monitoring.coreos.com_{kind.lower()}s.yaml").read_text())
    group, version = api_version.split("/")
    assert crd["spec"]["group"] == group
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    schema: dict[str, Any] = copy.deepcopy(served["schema"]["openAPIV3Schema"])
    _closed(schema)
    return schema


def _closed(schema: dict[str, Any]) -> None:
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema.setdefault("additionalProperties", False)
    for value in schema.values():
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            for child in children:
                _closed(child)
        elif isinstance(value, list):
            for child in value:
                if isinstance(child, dict):
                    _closed(child)
    items = schema.get("items")
    if isinstance(items, dict):
        _closed(items)
