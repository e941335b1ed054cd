"""The chart's documentation names values that exist and the exit codes the binary has."""

from __future__ import annotations

import re

import yaml

from chartlib import CHART, REPO

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
CHART_README = (CHART / "README.md").read_text()
README = (REPO / "README.md").read_text()
# Kubernetes types and free-form maps: documented as a whole, not key by key.
NOT_DESCENDED = {"resources", "podSecurityContext", "containerSecurityContext", "podAnnotations", "podLabels"}


def kubernetes_section() -> str:
    start = README.index("\n## Kubernetes\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def leaves(values: dict, path: str = "") -> list[str]:
    out = []
    for key, value in values.items():
        if isinstance(value, dict) and value and key not in NOT_DESCENDED:
            out += leaves(value, f"{path}{key}.")
        else:
            out.append(path + key)
    return out


def resolves(path: str) -> bool:
    node = VALUES
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_chart_readme_documents_every_value() -> None:
    missing = [p for p in leaves(VALUES) if f"`{p}`" not in CHART_README]
    assert missing == []


def value_references(text: str) -> set[str]:
    tops = "|".join(re.escape(k) for k in VALUES)
    return set(re.findall(rf"`((?:{tops})(?:\.[A-Za-z][A-Za-z0-9]*)+)", text))


def test_documented_value_paths_exist() -> None:
    refs = value_references(CHART_README) | value_references(kubernetes_section())
    assert len(refs) > 20
    assert sorted(r for r in refs if not resolves(r)) == []


def codes_in(sentence: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", sentence)]


def test_documented_fail_fast_codes_are_the_binary_codes(exit_codes) -> None:
    want = sorted(c["code"] for c in exit_codes if not c["retryable"] and c["code"] != 0)
    section = kubernetes_section()
    m = re.search(r"the codes a retry cannot help:\s*([\d,\s]+and \d+)", section)
    assert m, "README: the Kubernetes section lists the fail-fast codes"
    assert codes_in(m.group(1)) == want
    m = re.search(r"`FailJob` on ([\d, ]+)", CHART_README)
    assert m and codes_in(m.group(1)) == want


def test_kubernetes_section_covers_the_operator_questions() -> None:
    section = kubernetes_section()
    for topic in ("CloudNativePG", "pre-install Secret", "Argo CD", "PreSync", "Service meshes",
                  "termination message", "unproven"):
        assert topic in section, topic
