"""metrics.pushgateway and metrics.otlp: the push's URL, job and credentials and the OTLP
endpoint, resource and headers reach the containers that run `migrate` (the pre-upgrade and
the contract Job) or `undo` (the rollback Job and its CronJob) and no other; the push's
credentials only as files from a mounted Secret, OTLP's headers only as a secretKeyRef; the
schema refuses credentials in either URL; and the real binary accepts what the chart
renders, a send to a closed port changing nothing about the exit code."""

from __future__ import annotations

import helm_python as helm
import pytest

from chartlib import (
    CHART,
    NAMESPACE,
    Kubelet,
    all_containers,
    closed_port,
    contract_job,
    env_dict,
    migrate_job,
    pod_objects,
    pod_spec,
    render,
)

DIR = "/var/run/secrets/schemagate/pushgateway"


SENDERS = ("migrate", "undo")


def values(otlp: dict | None = None, **push) -> dict:
    return {
        "database": {"existingSecret": "db"},
        "rollback": {"undo": {"enabled": True, "cronJob": True}},
        "metrics": {"pushgateway": push, "otlp": otlp or {}},
    }


def containers_by_args(objects: list[dict]) -> list[tuple[str, dict, dict]]:
    out = []
    for obj in pod_objects(objects):
        spec = pod_spec(obj)
        for c in all_containers(spec):
            out.append((c["args"][0], spec, c))
    return out


def test_nothing_is_sent_by_default() -> None:
    for _, _, c in containers_by_args(render(values())):
        assert not [n for n in env_dict(c) if n.startswith(("SCHEMAGATE_PUSHGATEWAY", "OTEL_"))]


def test_the_url_and_job_reach_only_the_containers_that_migrate_or_undo() -> None:
    objects = render(values(url="http://prometheus-pushgateway.monitoring:9091", job="shop"))
    seen = set()
    for command, _, c in containers_by_args(objects):
        env = env_dict(c)
        seen.add(command)
        if command in SENDERS:
            assert env["SCHEMAGATE_PUSHGATEWAY_URL"]["value"] == "http://prometheus-pushgateway.monitoring:9091"
            assert env["SCHEMAGATE_PUSHGATEWAY_JOB"]["value"] == "shop"
        else:
            assert "SCHEMAGATE_PUSHGATEWAY_URL" not in env, command
    assert {"migrate", "undo", "validate"} <= seen
    for job in (migrate_job(objects), contract_job(objects)):
        assert "SCHEMAGATE_PUSHGATEWAY_URL" in env_dict(pod_spec(job)["containers"][0])


def test_basic_auth_credentials_are_mounted_files_from_the_secret() -> None:
    objects = render(values(url="https://gw.example", existingSecret="push-auth"))
    spec = pod_spec(migrate_job(objects))
    env = env_dict(spec["containers"][0])
    assert env["SCHEMAGATE_PUSHGATEWAY_USERNAME_FILE"]["value"] == f"{DIR}/username"
    assert env["SCHEMAGATE_PUSHGATEWAY_PASSWORD_FILE"]["value"] == f"{DIR}/password"
    assert "SCHEMAGATE_PUSHGATEWAY_TOKEN_FILE" not in env
    assert not [e for e in env.values() if "valueFrom" in e and e["name"].startswith("SCHEMAGATE_PUSHGATEWAY")]
    [volume] = [v for v in spec["volumes"] if v["name"] == "schemagate-pushgateway"]
    assert volume["secret"] == {
        "secretName": "push-auth",
        "defaultMode": 0o444,
        "items": [{"key": "username", "path": "username"}, {"key": "password", "path": "password"}],
    }
    mount = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "schemagate-pushgateway"]
    assert mount == [{"name": "schemagate-pushgateway", "mountPath": DIR, "readOnly": True}]
    # The test Pod neither mounts nor names it.
    for command, other, c in containers_by_args(objects):
        if command not in SENDERS:
            assert "schemagate-pushgateway" not in [v["name"] for v in other.get("volumes") or []], command
            assert "schemagate-pushgateway" not in [m["name"] for m in c.get("volumeMounts") or []], command


def test_a_bearer_token_from_the_secret() -> None:
    objects = render(values(url="https://gw.example", existingSecret="push-auth",
                            secretKeys={"username": "", "password": "", "token": "bearer"}))
    spec = pod_spec(migrate_job(objects))
    env = env_dict(spec["containers"][0])
    assert env["SCHEMAGATE_PUSHGATEWAY_TOKEN_FILE"]["value"] == f"{DIR}/token"
    assert "SCHEMAGATE_PUSHGATEWAY_USERNAME_FILE" not in env
    volume = [v for v in spec["volumes"] if v["name"] == "schemagate-pushgateway"][0]
    assert volume["secret"]["items"] == [{"key": "bearer", "path": "token"}]


@pytest.mark.parametrize(
    ("push", "message"),
    [
        ({"existingSecret": "push-auth"}, "metrics.pushgateway.url is not"),
        ({"url": "http://gw", "existingSecret": "push-auth", "secretKeys": {"token": "t"}}, "not both"),
        ({"url": "http://gw", "existingSecret": "push-auth", "secretKeys": {"password": ""}}, "not both"),
        ({"url": "http://gw", "existingSecret": "push-auth",
          "secretKeys": {"username": "", "password": ""}}, "not both"),
    ],
)
def test_inconsistent_values_are_refused(push: dict, message: str) -> None:
    with pytest.raises(Exception) as err:
        render(values(**push))
    assert message in str(err.value)


