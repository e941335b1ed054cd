"""The migration hook Job (SPEC §10): hook annotations, retries and failure policy from the
binary's own exit-code table, deadlines, and the Pod around `schemagate migrate`."""

from __future__ import annotations

import pytest

from chartlib import (
    migrate_job,
    mutated_chart,
    CHART,
    RELEASE,
    all_containers,
    duration_seconds,
    env_dict,
    install_dry_run,
    kinds,
    load_values,
    one,
    pod_spec,
    render,
    render_raw,
)

CNPG = {"database": {"existingSecret": "shop-db-app"}}


@pytest.fixture(scope="module")
def job() -> dict:
    return migrate_job(render(CNPG))


def migrate_container(job: dict) -> dict:
    containers = pod_spec(job)["containers"]
    assert len(containers) == 1 and not pod_spec(job).get("initContainers")
    return containers[0]


def test_job_is_a_pre_install_pre_upgrade_hook(job: dict) -> None:
    ann = job["metadata"]["annotations"]
    assert [h.strip() for h in ann["helm.sh/hook"].split(",")] == ["pre-install", "pre-upgrade"]
    assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert ann["helm.sh/hook-weight"] == "0"


def test_hook_weight_is_configurable() -> None:
    job = migrate_job(render({**CNPG, "job": {"hookWeight": -7}}))
    assert job["metadata"]["annotations"]["helm.sh/hook-weight"] == "-7"


def test_job_runs_migrate_once_per_pod(job: dict) -> None:
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    assert migrate_container(job)["args"] == ["migrate"]
    assert "command" not in migrate_container(job), "the image's ENTRYPOINT is the binary"
    assert job["spec"]["backoffLimit"] == 2
    assert migrate_job(render({**CNPG, "job": {"backoffLimit": 0}}))["spec"]["backoffLimit"] == 0


def test_no_ttl_after_finished(job: dict) -> None:
    # Helm waits for the hook Job; a TTL controller that deletes it first makes Helm wait for
    # a Job that is gone.
    assert "ttlSecondsAfterFinished" not in job["spec"]


def test_pod_failure_policy_fails_at_once_on_the_binary_non_retryable_codes(job: dict, exit_codes: list[dict]) -> None:
    non_retryable = sorted(c["code"] for c in exit_codes if not c["retryable"] and c["code"] != 0)
    retryable = sorted(c["code"] for c in exit_codes if c["retryable"])
    assert non_retryable and retryable, exit_codes
    rules = job["spec"]["podFailurePolicy"]["rules"]
    fail_job = [r for r in rules if r["action"] == "FailJob"]
    assert len(fail_job) == 1
    on_exit = fail_job[0]["onExitCodes"]
    assert on_exit["operator"] == "In"
    assert on_exit["containerName"] == migrate_container(job)["name"]
    # One source of truth: the codes the binary calls non-retryable, no more, no fewer.
    assert on_exit["values"] == non_retryable
    assert not set(on_exit["values"]) & set(retryable)


def test_pod_failure_policy_ignores_disruptions(job: dict) -> None:
    rules = job["spec"]["podFailurePolicy"]["rules"]
    ignore = [r for r in rules if r["action"] == "Ignore"]
    assert ignore == [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]
    # Kubernetes evaluates rules in order; nothing may count a disruption before this rule.
    assert all(r["action"] != "Count" for r in rules)


@pytest.mark.parametrize(
    ("deadline", "seconds"),
    [(None, 240), ("4m", 240), ("30s", 30), ("1h30m", 5400), ("5m30s", 330), ("2h", 7200), (600, 600), ("90", 90)],
)
def test_active_deadline_is_a_minute_past_the_one_deadline_value(deadline, seconds: int) -> None:
    values = {**CNPG, "job": {} if deadline is None else {"deadline": deadline}}
    if seconds < 160:
        # The contract hook's 2m wait needs a longer deadline (test_contract_hook.py).
        values["contract"] = {"enabled": False}
    job = migrate_job(render(values))
    env = env_dict(migrate_container(job))
    rendered = duration_seconds(env["SCHEMAGATE_DEADLINE"]["value"])
    assert rendered == seconds
    assert job["spec"]["activeDeadlineSeconds"] == seconds + 60
    assert job["spec"]["activeDeadlineSeconds"] > rendered


