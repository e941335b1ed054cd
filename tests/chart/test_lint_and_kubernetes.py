"""Helm's linter (strict) on every ci/ value set, and every rendered object against the
Kubernetes API schemas of 1.29, 1.31, 1.33 and 1.35 in strict mode (unknown fields fail)."""

from __future__ import annotations

from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest

from chartlib import CHART, KUBE_VERSIONS, ci_value_files, load_values, mutated_chart, render, validate_k8s, migrate_job

CI = ci_value_files()


@pytest.mark.parametrize("values_file", CI, ids=lambda p: p.name)
def test_helm_lint_strict_is_clean(values_file: Path) -> None:
    report = helm.lint(CHART, load_values(values_file), strict=True)
    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    # Severity 2 is a warning, 3 an error; strict lint fails on both. Info (1) is advice.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", CI, ids=lambda p: p.name)
def test_every_object_is_valid_kubernetes(values_file: Path, version: str) -> None:
    objects = render(load_values(values_file))
    assert objects
    for obj in objects:
        validate_k8s(obj, version)


def test_strict_validation_rejects_an_unknown_field() -> None:
    # The control for the test above: a misspelt Job field must not pass.
    job = migrate_job(render(load_values(CHART / "ci" / "cloudnativepg-values.yaml")))
    job["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicyy"] = "File"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(job, KUBE_VERSIONS[0])


def test_lint_reports_a_broken_template(tmp_path: Path) -> None:
    # The control for the lint test: a template error is reported as data, not swallowed.
    chart = mutated_chart(
        tmp_path, "_helpers.tpl", "backoffLimit: {{ $.Values.job.backoffLimit }}", "backoffLimit: {{ $.Values.job.backoffLimit"
    )
    report = helm.lint(chart, load_values(CHART / "ci" / "cloudnativepg-values.yaml"), strict=True)
    assert report["errors"] or [m for m in report["messages"] if m["severity"] >= 2]
