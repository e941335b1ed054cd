"""Fixtures shared by the chart tests. Run with `make test-chart`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import helm_python as helm
import pytest

import chartlib


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI=true nothing may skip: a skipped test there is a failed one."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not chartlib.BIN.is_file():
        raise pytest.UsageError(f"{chartlib.BIN} is missing: run `cargo build --bins` first")


@pytest.fixture(scope="session")
def exit_codes() -> list[dict]:
    return chartlib.exit_code_table()


@pytest.fixture(scope="session")
def app_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture application chart with chart/ as its file:// dependency, resolved the way
    `helm dependency update` does it, in a copy that keeps the relative path intact."""
    root = tmp_path_factory.mktemp("tree")
    shutil.copytree(chartlib.CHART, root / "chart")
    app = root / chartlib.APP_CHART.relative_to(chartlib.REPO)
    shutil.copytree(chartlib.APP_CHART, app, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    helm.dependency_update(app)
    assert (app / "charts").is_dir() and any((app / "charts").iterdir()), os.listdir(app)
    return app
