"""Helpers for the chart tests: Helm through helm-python-sdk (Helm v4's Go SDK), rendered
objects as dicts, Kubernetes strict schemas, and a small stand-in for the kubelet that runs the
real schemagate binary with a rendered container's environment and files.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

import helm_python as helm
import kubernetes_validate
import kubernetes_validate.utils as kv_utils
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "chart"
APP_CHART = Path(__file__).resolve().parent / "app-chart"
BIN = Path(os.environ.get("SCHEMAGATE_BIN", REPO / "target" / "debug" / "schemagate"))

RELEASE = "shop"
NAMESPACE = "shop"
KUBE_VERSIONS = ["1.29.0", "1.31.0", "1.33.0", "1.35.0"]

# kubernetes-validate reads the (large) definitions file on every call; the schemas are
# immutable, so read each once.
kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)


def ci_value_files() -> list[Path]:
    files = sorted((CHART / "ci").glob("*-values.yaml"))
    assert files, "chart/ci/*-values.yaml: no value sets"
    return files


def load_values(path: Path) -> dict[str, Any]:
    """A values file as Helm reads it (`-f path`)."""
    return helm.values_from_yaml(path.read_text())


def render_raw(values: dict[str, Any] | None = None, chart: Path = CHART) -> dict[str, str]:
    """Template path -> rendered text, offline (`helm template`)."""
    with helm.Chart.load(chart) as loaded:
        return loaded.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render(values: dict[str, Any] | None = None, chart: Path = CHART) -> list[dict[str, Any]]:
    """Every rendered Kubernetes object (NOTES.txt left out)."""
    objects = []
    for path, text in render_raw(values, chart).items():
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__source__", path)
                objects.append(doc)
    return objects


def strip(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "__source__"}


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {[o['metadata']['name'] for o in found]}"
    return found[0]


def hook_job(objects: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    """The Job named `<release>-schemagate-<suffix>`: `migrate` (pre hook) or `contract` (post)."""
    found = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"].endswith(f"-{suffix}")]
    assert len(found) == 1, f"expected one -{suffix} Job, got {[o['metadata']['name'] for o in objects if o['kind'] == 'Job']}"
    return found[0]


def migrate_job(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return hook_job(objects, "migrate")


def contract_job(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return hook_job(objects, "contract")


def kinds(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] in ("Job", "Deployment", "StatefulSet", "DaemonSet"):
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    raise AssertionError(f"{obj['kind']} has no pod spec")


def pod_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Pod", "Job", "Deployment", "CronJob")]


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def env_dict(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env") or []}


def validate_k8s(obj: dict[str, Any], version: str) -> None:
    """Strict validation (unknown fields are errors) against that Kubernetes version."""
    kubernetes_validate.validate(strip(obj), version, strict=True)


def exit_code_table() -> list[dict[str, Any]]:
    """The binary's own table: `schemagate version --exit-codes --format json`."""
    out = subprocess.run(
        [str(BIN), "version", "--exit-codes", "--format", "json"],
        check=True, capture_output=True, text=True, timeout=30,
    )
    table = json.loads(out.stdout)
    assert isinstance(table, list) and table, out.stdout
    return table


def mutated_chart(tmp_path: Path, template: str, old: str, new: str) -> Path:
    """A copy of the chart with `old` replaced by `new` in templates/`template`, for the
    controls that prove a test would catch that mistake. `old` must be there."""
    chart = tmp_path / "schemagate"
    shutil.copytree(CHART, chart)
    path = chart / "templates" / template
    text = path.read_text()
    assert old in text, f"{template} no longer holds {old!r}"
    path.write_text(text.replace(old, new))
    return chart


@contextlib.contextmanager
def captured_fd2() -> Iterator[list[str]]:
    """What native code (Helm's Go logger) writes to file descriptor 2 inside the block."""
    lines: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode("utf-8", "replace").splitlines())


def install_dry_run(values: dict[str, Any], chart: Path = CHART) -> tuple[dict[str, Any], list[str]]:
    """`helm install --dry-run=client` through Helm's SDK: the release summary (its manifest
    holds the non-hook objects only) and what Helm logged while sorting the objects."""
    with helm.Chart.load(chart) as loaded, helm.Config(namespace=NAMESPACE) as cfg:
        with captured_fd2() as log:
            release = cfg.install(loaded, RELEASE, values, namespace=NAMESPACE, dry_run="client")
    return release, log


# ---------------------------------------------------------------- durations (SPEC §2)

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")


def duration_seconds(text: str) -> float:
    text = text.strip()
    if text.isdigit():
        return float(text)
    m = _DURATION.match(text)
    assert m and text, f"{text!r} is not a duration"
    h, mi, s, ms = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s + ms / 1000


# ---------------------------------------------------------------- a stand-in kubelet

