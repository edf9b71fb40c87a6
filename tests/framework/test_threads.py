"""CPU thread counts: ``set_num_threads`` / ``get_num_threads`` and the inter-op pair, with PyTorch's errors, and
the intra-op count reaching OpenBLAS and the loops shared among its threads."""
import os
import subprocess
import sys

import numpy as np
import pytest

import framework
from kernels.cpu import fused, openblas_threads

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def restore_threads():
    before = framework.get_num_threads()
    yield before
    framework.set_num_threads(before)


def test_defaults_are_positive_counts():
    assert isinstance(framework.get_num_threads(), int) and framework.get_num_threads() >= 1
    assert isinstance(framework.get_num_interop_threads(), int) and framework.get_num_interop_threads() >= 1


@pytest.mark.parametrize("bad, message", [(0, "set_num_threads expects a positive integer"),
                                          (-2, "set_num_threads expects a positive integer"),
                                          (1.5, "set_num_threads expects an int, but got float"),
                                          ("2", "set_num_threads expects an int, but got str"),
                                          (True, "set_num_threads expects an int, but got bool")])
def test_bad_counts_raise_as_pytorch_does(bad, message, restore_threads):
    with pytest.raises(RuntimeError, match=message):
        framework.set_num_threads(bad)
    assert framework.get_num_threads() == restore_threads  # nothing changed


def test_bad_counts_match_torch():
    torch = pytest.importorskip("torch")
    for bad in (0, 1.5, "2", True):
        with pytest.raises(RuntimeError) as ours:
            framework.set_num_threads(bad)
        with pytest.raises(RuntimeError) as theirs:
            torch.set_num_threads(bad)
        assert str(ours.value) == str(theirs.value)


def test_one_thread_reaches_openblas_and_the_shared_loops(restore_threads, monkeypatch):
    framework.set_num_threads(1)
    assert framework.get_num_threads() == 1
    if openblas_threads.blas_thread_count() is not None:
        assert openblas_threads.blas_thread_count() == 1
        assert openblas_threads.threads() == 1  # a loop is no longer cut into ranges
    monkeypatch.setattr(fused, "SPLIT_MIN", 1)
    program = (("float32", "float32"), (("add", (0, 1), (), "float32"),), (2,))
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(fused.fused_elementwise(x, x, program=program), x + x)
    a = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    np.testing.assert_allclose((framework.tensor(a) @ framework.tensor(a)).numpy(), a @ a, rtol=1e-5, atol=1e-5)
    framework.set_num_threads(restore_threads)
    assert framework.get_num_threads() == restore_threads
    if openblas_threads.blas_thread_count() is not None:
        assert openblas_threads.blas_thread_count() == restore_threads


def test_interop_count_is_set_once():
    code = ("import framework\n"
            "framework.set_num_interop_threads(3)\n"
            "print(framework.get_num_interop_threads())\n"
            "try:\n"
            "    framework.set_num_interop_threads(2)\n"
            "except RuntimeError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                         text=True, check=True)
    assert out.stdout.splitlines() == ["3", "Error: cannot set number of interop threads after parallel work has "
                                            "started or set_num_interop_threads called"]
    with pytest.raises(RuntimeError, match="set_num_interop_threads expects a positive integer"):
        framework.set_num_interop_threads(0)
