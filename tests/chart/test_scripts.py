"""Scripts: bundled in the image by default, or a ConfigMap built from the chart's files and
values, mounted at /migrations as a hook weighted before the Job."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chartlib import CHART, env_dict, kinds, load_values, one, pod_spec, render, migrate_job

CNPG = {"database": {"existingSecret": "shop-db-app"}}


def test_default_uses_the_scripts_in_the_image() -> None:
    objects = render(CNPG)
    assert kinds(objects, "ConfigMap") == []
    container = pod_spec(migrate_job(objects))["containers"][0]
    assert not [m for m in container.get("volumeMounts") or [] if m["mountPath"] == "/migrations"]
    assert "SCHEMAGATE_LOCATIONS" not in env_dict(container)  # the image sets /migrations


@pytest.fixture()
def chart_with_scripts(tmp_path: Path) -> Path:
    chart = tmp_path / "schemagate"
    shutil.copytree(CHART, chart)
    mig = chart / "migrations"
    (mig / "V1__create_orders.sql").write_text("CREATE TABLE orders (id bigint PRIMARY KEY);\n")
    (mig / "2025").mkdir()
    (mig / "2025" / "V2__index_orders.sql").write_text("CREATE INDEX CONCURRENTLY orders_idx ON orders (id);\n")
    (mig / "2025" / "V2__index_orders.sql.conf").write_text("executeInTransaction=false\n")
    (mig / "notes.txt").write_text("not a script\n")
    return chart


def test_configmap_from_the_chart_files(chart_with_scripts: Path) -> None:
    values = {**CNPG, "migrations": {"configMap": {"create": True, "files": {"R__orders_view.sql": "SELECT 1;\n"}}}}
    objects = render(values, chart=chart_with_scripts)
    cm, job = one(objects, "ConfigMap"), migrate_job(objects)
    assert cm["data"] == {
        "V1__create_orders.sql": "CREATE TABLE orders (id bigint PRIMARY KEY);\n",
        "V2__index_orders.sql": "CREATE INDEX CONCURRENTLY orders_idx ON orders (id);\n",
        "V2__index_orders.sql.conf": "executeInTransaction=false\n",
        "R__orders_view.sql": "SELECT 1;\n",
    }
    ann = cm["metadata"]["annotations"]
    assert [h.strip() for h in ann["helm.sh/hook"].split(",")] == ["pre-install", "pre-upgrade"]
    assert int(ann["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert "hook-succeeded" not in ann["helm.sh/hook-delete-policy"]
    spec = pod_spec(job)
    container = spec["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/migrations")
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == cm["metadata"]["name"]
    assert env_dict(container)["SCHEMAGATE_LOCATIONS"]["value"] == "/migrations"


def test_the_shipped_chart_has_no_scripts_of_its_own() -> None:
    with pytest.raises(Exception) as err:
        render({**CNPG, "migrations": {"configMap": {"create": True}}})
    assert "no migrations/*.sql" in str(err.value)


def test_two_scripts_with_one_name_are_refused(chart_with_scripts: Path) -> None:
    (chart_with_scripts / "migrations" / "2025" / "V1__create_orders.sql").write_text("SELECT 2;\n")
    with pytest.raises(Exception) as err:
        render({**CNPG, "migrations": {"configMap": {"create": True}}}, chart=chart_with_scripts)
    assert "V1__create_orders.sql" in str(err.value)


def test_an_existing_configmap_is_mounted_but_not_rendered() -> None:
    objects = render({**CNPG, "migrations": {"configMap": {"existingName": "shop-sql"}}})
    assert kinds(objects, "ConfigMap") == []
    spec = pod_spec(migrate_job(objects))
    assert {"name": "schemagate-migrations", "configMap": {"name": "shop-sql"}} in spec["volumes"]


def test_dev_values_ship_scripts_in_values() -> None:
    objects = render(load_values(CHART / "ci" / "dev-secret-values.yaml"))
    assert sorted(one(objects, "ConfigMap")["data"]) == ["R__widget_names.sql", "V1__create_widgets.sql"]
