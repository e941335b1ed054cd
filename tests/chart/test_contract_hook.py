"""The post-install/post-upgrade hook Job for contract scripts (SPEC §11, issue 11): hooks,
the wait and its deadline, the release's name and version on every container, the values
schema, Helm's view of it as a hook, and the app's PGAPPNAME."""

from __future__ import annotations

import pytest

from chartlib import (
    KUBE_VERSIONS,
    all_containers,
    contract_job,
    duration_seconds,
    env_dict,
    install_dry_run,
    kinds,
    migrate_job,
    mutated_chart,
    one,
    pod_objects,
    pod_spec,
    render,
    validate_k8s,
)

CNPG = {"database": {"existingSecret": "shop-db-app"}}
SHOP = {**CNPG, "app": {"name": "shop", "version": "1.4.2"}}


def container(job: dict) -> dict:
    (c,) = pod_spec(job)["containers"]
    return c


def value(job: dict, name: str) -> str | None:
    e = env_dict(container(job)).get(name)
    return None if e is None else e["value"]


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return render(SHOP)


def test_the_contract_job_is_a_post_install_post_upgrade_hook(objects: list[dict]) -> None:
    job = contract_job(objects)
    ann = job["metadata"]["annotations"]
    assert [h.strip() for h in ann["helm.sh/hook"].split(",")] == ["post-install", "post-upgrade"]
    assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert ann["helm.sh/hook-weight"] == "0"
    assert job["metadata"]["name"] == "shop-schemagate-contract"
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "contract"
    assert container(job)["args"] == ["migrate"]
    assert container(job)["name"] == "contract"
    # The pre hook stays what it was.
    pre = migrate_job(objects)
    assert pre["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert container(pre)["args"] == ["migrate"]


def test_the_post_hook_waits_for_old_pods_and_the_pre_hook_does_not(objects: list[dict]) -> None:
    post, pre = contract_job(objects), migrate_job(objects)
    assert duration_seconds(value(post, "SCHEMAGATE_CONTRACT_WAIT")) == 120
    assert value(post, "SCHEMAGATE_CONTRACT") == "auto"
    assert value(pre, "SCHEMAGATE_CONTRACT_WAIT") is None
    assert value(pre, "SCHEMAGATE_CONTRACT") is None  # the binary's default: auto
    post = contract_job(render({**SHOP, "contract": {"wait": "90s", "mode": "apply"}}))
    assert duration_seconds(value(post, "SCHEMAGATE_CONTRACT_WAIT")) == 90
    assert value(post, "SCHEMAGATE_CONTRACT") == "apply"


def test_the_wait_fits_inside_the_deadline_with_room_for_the_scripts() -> None:
    for deadline, wait, settle in [("4m", "2m", ""), ("10m", "8m", "30s"), ("200", "150", "")]:
        job = contract_job(render({**SHOP, "job": {"deadline": deadline}, "contract": {"wait": wait, "settle": settle}}))
        d = duration_seconds(value(job, "SCHEMAGATE_DEADLINE"))
        w = duration_seconds(value(job, "SCHEMAGATE_CONTRACT_WAIT"))
        s = duration_seconds(value(job, "SCHEMAGATE_CONTRACT_SETTLE") or "10s")
        assert job["spec"]["activeDeadlineSeconds"] == d + 60
        assert d >= w + s + 30, (deadline, wait, settle)
    for deadline, wait in [("4m", "4m"), ("2m", "2m"), ("3m", "2m30s")]:
        with pytest.raises(Exception) as err:
            render({**SHOP, "job": {"deadline": deadline}, "contract": {"wait": wait}})
        assert "contract.wait" in str(err.value) and "job.deadline" in str(err.value)
    # With the post hook off, the wait does not matter.
    assert kinds(render({**SHOP, "job": {"deadline": "30s"}, "contract": {"enabled": False}}), "Job")


def test_contract_enabled_false_leaves_only_the_pre_hook() -> None:
    objects = render({**SHOP, "contract": {"enabled": False}})
    assert [j["metadata"]["name"] for j in kinds(objects, "Job")] == ["shop-schemagate-migrate"]
    assert kinds(render({**SHOP, "job": {"enabled": False}}), "Job") == []


def test_the_release_is_named_on_every_schemagate_container(objects: list[dict]) -> None:
    seen = 0
    for obj in pod_objects(objects):
        for c in all_containers(pod_spec(obj)):
            env = env_dict(c)
            assert env["SCHEMAGATE_APP"]["value"] == "shop"
            assert env["SCHEMAGATE_APP_VERSION"]["value"] == "1.4.2"
            seen += 1
    assert seen == 3  # both Jobs and the test Pod


def test_the_version_defaults_to_the_app_version_and_nothing_renders_without_a_name() -> None:
    job = contract_job(render({**CNPG, "app": {"name": "shop"}}))
    assert value(job, "SCHEMAGATE_APP_VERSION") == "0.1.0"  # Chart.yaml appVersion
    for job in kinds(render(CNPG), "Job"):
        assert value(job, "SCHEMAGATE_APP") is None and value(job, "SCHEMAGATE_APP_VERSION") is None
    with pytest.raises(Exception) as err:
        render({**CNPG, "app": {"version": "1.0"}})
    assert "app.name" in str(err.value)


def test_the_post_hook_has_the_pre_hooks_pod_and_policy(objects: list[dict]) -> None:
    post, pre = contract_job(objects), migrate_job(objects)
    assert post["spec"]["backoffLimit"] == pre["spec"]["backoffLimit"]
    assert post["spec"]["activeDeadlineSeconds"] == pre["spec"]["activeDeadlineSeconds"]
    rules = post["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["onExitCodes"]["containerName"] == "contract"
    assert rules[0]["onExitCodes"]["values"] == pre["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"]
    assert rules[1:] == pre["spec"]["podFailurePolicy"]["rules"][1:]
    spec_post, spec_pre = pod_spec(post), pod_spec(pre)
    for key in ("securityContext", "automountServiceAccountToken", "enableServiceLinks", "restartPolicy"):
        assert spec_post[key] == spec_pre[key], key
    for key in ("securityContext", "volumeMounts", "resources", "image", "terminationMessagePolicy"):
        assert container(post).get(key) == container(pre).get(key), key
    # The same env, plus the wait and the mode.
    extra = set(env_dict(container(post))) - set(env_dict(container(pre)))
    assert extra == {"SCHEMAGATE_CONTRACT", "SCHEMAGATE_CONTRACT_WAIT"}
    assert post["spec"]["template"]["metadata"]["annotations"] == pre["spec"]["template"]["metadata"]["annotations"]


def test_a_mounted_migrations_config_map_outlives_the_pre_hooks() -> None:
    objects = render({**SHOP, "migrations": {"configMap": {"create": True, "files": {"V1__a.sql": "SELECT 1;"}}}})
    cm = one(objects, "ConfigMap")
    # Not deleted on success: the post hook (and the app's initContainer) mount it later.
    assert "hook-succeeded" not in cm["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    mounts = {m["mountPath"] for m in container(contract_job(objects))["volumeMounts"]}
    assert "/migrations" in mounts


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_the_contract_job_is_valid_kubernetes(objects: list[dict], version: str) -> None:
    validate_k8s(contract_job(objects), version)


def test_install_dry_run_sees_the_contract_job_as_a_hook() -> None:
    release, log = install_dry_run(SHOP)
    assert "kind: Job" not in release.get("manifest", "")
    assert not [line for line in log if "unknown hook" in line], log


def test_install_dry_run_control_a_misspelt_post_hook_is_caught(tmp_path) -> None:
    chart = mutated_chart(tmp_path, "job-contract.yaml", '"hooks" "post-install,post-upgrade"', '"hooks" "post-instal,post-upgrade"')
    release, log = install_dry_run(SHOP, chart=chart)
    assert [line for line in log if "unknown hook" in line], log


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"contract": {"mode": "later"}}, "mode"),
        ({"contract": {"wait": "2 min"}}, "wait"),
        ({"contract": {"settle": "soon"}}, "settle"),
        ({"contract": {"enabeld": True}}, "enabeld"),
        ({"app": {"name": "shop/api"}}, "name"),
        ({"app": {"name": "my shop"}}, "name"),
        ({"app": {"version": "1.0 beta", "name": "shop"}}, "version"),
        ({"app": {"nmae": "shop"}}, "nmae"),
        ({"config": {"batchSize": 5}}, "batchSize"),
        ({"config": {"batchTimeout": "five"}}, "batchTimeout"),
    ],
)
def test_the_schema_refuses_bad_phase_values(values: dict, key: str) -> None:
    with pytest.raises(Exception) as err:
        render({**CNPG, **values})
    assert key in str(err.value)


def test_the_app_charts_pods_name_their_sessions_for_the_guard(app_chart) -> None:
    objects = render(chart=app_chart)
    web = next(c for c in pod_spec(one(objects, "Deployment"))["containers"] if c["name"] == "web")
    env = env_dict(web)
    assert env["PGAPPNAME"]["value"] == "shop/1.0.0/$(POD_NAME)"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    names = [e["name"] for e in web["env"]]
    assert names.index("POD_NAME") < names.index("PGAPPNAME"), "$(POD_NAME) expands only if defined before"
    assert value(contract_job(objects), "SCHEMAGATE_APP_VERSION") == "1.0.0"


def test_application_name_needs_an_app_name(app_chart) -> None:
    with pytest.raises(Exception) as err:
        render({"schemagate": {"app": {"name": "", "version": ""}}}, chart=app_chart)
    assert "schemagate.applicationName needs app.name" in str(err.value)
