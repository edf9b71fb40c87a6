"""Device type -> kernel table. Backends are tables of raw-array kernels, never if-chains.

The cpu and npu backends hold numpy arrays; the cuda backend holds CuPy arrays. The helpers below are the
few places the framework touches raw arrays outside a kernel (copies between devices, in-place writes,
bfloat16 widening); they tell CuPy arrays apart by type, so CuPy is imported only once one exists.
"""
import importlib

import numpy as np

from kernels import cpu as _cpu


class _Lazy:
    """A backend's kernel table imported on first lookup, so importing ``framework`` stays fast."""

    def __init__(self, module):
        self.module, self.table = module, None

    def get(self, name):
        """The kernel ``name``, or None."""
        if self.table is None:
            self.table = importlib.import_module(self.module).KERNELS
        return self.table.get(name)


TABLES = {"cpu": _cpu.KERNELS, "npu": _Lazy("kernels.npu"), "cuda": _Lazy("kernels.cuda")}


def kernel_for(device, name):
    """The kernel ``name`` of ``device``'s backend; a clear error names the op and the device if it has none."""
    table = TABLES.get(device.type)
    if table is None:
        raise RuntimeError(f"{device.type} backend is not available (cannot run '{name}' on {device})")
    kernel = table.get(name)
    if kernel is None:
        raise NotImplementedError(f"Could not run '{name}' with arguments from the '{device.type}' backend: "
                                  f"the {device.type} kernel table has no '{name}'")
    return kernel


def is_device_array(array):
    """Whether ``array`` is a CuPy array (GPU memory); never imports CuPy."""
    return type(array).__module__.startswith("cupy")


def array_module(array):
    """The module whose functions work on ``array``: numpy, or cupy for a device array."""
    if is_device_array(array):
        import cupy
        return cupy
    return np


def host_array(array):
    """``array`` in host memory: a device array is copied back (synchronising), a numpy array returned as is."""
    return array.get() if is_device_array(array) else array


def copy_array(array, device):
    """A C-contiguous copy of ``array`` (host or device) in ``device``'s memory."""
    if device.type == "cuda":
        import cupy
        with cupy.cuda.Device(device.index or 0):
            return cupy.array(array, order="C")
    return np.array(host_array(array), copy=True, order="C")


def bfloat16_to_float32(bits):
    """float32 values of raw bfloat16 bits, on the array's own device."""
    if is_device_array(bits):
        from kernels.cuda import bfloat16_bits_to_float32
        return bfloat16_bits_to_float32(bits)
    from kernels.cpu.bfloat16 import bfloat16_bits_to_float32
    return bfloat16_bits_to_float32(bits)


def float32_to_bfloat16(values):
    """Raw bfloat16 bits of float32 ``values`` (round to nearest even), on the array's own device."""
    if is_device_array(values):
        from kernels.cuda import float32_to_bfloat16_bits
        return float32_to_bfloat16_bits(values)
    from kernels.cpu.bfloat16 import float32_to_bfloat16_bits
    return float32_to_bfloat16_bits(values)


def data_pointer(array):
    """Address of ``array``'s first element, in host or device memory."""
    return array.data.ptr if is_device_array(array) else array.__array_interface__["data"][0]