@pytest.mark.parametrize("deadline", ["4 min", "1.5m", "0", "0s", "", "-5m", "5ms"])
def test_a_deadline_the_chart_cannot_turn_into_seconds_is_refused(deadline: str) -> None:
    with pytest.raises(Exception) as err:
        render({**CNPG, "job": {"deadline": deadline}})
    assert "deadline" in str(err.value)


def test_deadline_reaches_every_schemagate_container(app_chart) -> None:
    objects = render({"schemagate": {"job": {"deadline": "7m"}}}, chart=app_chart)
    seen = 0
    for obj in objects:
        if obj["kind"] not in ("Job", "Pod", "Deployment"):
            continue
        for c in all_containers(pod_spec(obj)):
            if c["image"].startswith("ghcr.io/schemagate/"):
                assert env_dict(c)["SCHEMAGATE_DEADLINE"]["value"] == "420s"
                seen += 1
    assert seen == 4  # the two hook Jobs, the test Pod, the initContainer


def test_termination_message_falls_back_to_logs(job: dict) -> None:
    assert migrate_container(job)["terminationMessagePolicy"] == "FallbackToLogsOnError"
    # schemagate writes the outcome to the default path; the chart must not move it.
    assert "terminationMessagePath" not in migrate_container(job)
    assert "SCHEMAGATE_TERMINATION_LOG" not in env_dict(migrate_container(job))


def test_pod_has_no_api_token_and_no_service_links(job: dict) -> None:
    spec = pod_spec(job)
    assert spec["automountServiceAccountToken"] is False
    # A Service named schemagate-* would inject SCHEMAGATE_*_PORT variables: exit 78.
    assert spec["enableServiceLinks"] is False


def test_service_mesh_sidecars_are_kept_out(job: dict) -> None:
    ann = job["spec"]["template"]["metadata"]["annotations"]
    assert ann["sidecar.istio.io/inject"] == "false"
    assert ann["linkerd.io/inject"] == "disabled"


def test_small_default_resources(job: dict) -> None:
    res = migrate_container(job)["resources"]
    assert res["requests"]["cpu"] == "10m"
    assert res["requests"]["memory"] == "32Mi"
    assert res["limits"]["memory"] == "128Mi"


def test_image_defaults_to_the_app_version(job: dict) -> None:
    assert migrate_container(job)["image"] == "ghcr.io/schemagate/schemagate:0.1.0"
    assert migrate_container(job)["imagePullPolicy"] == "IfNotPresent"


def test_standard_labels(job: dict) -> None:
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert labels["app.kubernetes.io/name"] == "schemagate"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/component"] == "migration"
        assert labels["helm.sh/chart"] == "schemagate-0.1.0"


