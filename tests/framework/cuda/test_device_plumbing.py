"""The framework side of the cuda backend without a GPU: device "cuda" served by a numpy stand-in.

The stand-in is the cuda backend's own kernel table built for numpy (the CPU kernels re-bound, with the
generic loop replacements; the CUDA C loops are covered by ``test_cuda_sources``). With it, the GPU tests
of ``test_on_gpu`` run here: device propagation through ops, autograd and optimizers, ``.numpy()``'s
error, printing, mixing devices, bfloat16, ``save``/``load(map_location=...)``. What the stand-in cannot
show is CuPy's own behaviour (its API and numerics); that needs the GPU run.
"""
import numpy as np
import pytest

import framework
import framework._devices as devices
from framework import _backends
from framework.ops.registry import REGISTRY
from kernels.cuda._loops import generic_kernels, generic_loops
from kernels.cuda._rebind import rebind

special = pytest.importorskip("scipy.special")
gpu = pytest.importorskip("test_on_gpu")  # this folder is on sys.path (pytest's rootdir-relative import)


class DeviceArray(np.ndarray):
    """The stand-in's "GPU memory": not a plain ndarray, so ``Tensor._wrap`` does not move it again."""


@pytest.fixture(autouse=True)
def numpy_cuda(monkeypatch):
    """Device "cuda:0" backed by numpy arrays and the numpy-built cuda kernel table."""
    table, _ = rebind(np, generic_loops(np, special))
    table.update(generic_kernels(np))
    monkeypatch.setitem(_backends.TABLES, "cuda", table)
    for op in REGISTRY.values():
        monkeypatch.setattr(op, "kernels", {k: v for k, v in op.kernels.items() if k != "cuda"})
    cuda = framework.cuda
    monkeypatch.setattr(cuda, "_lazy_init", lambda: None)
    monkeypatch.setattr(cuda, "current_device", lambda: 0)
    monkeypatch.setattr(cuda, "device_count", lambda: 1)
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    def copy_array(array, device):
        host = np.array(array, copy=True, order="C")  # subok=False: a plain ndarray
        return host.view(DeviceArray) if device.type == "cuda" else host

    monkeypatch.setattr(devices, "copy_array", copy_array)
    monkeypatch.setattr(_backends, "copy_array", copy_array)


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