@pytest.mark.parametrize(
    "url",
    ["http://user:hunter2@gw:9091", "gw:9091", "ftp://gw", "http://gw:9091?job=x", "http://gw/ path"],
)
def test_the_schema_refuses_a_url_with_credentials_or_of_another_kind(url: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError) as err:
        chart.validate_schema({"metrics": {"pushgateway": {"url": url}}})
    assert "url" in str(err.value)


def test_the_binary_accepts_the_rendered_push_settings(tmp_path, exit_codes) -> None:
    """A gateway at a closed port: the push fails (one warning) and the run still ends with
    the database's 69, with every push setting and credential file accepted."""
    port = closed_port()
    for secret_keys in ({}, {"username": "", "password": "", "token": "token"}):
        objects = render(values(url=f"http://127.0.0.1:{port}", job="shop/db",
                                existingSecret="push-auth", secretKeys=secret_keys))
        kubelet = Kubelet(tmp_path / ("token" if secret_keys else "basic"), objects)
        ran = 0
        for command, spec, c in containers_by_args(objects):
            if command not in SENDERS:
                continue
            result = kubelet.run(spec, c)
            unavailable = next(e["code"] for e in exit_codes if e["name"] == "unavailable")
            assert result.returncode == unavailable, result.stderr[-3000:]
            assert "could not push the run's metrics" in result.stderr, result.stderr[-3000:]
            assert f"http://127.0.0.1:{port}" in result.stderr
            ran += 1
        # migrate, contract, undo and the undo CronJob's template.
        assert ran == 4


OTLP = {"endpoint": "http://otel-collector.monitoring:4318", "serviceName": "shop-migrations",
        "resourceAttributes": {"deployment.environment.name": "prod"},
        "headersSecret": "otlp-auth"}


def test_the_otlp_settings_reach_only_the_containers_that_migrate_or_undo() -> None:
    objects = render(values(otlp=OTLP))
    seen = set()
    for command, _, c in containers_by_args(objects):
        env = env_dict(c)
        seen.add(command)
        if command not in SENDERS:
            assert not [n for n in env if n.startswith("OTEL_")], command
            continue
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.monitoring:4318"
        assert env["OTEL_SERVICE_NAME"]["value"] == "shop-migrations"
        attrs = env["OTEL_RESOURCE_ATTRIBUTES"]["value"].split(",")
        assert attrs == [f"k8s.namespace.name={NAMESPACE}", "deployment.environment.name=prod"], attrs
        # The headers are a secret: a secretKeyRef, never a value in the manifest.
        assert env["OTEL_EXPORTER_OTLP_HEADERS"] == {
            "name": "OTEL_EXPORTER_OTLP_HEADERS",
            "valueFrom": {"secretKeyRef": {"name": "otlp-auth", "key": "headers"}},
        }
        assert "OTEL_TRACES_EXPORTER" not in env
    assert {"migrate", "undo", "validate"} <= seen
    for job in (migrate_job(objects), contract_job(objects)):
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in env_dict(pod_spec(job)["containers"][0])


def test_traces_can_be_turned_off_and_the_headers_key_chosen() -> None:
    objects = render(values(otlp={**OTLP, "traces": False, "headersKey": "otlp"}))
    env = env_dict(pod_spec(migrate_job(objects))["containers"][0])
    assert env["OTEL_TRACES_EXPORTER"]["value"] == "none"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"]["valueFrom"]["secretKeyRef"]["key"] == "otlp"


def test_headers_without_an_endpoint_are_refused() -> None:
    with pytest.raises(Exception) as err:
        render(values(otlp={"headersSecret": "otlp-auth"}))
    assert "metrics.otlp.endpoint is not" in str(err.value)


@pytest.mark.parametrize(
    ("otlp", "field"),
    [
        ({"endpoint": "http://user:hunter2@c:4318"}, "endpoint"),
        ({"endpoint": "grpc://c:4317"}, "endpoint"),
        ({"endpoint": "http://c:4318?x=1"}, "endpoint"),
        ({"serviceName": "a,b"}, "serviceName"),
        ({"resourceAttributes": {"team": "a,b=c"}}, "resourceAttributes"),
        ({"resourceAttributes": {"bad key": "x"}}, "bad key"),
        ({"headers": "Authorization=x"}, "headers"),
    ],
)
def test_the_schema_refuses_otlp_values_that_would_break_or_leak(otlp: dict, field: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError) as err:
        chart.validate_schema({"metrics": {"otlp": otlp}})
    assert field in str(err.value)


def test_the_binary_accepts_the_rendered_otlp_settings(tmp_path, exit_codes) -> None:
    """A receiver at a closed port: the send fails (one OTLP warning) and the run still ends
    with the database's 69, every OTEL_* setting the chart rendered accepted."""
    port = closed_port()
    objects = render(values(otlp={**OTLP, "endpoint": f"http://127.0.0.1:{port}"}))
    kubelet = Kubelet(tmp_path, objects)
    unavailable = next(e["code"] for e in exit_codes if e["name"] == "unavailable")
    ran = 0
    for command, spec, c in containers_by_args(objects):
        if command not in SENDERS:
            continue
        result = kubelet.run(spec, c)
        assert result.returncode == unavailable, result.stderr[-3000:]
        assert "over OTLP" in result.stderr, result.stderr[-3000:]
        assert f"http://127.0.0.1:{port}/v1/" in result.stderr
        ran += 1
    assert ran == 4
