"""Credentials reach schemagate only through secretKeyRef or a mounted Secret; TLS material
from Secrets; the development-only Secret is a hook that exists before the Job."""

from __future__ import annotations

import pytest

from chartlib import (
    migrate_job,
    CHART,
    all_containers,
    b64,
    ci_value_files,
    env_dict,
    kinds,
    load_values,
    one,
    pod_objects,
    pod_spec,
    render,
    render_raw,
)

PASSWORD = load_values(CHART / "ci" / "dev-secret-values.yaml")["database"]["createSecret"]["password"]


def job_env(values: dict) -> dict:
    return env_dict(pod_spec(migrate_job(render(values)))["containers"][0])


def secret_ref(env: dict, name: str) -> dict:
    return env[name]["valueFrom"]["secretKeyRef"]


def test_cloudnativepg_keys_are_the_default() -> None:
    env = job_env(load_values(CHART / "ci" / "cloudnativepg-values.yaml"))
    for var, key in [("PGHOST", "host"), ("PGPORT", "port"), ("PGDATABASE", "dbname"),
                     ("PGUSER", "username"), ("PGPASSWORD", "password")]:
        assert secret_ref(env, var) == {"name": "shop-db-app", "key": key}
    assert "SCHEMAGATE_DATABASE_URL" not in env


def test_zalando_secret_holds_only_the_login() -> None:
    env = job_env(load_values(CHART / "ci" / "zalando-values.yaml"))
    name = "app.acid-shop.credentials.postgresql.acid.zalan.do"
    assert secret_ref(env, "PGUSER") == {"name": name, "key": "username"}
    assert secret_ref(env, "PGPASSWORD") == {"name": name, "key": "password"}
    assert env["PGHOST"] == {"name": "PGHOST", "value": "acid-shop"}
    assert env["PGPORT"] == {"name": "PGPORT", "value": "5432"}
    assert env["PGDATABASE"] == {"name": "PGDATABASE", "value": "shop"}
    assert env["PGSSLMODE"]["value"] == "require"


def test_bitnami_secret_holds_only_the_password() -> None:
    env = job_env(load_values(CHART / "ci" / "bitnami-values.yaml"))
    assert secret_ref(env, "PGPASSWORD") == {"name": "shop-postgresql", "key": "password"}
    assert env["PGUSER"]["value"] == "shop"
    assert env["PGHOST"]["value"] == "shop-postgresql"


def test_secret_keys_map_any_key_name() -> None:
    keys = {"uri": "jdbc-less-uri", "host": "pg-host", "port": "pg-port", "dbname": "db-name",
            "username": "user", "password": "postgres-password"}
    env = job_env({"database": {"existingSecret": "creds", "secretKeys": keys}})
    for field, var in [("uri", "SCHEMAGATE_DATABASE_URL"), ("host", "PGHOST"), ("port", "PGPORT"),
                       ("dbname", "PGDATABASE"), ("username", "PGUSER"), ("password", "PGPASSWORD")]:
        assert secret_ref(env, var) == {"name": "creds", "key": keys[field]}


def test_crunchy_secret_is_mounted_as_a_directory() -> None:
    objects = render(load_values(CHART / "ci" / "crunchy-values.yaml"))
    spec = pod_spec(migrate_job(objects))
    (container,) = spec["containers"]
    env = env_dict(container)
    assert not [e for e in env.values() if "valueFrom" in e]
    assert env["SCHEMAGATE_SECRET_DIR"]["value"] == "/var/run/secrets/schemagate/db"
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == env["SCHEMAGATE_SECRET_DIR"]["value"])
    assert mount["readOnly"] is True
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    items = {i["key"]: i["path"] for i in volume["secret"]["items"]}
    # Crunchy's `user` key lands in the file name schemagate reads.
    assert volume["secret"]["secretName"] == "shop-pguser-shop"
    assert items == {"host": "host", "port": "port", "dbname": "dbname", "user": "username", "password": "password"}


def test_uri_key_feeds_schemagate_database_url() -> None:
    env = job_env(load_values(CHART / "ci" / "full-values.yaml"))
    assert secret_ref(env, "SCHEMAGATE_DATABASE_URL") == {"name": "shop-db-app", "key": "uri"}


def test_ca_from_a_secret_is_mounted_and_passed_as_pgsslrootcert() -> None:
    objects = render(load_values(CHART / "ci" / "cloudnativepg-values.yaml"))
    spec = pod_spec(migrate_job(objects))
    (container,) = spec["containers"]
    env = env_dict(container)
    assert env["PGSSLMODE"]["value"] == "verify-full"
    path = env["PGSSLROOTCERT"]["value"]
    mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "shop-db-ca"
    assert volume["secret"]["items"] == [{"key": "ca.crt", "path": path[len(mount["mountPath"]) + 1:]}]


