import shutil

import pytest


@pytest.fixture(autouse=True)
def _drop_weight_files(request):
    """Delete a test's temporary folder as soon as it has passed: the applications' weight files
    are up to 1.4 GB each, and a run writes about 8 GB of them."""
    yield
    tmp_path = request.node.funcargs.get("tmp_path")
    report = getattr(request.node, "_call_report", None)
    if tmp_path is not None and report is not None and report.passed:
        shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item._call_report = report
