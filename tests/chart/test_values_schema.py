"""values.schema.json: draft-07, complete (every value documented in values.yaml has a schema
and every schema property a default), and Helm refuses wrong types and unknown keys with a
message that names the key."""

from __future__ import annotations

import json

import helm_python as helm
import pytest
import yaml

from chartlib import CHART, ci_value_files, load_values

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())


def validate(values: dict) -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values)


def test_schema_is_draft_07_and_closed() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert SCHEMA["additionalProperties"] is False


# Kubernetes types: the schema lists their fields, values.yaml sets the few that matter.
K8S_TYPED = {"resources", "podSecurityContext", "containerSecurityContext"}


def walk(schema: dict, values, path: str = "", typed: bool = False) -> list[str]:
    """Where values.yaml and the schema disagree on which keys exist."""
    problems = []
    props = schema.get("properties")
    if props is None or not isinstance(values, dict):
        return problems
    if schema.get("additionalProperties") is not False:
        problems.append(f"{path or '<root>'}: schema allows unknown keys")
    typed = typed or path.rstrip(".").split(".")[-1] in K8S_TYPED
    for key in values:
        if key not in props:
            problems.append(f"{path}{key}: in values.yaml, not in the schema")
    for key, sub in props.items():
        if key in values:
            problems += walk(sub, values[key], f"{path}{key}.", typed)
        elif not typed:
            problems.append(f"{path}{key}: in the schema, not in values.yaml")
    return problems


def test_schema_and_values_yaml_name_the_same_keys() -> None:
    assert walk(SCHEMA, DEFAULTS) == []


def test_every_chart_property_is_described() -> None:
    undocumented = []

    def visit(schema: dict, path: str) -> None:
        for key, sub in (schema.get("properties") or {}).items():
            if "description" not in sub:
                undocumented.append(path + key)
            if key not in K8S_TYPED:
                visit(sub, f"{path}{key}.")

    visit(SCHEMA, "")
    assert undocumented == []


def test_defaults_and_every_ci_set_pass() -> None:
    validate({})
    for f in ci_value_files():
        validate(load_values(f))


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"job": {"backoffLimit": "two"}}, "backoffLimit"),
        ({"job": {"deadline": "4 minutes"}}, "deadline"),
        ({"job": {"hookWeight": "first"}}, "hookWeight"),
        ({"image": {"tag": 1.1}}, "tag"),
        ({"database": {"sslmode": "verify"}}, "sslmode"),
        ({"database": {"sslnegotiation": "tls"}}, "sslnegotiation"),
        ({"database": {"existingSecret": ["a"]}}, "existingSecret"),
        ({"database": {"port": "fivefour"}}, "port"),
        ({"config": {"lockTimeout": "5 seconds"}}, "lockTimeout"),
        ({"config": {"outOfOrder": "maybe"}}, "outOfOrder"),
        ({"containerSecurityContext": {"runAsUser": "nobody"}}, "runAsUser"),
        ({"placeholders": {"has space": "x"}}, "has space"),
        ({"extraEnv": [{"value": "x"}]}, "name"),
        ({"tests": {"enabled": "yes"}}, "enabled"),
    ],
)
def test_wrong_types_are_refused_naming_the_key(values: dict, named: str) -> None:
    with pytest.raises(helm.HelmValuesError) as err:
        validate(values)
    assert named in str(err.value)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"database": {"pasword": "hunter2"}}, "pasword"),
        ({"database": {"url": "postgres://u:p@h/d"}}, "url"),
        ({"job": {"backofLimit": 3}}, "backofLimit"),
        ({"job": {"ttlSecondsAfterFinished": 60}}, "ttlSecondsAfterFinished"),
        ({"config": {"deadline": "5m"}}, "deadline"),
        ({"config": {"lock_timeout": "5s"}}, "lock_timeout"),
        ({"containerSecurityContext": {"runAsNonroot": True}}, "runAsNonroot"),
        ({"podSecurityContext": {"seccompProfile": {"typ": "RuntimeDefault"}}}, "typ"),
        ({"resources": {}}, "resources"),
        ({"image": {"registry": "docker.io"}}, "registry"),
    ],
)
def test_unknown_keys_are_refused_naming_the_key(values: dict, named: str) -> None:
    with pytest.raises(helm.HelmValuesError) as err:
        validate(values)
    assert named in str(err.value)


def test_rendering_refuses_an_unknown_key() -> None:
    # Helm applies the schema whenever it renders, not only in validate_schema.
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError) as err:
        chart.render({"database": {"existingSecret": "db", "secretKey": {}}}, name="shop")
    assert "secretKey" in str(err.value)


def test_null_is_accepted_where_openshift_needs_it() -> None:
    validate({"podSecurityContext": None, "containerSecurityContext": {"runAsUser": None}})