def test_sslnegotiation_is_passed_only_when_set() -> None:
    env = job_env(load_values(CHART / "ci" / "cloudnativepg-values.yaml"))
    assert "PGSSLNEGOTIATION" not in env
    values = load_values(CHART / "ci" / "cloudnativepg-values.yaml")
    values["database"]["sslnegotiation"] = "direct"
    assert job_env(values)["PGSSLNEGOTIATION"] == {"name": "PGSSLNEGOTIATION", "value": "direct"}


def test_client_certificate_for_mtls() -> None:
    objects = render(load_values(CHART / "ci" / "full-values.yaml"))
    spec = pod_spec(migrate_job(objects))
    env = env_dict(spec["containers"][0])
    volume = next(v for v in spec["volumes"] if v.get("secret", {}).get("secretName") == "shop-db-client")
    assert {i["key"] for i in volume["secret"]["items"]} == {"tls.crt", "tls.key"}
    assert env["PGSSLCERT"]["value"].endswith("/tls.crt")
    assert env["PGSSLKEY"]["value"].endswith("/tls.key")


@pytest.mark.parametrize("values_file", ci_value_files(), ids=lambda p: p.name)
def test_passwords_only_through_secrets(values_file) -> None:
    for obj in pod_objects(render(load_values(values_file))):
        for c in all_containers(pod_spec(obj)):
            for e in c.get("env") or []:
                if e["name"].startswith(("PGPASSWORD", "SCHEMAGATE_DATABASE_URL", "DATABASE_URL")):
                    assert "value" not in e, e
                    assert set(e["valueFrom"]) == {"secretKeyRef"}, e
                # The push's credentials: only as files of a mounted Secret.
                if e["name"].startswith(("SCHEMAGATE_PUSHGATEWAY_PASSWORD", "SCHEMAGATE_PUSHGATEWAY_TOKEN")):
                    assert e["name"].endswith("_FILE") and e["value"].startswith("/var/run/secrets/"), e


def test_no_literal_password_anywhere_in_the_rendered_output() -> None:
    values = load_values(CHART / "ci" / "dev-secret-values.yaml")
    text = "\n".join(render_raw(values).values())
    assert PASSWORD not in text
    # Only the Secret holds it, base64-encoded as Kubernetes stores it.
    holders = [o for o in render(values) if b64(PASSWORD) in str(o)]
    assert [o["kind"] for o in holders] == ["Secret"]
    assert holders[0]["data"]["password"] == b64(PASSWORD)


def test_dev_secret_is_a_hook_that_exists_before_the_job_and_after_it() -> None:
    objects = render(load_values(CHART / "ci" / "dev-secret-values.yaml"))
    secret, job = one(objects, "Secret"), migrate_job(objects)
    ann = secret["metadata"]["annotations"]
    assert [h.strip() for h in ann["helm.sh/hook"].split(",")] == ["pre-install", "pre-upgrade"]
    assert int(ann["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    # hook-succeeded would delete the Secret as soon as it is created, before the Job runs.
    assert "hook-succeeded" not in ann["helm.sh/hook-delete-policy"]
    env = env_dict(pod_spec(job)["containers"][0])
    assert secret_ref(env, "PGPASSWORD") == {"name": secret["metadata"]["name"], "key": "password"}
    assert set(secret["data"]) == {"host", "port", "dbname", "username", "password"}
    assert secret_ref(env, "PGUSER")["key"] == "username"


def test_dev_secret_follows_the_job_weight() -> None:
    values = load_values(CHART / "ci" / "dev-secret-values.yaml")
    values["job"] = {"hookWeight": 20}
    objects = render(values)
    assert int(one(objects, "Secret")["metadata"]["annotations"]["helm.sh/hook-weight"]) < 20


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "database.existingSecret"),
        ({"database": {"existingSecret": "a", "createSecret": {"enabled": True, "host": "h", "username": "u", "password": "p"}}}, "mutually exclusive"),
        ({"database": {"createSecret": {"enabled": True, "host": "h", "username": "u"}}}, "createSecret.password"),
        ({"database": {"mountSecret": True}, "extraEnv": [{"name": "PGHOST", "value": "db"}]}, "mountSecret"),
    ],
)
def test_values_that_cannot_connect_are_refused(values: dict, message: str) -> None:
    with pytest.raises(Exception) as err:
        render(values)
    assert message in str(err.value)


def test_a_connection_through_extra_env_is_enough() -> None:
    values = {"extraEnv": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "own", "key": "url"}}}]}
    env = job_env(values)
    assert secret_ref(env, "DATABASE_URL") == {"name": "own", "key": "url"}
    assert not kinds(render(values), "Secret")