# What the image provides (SPEC §9): its environment and its bundled scripts.
IMAGE_ENV = {"SCHEMAGATE_DEFAULT_LOCATIONS": "/migrations"}
IMAGE_FILES = {"/migrations": REPO / "sql"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.lru_cache(maxsize=None)
def pki() -> dict[str, str]:
    """A throwaway CA certificate and a client certificate and key, made with openssl."""
    out = Path(tempfile.mkdtemp(prefix="schemagate-chart-pki-"))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(out / "tls.key"), "-out", str(out / "tls.crt"),
         "-days", "2", "-subj", "/CN=schemagate chart test"],
        check=True, capture_output=True, timeout=60,
    )
    pem = {name: (out / name).read_text() for name in ("tls.crt", "tls.key")}
    shutil.rmtree(out)
    return {"ca.crt": pem["tls.crt"], **pem}


class Kubelet:
    """Enough of the kubelet to start a rendered container with the real binary: env values,
    `secretKeyRef` (answered by variable name), Secret and ConfigMap volumes (as files), the
    image's environment and bundled scripts. Every database address points at a closed port
    on 127.0.0.1, so a run that parses its settings ends with 69 (unavailable), and one that
    does not ends with 78 (config)."""

    def __init__(self, root: Path, objects: list[dict[str, Any]]):
        self.root = root
        self.objects = objects
        self.port = closed_port()
        self.url = f"postgres://app:pw@127.0.0.1:{self.port}/app"

    def secret_value(self, var: str) -> str:
        return {
            "PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "app",
            "PGPASSWORD": "pw", "PGDATABASE": "app",
            "SCHEMAGATE_DATABASE_URL": self.url, "DATABASE_URL": self.url,
            # metrics.otlp.headersSecret's headers
            "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20t0ken",
        }.get(var, "x")

    def file_content(self, name: str) -> str:
        fake = {
            "uri": self.url, "host": "127.0.0.1", "port": str(self.port), "username": "app",
            "user": "app", "password": "pw", "dbname": "app", "database": "app",
            # metrics.pushgateway's bearer token
            "token": "t0ken",
        }
        if name in fake:
            return fake[name]
        if name in pki():
            return pki()[name]
        raise AssertionError(f"no fake content for a mounted Secret file named {name!r}")

    def materialise(self, spec: dict[str, Any], container: dict[str, Any]) -> dict[str, Path]:
        """mountPath -> a local folder holding what Kubernetes would mount there."""
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        mounts: dict[str, Path] = {}
        for m in container.get("volumeMounts") or []:
            vol = volumes.get(m["name"])
            assert vol is not None, f"volumeMount {m['name']} has no volume in the Pod"
            local = self.root / "volumes" / m["name"]
            local.mkdir(parents=True, exist_ok=True)
            if "secret" in vol:
                items = vol["secret"].get("items")
                assert items, f"Secret volume {m['name']} mounts every key; the chart maps keys"
                for item in items:
                    (local / item["path"]).write_text(self.file_content(item["path"]))
            elif "configMap" in vol:
                cms = [o for o in self.objects if o["kind"] == "ConfigMap"
                       and o["metadata"]["name"] == vol["configMap"]["name"]]
                if cms:
                    for key, text in (cms[0].get("data") or {}).items():
                        (local / key).write_text(text)
                else:  # an existing ConfigMap: stand in with the repository's scripts
                    for f in (REPO / "sql").iterdir():
                        shutil.copy(f, local / f.name)
            mounts[m["mountPath"]] = local
        for path, local in IMAGE_FILES.items():
            mounts.setdefault(path, local)
        return mounts

    def environment(self, spec: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
        mounts = self.materialise(spec, container)

        def local_path(value: str) -> str:
            for mount, local in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
                if value == mount or value.startswith(mount + "/"):
                    return str(local) + value[len(mount):]
            return value

        env = dict(IMAGE_ENV)
        for e in container.get("env") or []:
            if "value" in e:
                env[e["name"]] = e["value"]
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                assert ref["name"] and ref["key"], e
                env[e["name"]] = self.secret_value(e["name"])
        env = {k: local_path(v) for k, v in env.items()}
        # The network is the test's: every address is a closed local port.
        if "PGHOST" in env:
            env["PGHOST"] = "127.0.0.1"
        if "PGPORT" in env:
            env["PGPORT"] = str(self.port)
        env["SCHEMAGATE_WAIT_TIMEOUT"] = "0s"
        env["HOSTNAME"] = f"{RELEASE}-migrate-x7k2p"
        return env

    def run(self, spec: dict[str, Any], container: dict[str, Any]) -> subprocess.CompletedProcess:
        assert container.get("command") is None, "the image's ENTRYPOINT must stay"
        env = self.environment(spec, container)
        return subprocess.run(
            [str(BIN), *container.get("args", [])], env=env, cwd=self.root,
            capture_output=True, text=True, timeout=60,
        )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
