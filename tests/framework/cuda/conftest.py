"""Fixtures for the cuda tests: a host emulator for the CUDA C kernel sources, and device "cuda" on numpy.

Both live in ``standin.py`` (the conformance candidate ``framework_on_cuda`` uses them too).
``emulator`` compiles a kernel source as C++ with g++ (``__global__`` functions become plain functions,
thread and block indices become globals) and runs it one thread at a time on numpy arrays. The grid-stride
kernels then cover every item with one thread; block-per-row kernels run block after block with one thread,
their shared-memory reductions collapsing to a single step. That checks each kernel's arithmetic and
indexing on a machine without a GPU; it cannot check races, which need the GPU tests.

``numpy_cuda`` serves device "cuda:0" with the cuda backend's kernel table built for numpy (the CPU kernels
re-bound, with the generic loop replacements), so the framework side runs here as it would on a GPU.
"""
import shutil

import pytest

import standin
from standin import DeviceArray  # noqa: F401 (the tests import it from here)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """An ``Emulator`` (skips without g++)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is needed to run the CUDA sources on the host")
    return standin.Emulator(str(tmp_path_factory.mktemp("cuda_emulator")))


@pytest.fixture
def numpy_cuda(monkeypatch):
    """Device "cuda:0" backed by numpy arrays and the numpy-built cuda kernel table; returns that table."""
    pytest.importorskip("scipy.special")
    return standin.install(monkeypatch)
