"""An application chart that depends on chart/ (file://) and adds the `schemagate wait`
initContainer to its own Deployment with the schemagate.initContainer template."""

from __future__ import annotations

import helm_python as helm
import pytest

from chartlib import KUBE_VERSIONS, env_dict, install_dry_run, one, pod_spec, render, validate_k8s, migrate_job


@pytest.fixture(scope="module")
def objects(app_chart) -> list[dict]:
    return render(chart=app_chart)


def test_dependency_is_the_local_chart(app_chart) -> None:
    deps = helm.dependency_list(app_chart)
    assert [(d["name"], d["repository"], d["status"]) for d in deps] == [
        ("schemagate", "file://../../../chart", "ok")
    ]


def test_deployment_gets_the_wait_init_container(objects: list[dict]) -> None:
    deployment = one(objects, "Deployment")
    spec = pod_spec(deployment)
    (init,) = spec["initContainers"]
    assert init["name"] == "schemagate-wait"
    assert init["args"] == ["wait"]
    assert init["image"] == "ghcr.io/schemagate/schemagate:0.1.0"  # the subchart's appVersion
    assert [c["name"] for c in spec["containers"]] == ["web"]


def test_init_container_shares_the_job_credentials_and_security(objects: list[dict]) -> None:
    init = pod_spec(one(objects, "Deployment"))["initContainers"][0]
    migrate = pod_spec(migrate_job(objects))["containers"][0]
    assert env_dict(init) == env_dict(migrate)
    assert init["securityContext"] == migrate["securityContext"]
    assert init["volumeMounts"] == migrate["volumeMounts"]
    assert env_dict(init)["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "shop-db-app", "key": "password"}


def test_init_container_volumes_come_with_it(objects: list[dict]) -> None:
    spec = pod_spec(one(objects, "Deployment"))
    volumes = {v["name"]: v for v in spec["volumes"]}
    for mount in spec["initContainers"][0]["volumeMounts"]:
        assert mount["name"] in volumes
    assert volumes["schemagate-ca"]["secret"]["secretName"] == "shop-db-ca"


def test_init_container_never_migrates(app_chart) -> None:
    # Whatever the values, the template's command is `wait`.
    objects = render({"schemagate": {"initContainer": {"name": "db-ready"}}}, chart=app_chart)
    (init,) = pod_spec(one(objects, "Deployment"))["initContainers"]
    assert init["name"] == "db-ready"
    assert init["args"] == ["wait"]


def test_the_subchart_brings_its_hook_job(objects: list[dict]) -> None:
    job = migrate_job(objects)
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert pod_spec(job)["containers"][0]["args"] == ["migrate"]


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_application_objects_are_valid_kubernetes(objects: list[dict], version: str) -> None:
    for obj in objects:
        validate_k8s(obj, version)


def test_application_chart_lints_clean(app_chart) -> None:
    report = helm.lint(app_chart, strict=True, with_subcharts=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_application_install_dry_run(app_chart) -> None:
    release, log = install_dry_run({}, chart=app_chart)
    manifest = release.get("manifest", "")
    assert "kind: Deployment" in manifest
    assert "schemagate-wait" in manifest
    assert "kind: Job" not in manifest
    assert not [line for line in log if "unknown hook" in line], log


def test_parent_global_values_pass_the_subchart_schema(app_chart) -> None:
    objects = render({"global": {"imageRegistry": "mirror.example.com"}}, chart=app_chart)
    assert one(objects, "Deployment")
