"""The rollback hook Job running `schemagate undo` and its manual CronJob (SPEC §12, issue 13):
off by default, its hook and env, the Secret and ConfigMap it reads made again on rollback
before it, the suspended CronJob for Argo CD, the values schema, and Helm's view of it."""

from __future__ import annotations

import pytest

from chartlib import (
    KUBE_VERSIONS,
    env_dict,
    hook_job,
    install_dry_run,
    kinds,
    migrate_job,
    mutated_chart,
    one,
    pod_spec,
    render,
    validate_k8s,
)

CNPG = {"database": {"existingSecret": "shop-db-app"}}
UNDO = {**CNPG, "rollback": {"undo": {"enabled": True}}}
FILES = {"V1__orders.sql": "CREATE TABLE orders (id bigint);", "U1__orders.sql": "DROP TABLE orders;"}


def job_names(objects: list[dict]) -> list[str]:
    return sorted(j["metadata"]["name"] for j in kinds(objects, "Job"))


def container(obj: dict) -> dict:
    (c,) = pod_spec(obj)["containers"]
    return c


def value(obj: dict, name: str) -> str | None:
    e = env_dict(container(obj)).get(name)
    return None if e is None else e["value"]


def hooks(obj: dict) -> list[str]:
    return [h.strip() for h in obj["metadata"]["annotations"]["helm.sh/hook"].split(",")]


def test_off_by_default_nothing_runs_on_rollback() -> None:
    objects = render({**CNPG, "migrations": {"configMap": {"create": True, "files": FILES}}})
    assert job_names(objects) == ["shop-schemagate-contract", "shop-schemagate-migrate"]
    assert kinds(objects, "CronJob") == []
    for obj in objects:
        ann = (obj["metadata"].get("annotations") or {}).get("helm.sh/hook", "")
        assert "rollback" not in ann, obj["metadata"]["name"]


def test_enabled_a_pre_rollback_job_runs_undo() -> None:
    job = hook_job(render(UNDO), "undo")
    assert hooks(job) == ["pre-rollback"]
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert ann["helm.sh/hook-weight"] == "0"
    assert job["metadata"]["name"] == "shop-schemagate-undo"
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "undo"
    assert container(job)["name"] == "undo"
    assert container(job)["args"] == ["undo"]
    assert value(job, "SCHEMAGATE_UNDO_CONTRACT") == "false"
    # Exit 65 (a refused undo) and 78 fail the Job at once; the policy names this container.
    rule = job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]
    assert rule["containerName"] == "undo" and 65 in rule["values"]


def test_the_undo_job_has_the_migrate_jobs_pod_env_and_deadline() -> None:
    objects = render(UNDO)
    undo, pre = hook_job(objects, "undo"), migrate_job(objects)
    assert undo["spec"]["activeDeadlineSeconds"] == pre["spec"]["activeDeadlineSeconds"]
    assert undo["spec"]["backoffLimit"] == pre["spec"]["backoffLimit"]
    for key in ("securityContext", "volumeMounts", "resources", "image"):
        assert container(undo).get(key) == container(pre).get(key), key
    extra = set(env_dict(container(undo))) - set(env_dict(container(pre)))
    assert extra == {"SCHEMAGATE_UNDO_CONTRACT"}
    # SCHEMAGATE_TARGET stays unset: the target is the newest version of the image rolled back to.
    assert value(undo, "SCHEMAGATE_TARGET") is None


def test_post_rollback_and_contract_are_choices() -> None:
    job = hook_job(render({**CNPG, "rollback": {"undo": {"enabled": True, "hook": "post-rollback", "contract": True}}}), "undo")
    assert hooks(job) == ["post-rollback"]
    assert value(job, "SCHEMAGATE_UNDO_CONTRACT") == "true"


def test_the_secret_and_config_map_it_reads_are_made_again_on_rollback_before_it() -> None:
    values = {
        "database": {"createSecret": {"enabled": True, "host": "db", "username": "app", "password": "pw", "dbname": "shop"}},
        "migrations": {"configMap": {"create": True, "files": FILES}},
        "rollback": {"undo": {"enabled": True}},
    }
    objects = render(values)
    job = hook_job(objects, "undo")
    for obj in (one(objects, "Secret"), one(objects, "ConfigMap")):
        assert hooks(obj) == ["pre-install", "pre-upgrade", "pre-rollback"], obj["metadata"]["name"]
        weight = int(obj["metadata"]["annotations"]["helm.sh/hook-weight"])
        assert weight < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    off = render({**values, "rollback": {"undo": {"enabled": False}}})
    for obj in (one(off, "Secret"), one(off, "ConfigMap")):
        assert hooks(obj) == ["pre-install", "pre-upgrade"]


def test_the_cron_job_is_suspended_and_never_scheduled() -> None:
    objects = render({**CNPG, "rollback": {"undo": {"cronJob": True}}})
    cron = one(objects, "CronJob")
    assert cron["metadata"]["name"] == "shop-schemagate-undo"
    assert "annotations" not in cron["metadata"] or "helm.sh/hook" not in cron["metadata"]["annotations"]
    assert cron["spec"]["suspend"] is True
    assert cron["spec"]["schedule"] == "0 0 31 2 *"  # 31 February
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert container(cron)["args"] == ["undo"]
    assert cron["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["containerName"] == "undo"
    # Without the hook Job: the CronJob alone is what an Argo CD user wants.
    assert job_names(objects) == ["shop-schemagate-contract", "shop-schemagate-migrate"]


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_the_undo_objects_are_valid_kubernetes(version: str) -> None:
    objects = render({**UNDO, "rollback": {"undo": {"enabled": True, "cronJob": True}}})
    validate_k8s(hook_job(objects, "undo"), version)
    validate_k8s(one(objects, "CronJob"), version)


def test_install_dry_run_sees_the_undo_job_as_a_hook() -> None:
    release, log = install_dry_run(UNDO)
    assert "shop-schemagate-undo" not in release.get("manifest", "")
    assert not [line for line in log if "unknown hook" in line], log


def test_install_dry_run_control_a_misspelt_rollback_hook_is_caught(tmp_path) -> None:
    chart = mutated_chart(tmp_path, "job-undo.yaml", '"hooks" .Values.rollback.undo.hook', '"hooks" "pre-rollbak"')
    release, log = install_dry_run(UNDO, chart=chart)
    assert [line for line in log if "unknown hook" in line], log


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"rollback": {"undo": {"hook": "pre-upgrade"}}}, "hook"),
        ({"rollback": {"undo": {"enabeld": True}}}, "enabeld"),
        ({"rollback": {"undo": {"contract": "yes"}}}, "contract"),
        ({"rollback": {"udno": {}}}, "udno"),
    ],
)
def test_the_schema_refuses_bad_rollback_values(values: dict, key: str) -> None:
    with pytest.raises(Exception) as err:
        render({**CNPG, **values})
    assert key in str(err.value)
