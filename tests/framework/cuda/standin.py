"""Device "cuda:0" served by numpy: the cuda backend's own kernel table built for numpy, on a machine without a GPU.

The table is the CPU kernels re-bound to numpy with the generic loop replacements (``kernels.cuda._loops``),
the same statement of each kernel that CuPy runs on a GPU; ``framework.cuda`` reports one device, and moves
between devices copy into ``DeviceArray`` (the stand-in's "GPU memory"). Used by ``conftest.numpy_cuda`` and
by the conformance candidate ``framework_on_cuda``. ``Emulator`` runs CUDA C kernel sources on the host (see
``conftest.py``).
"""
import ctypes
import hashlib
import os
import subprocess

import numpy as np

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


class DeviceArray(np.ndarray):
    """The stand-in's "GPU memory": not a plain ndarray, so ``Tensor._wrap`` does not move it again."""


def copy_array(array, device):
    """The stand-in's ``_backends.copy_array``: host copies, typed ``DeviceArray`` on the cuda side."""
    host = np.array(array, copy=True, order="C")  # subok=False: a plain ndarray
    return host.view(DeviceArray) if device.type == "cuda" else host


def install(patch, emulator=None):
    """Serve device "cuda" with the stand-in; ``patch`` is a ``pytest.MonkeyPatch``. Returns the kernel table.

    With an ``Emulator``, the random kernels (``kernels/cuda/rng.py``) join the table, their CUDA source run
    on the host.
    """
    import scipy.special
    from kernels.cuda._loops import generic_kernels, generic_loops
    from kernels.cuda._rebind import rebind
    table, _ = rebind(np, generic_loops(np, scipy.special))
    table.update(generic_kernels(np))
    if emulator is not None:
        from kernels.cuda import rng
        table.update(rng.KERNELS)
        patch.setattr(rng, "launch", emulator.launch)
        patch.setattr(rng, "_empty", lambda shape, dtype: np.empty(shape, dtype).view(DeviceArray))
    patch.setitem(_backends.TABLES, "cuda", table)
    for op in REGISTRY.values():
        patch.setattr(op, "kernels", {k: v for k, v in op.kernels.items() if k != "cuda"})
    cuda = framework.cuda
    patch.setattr(cuda, "_lazy_init", lambda: None)
    patch.setattr(cuda, "current_device", lambda: 0)
    patch.setattr(cuda, "device_count", lambda: 1)
    patch.setattr(cuda, "is_available", lambda: True)
    patch.setattr(devices, "copy_array", copy_array)
    patch.setattr(_backends, "copy_array", copy_array)
    return table
