"""A pytest plugin: under CI (``CI`` set to true) a skipped test fails, unless it is marked ``gpu``.

A skip on a clean clone hides a test that did not run; the suite ships every fixture it
needs, so the only accepted reason to skip is the machine's accelerator (``@pytest.mark.gpu``:
needs a CUDA device, or needs its absence). Expected failures (xfail) are left alone.
A whole module skipped while it is collected (``pytest.importorskip`` at its top, say, when
an extra is not installed) fails too: a module has no gpu mark to excuse it.
"""

from __future__ import annotations

import os

import pytest

TRUE = {"1", "true", "yes", "on"}


def strict() -> bool:
    """True when skips count as failures (CI=true)."""
    return os.environ.get("CI", "").strip().lower() in TRUE


def _fail(report) -> None:
    """Turn a skip report into a failure that keeps the skip's reason."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI, which counts as a failure (only gpu-marked tests may skip): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and strict() and item.get_closest_marker("gpu") is None:
        _fail(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and strict():
        _fail(report)
