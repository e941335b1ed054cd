"""The restricted Pod Security Standard on every container the chart renders or lends to an
application chart, and how OpenShift users take parts of it out."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartlib import CHART, all_containers, ci_value_files, load_values, one, pod_objects, pod_spec, render, migrate_job

CNPG = {"database": {"existingSecret": "shop-db-app"}}


def effective(spec: dict, container: dict, field: str):
    """A container's value for a field that may also be set on the Pod."""
    sc = container.get("securityContext") or {}
    if field in sc:
        return sc[field]
    return (spec.get("securityContext") or {}).get(field)


def assert_restricted(spec: dict, container: dict) -> None:
    """Kubernetes' restricted profile (as Pod Security Admission checks it) plus the chart's
    read-only root filesystem."""
    name = container["name"]
    sc = container.get("securityContext") or {}
    assert effective(spec, container, "runAsNonRoot") is True, name
    assert effective(spec, container, "runAsUser") != 0, name
    assert sc.get("allowPrivilegeEscalation") is False, name
    assert sc.get("capabilities", {}).get("drop") == ["ALL"], name
    assert not sc.get("capabilities", {}).get("add"), name
    assert not sc.get("privileged"), name
    assert (effective(spec, container, "seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost"), name
    assert sc.get("readOnlyRootFilesystem") is True, name
    for vol in spec.get("volumes") or []:
        assert "hostPath" not in vol


def schemagate_containers(objects: list[dict]) -> list[tuple[dict, dict]]:
    out = []
    for obj in pod_objects(objects):
        spec = pod_spec(obj)
        for c in all_containers(spec):
            if "/schemagate" in c["image"]:
                out.append((spec, c))
    return out


@pytest.mark.parametrize("values_file", ci_value_files(), ids=lambda p: p.name)
def test_every_container_is_restricted(values_file: Path) -> None:
    pairs = schemagate_containers(render(load_values(values_file)))
    assert pairs
    for spec, container in pairs:
        assert_restricted(spec, container)


def test_the_application_init_container_is_restricted_too(app_chart) -> None:
    objects = render(chart=app_chart)
    deployment = one(objects, "Deployment")
    spec = pod_spec(deployment)
    (init,) = spec["initContainers"]
    # The app's Pod sets its own pod-level context; the initContainer must not rely on it.
    for field in ("runAsNonRoot", "runAsUser", "allowPrivilegeEscalation", "capabilities", "seccompProfile", "readOnlyRootFilesystem"):
        assert field in init["securityContext"], field
    assert_restricted({}, init)
    assert len(schemagate_containers(objects)) == 4  # two hook Jobs, the test Pod, the initContainer


def test_default_uid_is_the_image_user() -> None:
    for spec, container in schemagate_containers(render(CNPG)):
        assert spec["securityContext"]["runAsUser"] == 65532
        assert spec["securityContext"]["runAsGroup"] == 65532
        assert container["securityContext"]["runAsUser"] == 65532
        assert container["securityContext"]["runAsGroup"] == 65532


def test_openshift_values_drop_only_the_fixed_ids() -> None:
    pairs = schemagate_containers(render(load_values(CHART / "ci" / "openshift-values.yaml")))
    assert pairs
    for spec, container in pairs:
        for sc in (spec["securityContext"], container["securityContext"]):
            assert "runAsUser" not in sc and "runAsGroup" not in sc
        assert container["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_each_block_can_be_removed_with_null() -> None:
    job = migrate_job(render({**CNPG, "podSecurityContext": None, "containerSecurityContext": None}))
    assert "securityContext" not in pod_spec(job)
    assert "securityContext" not in pod_spec(job)["containers"][0]
    job = migrate_job(render({**CNPG, "containerSecurityContext": {"seccompProfile": None, "readOnlyRootFilesystem": None}}))
    sc = pod_spec(job)["containers"][0]["securityContext"]
    assert "seccompProfile" not in sc and "readOnlyRootFilesystem" not in sc
    assert sc["allowPrivilegeEscalation"] is False


def test_secret_files_are_readable_without_fs_group() -> None:
    # 0444 so that any UID the platform assigns can read them; no fsGroup is needed.
    objects = render(load_values(CHART / "ci" / "full-values.yaml"))
    spec = pod_spec(migrate_job(objects))
    assert "fsGroup" not in spec["securityContext"]
    secret_volumes = [v for v in spec["volumes"] if "secret" in v]
    assert secret_volumes
    for v in secret_volumes:
        assert v["secret"]["defaultMode"] == 0o444
