import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --runslow to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def npu_without_fallback():
    """The simulated NPU with its host fallback off, before and after the test (an op it lacks raises)."""
    import framework
    framework.npu.set_host_fallback(False)
    yield
    framework.npu.set_host_fallback(False)