def test_full_value_set_reaches_the_pod() -> None:
    objects = render(load_values(CHART / "ci" / "full-values.yaml"))
    job = migrate_job(objects)
    spec = pod_spec(job)
    c = migrate_container(job)
    assert job["metadata"]["name"] == "shop-schema-migrate"
    assert c["image"] == (
        "registry.example.com/platform/schemagate:0.1.0@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    assert c["imagePullPolicy"] == "Always"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert "nodeAffinity" in spec["affinity"]
    assert spec["serviceAccountName"] == "schema-migrator"
    assert spec["priorityClassName"] == "high-priority"
    assert job["metadata"]["annotations"]["example.com/owner"] == "platform"
    assert job["metadata"]["labels"]["example.com/team"] == "payments"
    pod_meta = job["spec"]["template"]["metadata"]
    assert pod_meta["annotations"]["example.com/scrape"] == "false"
    assert pod_meta["annotations"]["sidecar.istio.io/inject"] == "false"  # merged, not replaced
    assert pod_meta["labels"]["example.com/tier"] == "database"
    assert job["spec"]["backoffLimit"] == 4
    assert job["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"
    assert c["resources"]["limits"]["cpu"] == "1"
    env = env_dict(c)
    assert env["SCHEMAGATE_PLACEHOLDER_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "shop-api", "key": "key"}
    assert env["SCHEMAGATE_PLACEHOLDER_APP_ROLE"]["value"] == "shop_app"
    assert env["SCHEMAGATE_PLACEHOLDER_RETENTION_DAYS"]["value"] == "30"
    assert env["PGAPPNAME"]["value"] == "shop-migrations"
    assert env["SCHEMAGATE_TABLE"]["value"] == "flyway_schema_history"
    assert env["SCHEMAGATE_OUT_OF_ORDER"]["value"] == "true"
    assert env["SCHEMAGATE_CONNECT_TIMEOUT"]["value"] == "5"
    assert env["SCHEMAGATE_LOG"]["value"] == "info,schemagate=debug"
    assert {"name": "scratch", "emptyDir": {"sizeLimit": "16Mi"}} in spec["volumes"]
    assert {"name": "scratch", "mountPath": "/scratch"} in c["volumeMounts"]


def test_settings_left_empty_are_not_rendered(job: dict) -> None:
    names = set(env_dict(migrate_container(job)))
    assert {n for n in names if n.startswith("SCHEMAGATE_")} == {"SCHEMAGATE_DEADLINE"}


def test_job_can_be_left_out() -> None:
    objects = render({**CNPG, "job": {"enabled": False}})
    assert kinds(objects, "Job") == []


def test_helm_test_pod_runs_validate() -> None:
    pod = one(render(CNPG), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    # `helm test --logs` reads the Pod after it succeeded: it must still be there.
    assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert pod["spec"]["restartPolicy"] == "Never"
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["validate"]
    job_env = env_dict(migrate_container(migrate_job(render(CNPG))))
    assert env_dict(container) == job_env
    assert kinds(render({**CNPG, "tests": {"enabled": False}}), "Pod") == []


def test_notes_tell_how_to_read_a_failed_hook() -> None:
    notes = render_raw(CNPG)["schemagate/templates/NOTES.txt"]
    assert "kubectl -n shop describe pod -l job-name=shop-schemagate-migrate" in notes
    assert "300s" in notes  # the Job's limit, so that Helm's --timeout can match it


# ------------------------------------------------------------ Helm's install --dry-run

def test_install_dry_run_sees_the_job_as_a_hook() -> None:
    """Helm sorts hooks out of the manifest. A misspelt hook name makes Helm drop the object
    with only a log line, so: the Job renders, is absent from the release manifest, and Helm
    reported no unknown hook."""
    rendered = render(CNPG)
    assert migrate_job(rendered)
    release, log = install_dry_run(CNPG)
    assert release["status"] == "pending-install"
    assert "kind: Job" not in release.get("manifest", "")
    assert "kind: Pod" not in release.get("manifest", "")  # the helm test Pod is a hook too
    assert not [line for line in log if "unknown hook" in line], log


def test_install_dry_run_control_a_misspelt_hook_is_caught(tmp_path) -> None:
    """The control for the test above: with `pre-instal`, Helm drops the Job and says so."""
    chart = mutated_chart(tmp_path, "job.yaml", '"hooks" "pre-install,pre-upgrade"', '"hooks" "pre-instal,pre-upgrade"')
    release, log = install_dry_run(CNPG, chart=chart)
    assert "kind: Job" not in release.get("manifest", "")
    assert [line for line in log if "unknown hook" in line], log


def test_install_dry_run_control_a_misspelt_annotation_key_is_caught(tmp_path) -> None:
    """With `helm.sh/hooks`, the Job is an ordinary object: it lands in the manifest."""
    chart = mutated_chart(tmp_path, "_helpers.tpl", "helm.sh/hook: {{ .hooks }}", "helm.sh/hooks: {{ .hooks }}")
    release, _ = install_dry_run(CNPG, chart=chart)
    assert "kind: Job" in release.get("manifest", "")
