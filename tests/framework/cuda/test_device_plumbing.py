"""The framework side of the cuda backend without a GPU: device "cuda" served by a numpy stand-in.

The stand-in is the cuda backend's own kernel table built for numpy (the CPU kernels re-bound, with the
generic loop replacements; the CUDA C loops are covered by ``test_cuda_sources``). With it, the GPU tests
of ``test_on_gpu`` run here: device propagation through ops, autograd and optimizers, ``.numpy()``'s
error, printing, mixing devices, bfloat16, ``save``/``load(map_location=...)``. What the stand-in cannot
show is CuPy's own behaviour (its API and numerics); that needs the GPU run.
"""
import pytest

import framework

pytest.importorskip("scipy.special")
gpu = pytest.importorskip("test_on_gpu")  # this folder is on sys.path (pytest's rootdir-relative import)


@pytest.fixture(autouse=True)
def _standin(numpy_cuda):
    """Every test here runs with device "cuda" served by the numpy stand-in (``conftest.numpy_cuda``)."""


@pytest.mark.parametrize("dtype", [framework.float32, framework.float64])
@pytest.mark.parametrize("name", sorted(gpu.OPS))
def test_op_on_standin(name, dtype):
    gpu.test_op_matches_cpu(name, dtype)


def test_embedding_and_cross_entropy_on_standin():
    gpu.test_embedding_and_cross_entropy_backward()


@pytest.mark.parametrize("optimizer", [0, 1, 3])
def test_training_on_standin(optimizer):
    gpu.test_training_steps_match_cpu(gpu.OPTIMIZERS[optimizer])


def test_device_semantics_on_standin():
    gpu.test_device_semantics()


def test_save_load_on_standin():
    gpu.test_save_and_load_with_map_location()
