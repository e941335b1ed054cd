"""Chart.yaml: what Helm and the chart's users read before anything renders."""

from __future__ import annotations

import tomllib

import helm_python as helm
import pytest

from chartlib import CHART, REPO


@pytest.fixture(scope="module")
def metadata() -> dict:
    with helm.Chart.load(CHART) as chart:
        return chart.metadata


def test_chart_identity(metadata: dict) -> None:
    assert metadata["apiVersion"] == "v2"
    assert metadata["name"] == "schemagate"
    assert metadata["type"] == "application"
    assert metadata["home"].startswith("https://")
    assert metadata["sources"] and all(s.startswith("https://") for s in metadata["sources"])
    assert metadata.get("description")


def test_app_version_is_the_crate_version(metadata: dict) -> None:
    crate = tomllib.loads((REPO / "Cargo.toml").read_text())["package"]["version"]
    assert metadata["appVersion"] == crate


@pytest.mark.parametrize(
    ("kube_version", "admitted"),
    [("v1.25.16", False), ("v1.26.0", True), ("v1.29.3-eks-adc7111", True), ("v1.35.0", True)],
)
def test_kube_version_admits_clusters_with_pod_failure_policy(
    metadata: dict, kube_version: str, admitted: bool, tmp_path
) -> None:
    # podFailurePolicy is beta and on by default from 1.26. Helm checks kubeVersion with
    # Masterminds semver, the library behind the template function semverCompare: evaluate
    # the chart's constraint with it inside Helm.
    probe = tmp_path / "probe"
    (probe / "templates").mkdir(parents=True)
    (probe / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (probe / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe}\n"
        f"data: {{admitted: {{{{ semverCompare {metadata['kubeVersion']!r} {kube_version!r} | quote }}}}}}\n"
        .replace("'", '"')
    )
    with helm.Chart.load(probe) as chart:
        out = chart.render()["probe/templates/cm.yaml"]
    assert f'admitted: "{str(admitted).lower()}"' in out, out


def test_every_ci_value_set_is_a_real_file() -> None:
    names = sorted(p.name for p in (CHART / "ci").iterdir())
    assert names and all(n.endswith("-values.yaml") for n in names), names


def test_chart_readme_and_notes_exist() -> None:
    assert (CHART / "README.md").stat().st_size > 2000
    assert (CHART / "templates" / "NOTES.txt").is_file()
    assert (CHART / "templates" / "_helpers.tpl").is_file()
