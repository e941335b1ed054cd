"""The real binary starts with each rendered container's environment and files.

schemagate refuses an unknown SCHEMAGATE_* variable or a malformed value with exit 78, so a
chart that renders a misspelt setting would fail every release. Each container runs its own
rendered args (migrate, validate, wait) against a closed local port: 69 (unavailable) proves
that every setting, secret file, CA certificate and script folder was accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartlib import CHART, Kubelet, all_containers, ci_value_files, load_values, pod_objects, pod_spec, render, migrate_job

UNAVAILABLE = 69


def containers(objects: list[dict]) -> list[tuple[str, dict, dict]]:
    out = []
    for obj in pod_objects(objects):
        spec = pod_spec(obj)
        for c in all_containers(spec):
            if "/schemagate" in c["image"]:
                out.append((f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}", spec, c))
    return out


def assert_runs_to_unavailable(objects: list[dict], root: Path, exit_codes: list[dict]) -> int:
    assert [c for c in exit_codes if c["code"] == UNAVAILABLE and c["name"] == "unavailable"]
    kubelet = Kubelet(root, objects)
    ran = 0
    for label, spec, container in containers(objects):
        result = kubelet.run(spec, container)
        assert result.returncode == UNAVAILABLE, f"{label}: exit {result.returncode}\n{result.stderr[-3000:]}"
        ran += 1
    assert ran
    return ran


@pytest.mark.parametrize("values_file", ci_value_files(), ids=lambda p: p.name)
def test_binary_accepts_what_the_chart_renders(values_file: Path, tmp_path: Path, exit_codes) -> None:
    assert_runs_to_unavailable(render(load_values(values_file)), tmp_path, exit_codes)


def test_binary_accepts_the_application_init_container(app_chart, tmp_path: Path, exit_codes) -> None:
    # The two hook Jobs, the test Pod and the initContainer.
    assert assert_runs_to_unavailable(render(chart=app_chart), tmp_path, exit_codes) == 4


def test_every_setting_the_chart_knows_reaches_the_binary(tmp_path: Path, exit_codes) -> None:
    """All of `config` at once, in the spelling a user would choose."""
    values = {
        "database": {"existingSecret": "db", "secretKeys": {"uri": "uri"}, "sslmode": "require",
                     "sslnegotiation": "direct"},
        "config": {
            "schema": "app", "table": "flyway_schema_history", "target": "3", "locations": "/migrations",
            "outOfOrder": "yes", "ignoreMissing": False, "baselineOnMigrate": True, "baselineVersion": 2,
            "waitTimeout": "1m", "connectTimeout": 3, "lockWait": "30s", "lockTimeout": "250ms",
            "lockRetries": 0, "statementTimeout": "1h30m", "logFormat": "text", "log": "debug",
            "batchSize": 500, "batchTimeout": "25s", "batchPause": "100ms", "maxReplicationLag": 0,
            "batchMax": "5000", "lint": "warn", "lintSmallRows": 500, "lintSmallSize": "8MB",
            "lintAllow": "2:lock-index-not-concurrent;3:compat-rename",
            "validateNaming": False, "executeInTransaction": True, "otherSchemas": "audit,reports",
            "createSchemas": "yes", "installedBy": "release-pipeline",
        },
        "app": {"name": "shop", "version": "1.4.2"},
        "contract": {"settle": "5s", "wait": "1m"},
        "placeholders": {"owner": "app_owner", "Days": 7},
        "rollback": {"undo": {"enabled": True, "contract": True, "cronJob": True}},
    }
    objects = render(values)
    job = migrate_job(objects)
    names = {e["name"] for e in pod_spec(job)["containers"][0]["env"]}
    # 20 as before, 5 backfill settings, the app, its version, the settle, 4 lint settings
    # and the 5 of the Flyway drop-in.
    assert len([n for n in names if n.startswith("SCHEMAGATE_")]) == 37, sorted(names)
    # The migrate and contract Jobs, the undo Job and CronJob, the test Pod.
    assert assert_runs_to_unavailable(objects, tmp_path, exit_codes) == 5


def test_control_a_misspelt_setting_exits_78(tmp_path: Path, exit_codes) -> None:
    """The control: the same run with one misspelt variable must fail, with 78."""
    objects = render({"database": {"existingSecret": "db"}, "extraEnv": [{"name": "SCHEMAGATE_DEADLNE", "value": "5m"}]})
    kubelet = Kubelet(tmp_path, objects)
    (_, spec, container), *_ = containers(objects)
    result = kubelet.run(spec, container)
    config = next(c["code"] for c in exit_codes if c["name"] == "config")
    assert result.returncode == config, result.stderr[-2000:]
    assert "SCHEMAGATE_DEADLNE" in result.stderr
