"""Fixtures for the cuda tests: a host emulator for the CUDA C kernel sources, and device "cuda" on numpy.

``emulator`` compiles a kernel source as C++ with g++ (``__global__`` functions become plain functions,
thread and block indices become globals) and runs it one thread at a time on numpy arrays. The grid-stride
kernels then cover every item with one thread; block-per-row kernels run block after block with one thread,
their shared-memory reductions collapsing to a single step. That checks each kernel's arithmetic and
indexing on a machine without a GPU; it cannot check races, which need the GPU tests.

``numpy_cuda`` serves device "cuda:0" with the cuda backend's kernel table built for numpy (the CPU kernels
re-bound, with the generic loop replacements), so the framework side runs here as it would on a GPU.
"""
import ctypes
import hashlib
import os
import shutil
import subprocess

import numpy as np
import pytest

import framework
import framework._devices as devices
from framework import _backends
from framework.ops.registry import REGISTRY

_PRELUDE = r"""
#include <cmath>
#include <cstring>
struct Dim3 { unsigned x, y, z; };
extern "C" { Dim3 blockIdx = {0, 0, 0}, threadIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1}; }
#define __global__
#define __device__
#define __shared__ static
inline void __syncthreads() {}
inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, sizeof d); return d; }
using std::exp; using std::log; using std::sqrt;
"""


class Emulator:
    """Replacements for ``kernels.cuda._raw.launch`` / ``launch_rows`` that run the sources on the host."""

    def __init__(self, workdir):
        self.workdir, self.libraries = workdir, {}

    def library(self, source, dtype):
        from kernels.cuda._raw import typed_source
        code = _PRELUDE + typed_source(source, dtype)
        key = hashlib.sha1(code.encode()).hexdigest()[:16]
        if key not in self.libraries:
            src, lib = os.path.join(self.workdir, f"{key}.cpp"), os.path.join(self.workdir, f"{key}.so")
            with open(src, "w") as f:
                f.write(code)
            subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", lib, src], check=True, capture_output=True)
            self.libraries[key] = ctypes.CDLL(lib)
        return self.libraries[key]

    @staticmethod
    def _args(args):
        out = []
        for a in args:
            if isinstance(a, np.ndarray):
                assert a.flags.c_contiguous, "kernels take contiguous arrays"
                out.append(ctypes.c_void_p(a.ctypes.data))
            elif isinstance(a, float):  # CuPy passes Python and numpy floats as double
                out.append(ctypes.c_double(a))
            else:
                out.append(ctypes.c_longlong(int(a)))
        return out

    def launch(self, source, name, dtype, total, *args):
        lib = self.library(source, dtype)
        getattr(lib, name)(ctypes.c_longlong(total), *self._args(args))

    def launch_rows(self, source, name, dtype, rows, *args):
        lib = self.library(source, dtype)
        block = type(ctypes.c_uint()).in_dll(lib, "blockIdx")  # Dim3.x is its first field
        for b in range(rows):
            block.value = b
            getattr(lib, name)(*self._args(args))


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """An ``Emulator`` (skips without g++)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is needed to run the CUDA sources on the host")
    return Emulator(str(tmp_path_factory.mktemp("cuda_emulator")))


class DeviceArray(np.ndarray):
    """The stand-in's "GPU memory": not a plain ndarray, so ``Tensor._wrap`` does not move it again."""


@pytest.fixture
def numpy_cuda(monkeypatch):
    """Device "cuda:0" backed by numpy arrays and the numpy-built cuda kernel table; returns that table."""
    special = pytest.importorskip("scipy.special")
    from kernels.cuda._loops import generic_kernels, generic_loops
    from kernels.cuda._rebind import rebind
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
    return table
