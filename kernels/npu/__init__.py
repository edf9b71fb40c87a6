"""NPU kernels: ops lowered to ``npu_sim`` programs and run on the simulated AI cores.

``KERNELS`` maps an op's kernel name to a function of raw numpy arrays, as ``kernels.cpu`` does; the
values come out of the simulator (``cube``: GEMMs and convolutions on the cube, ``vector``: elementwise ops
and optimizer updates on the vector unit, ``rows``: reductions and softmax on the vector unit, ``gather``: the
cross-entropy's class pick and place as DMA programs; comparisons, ``where`` and ``logical_not`` with an
analytic vector-unit cost) and each call's cost goes to the collectors of ``profiler``.

An op the NPU cannot run (no kernel, or arguments its units lack, e.g. float64) raises
NotImplementedError naming the op and the device, unless the explicit host fallback is on
(``set_host_fallback``): then the CPU kernel runs on the host, warns once per op, and is recorded
with ``model="host"``.
"""
import warnings

import numpy as np

from kernels import cpu as _cpu
from kernels.cpu import views as _views

from . import cube, gather, pooling, profiler, rows, vector
from ._common import Unsupported
from .profiler import Cost

_fallback = {"on": False}
_warned = set()


def set_host_fallback(enabled):
    """Let ops without an NPU lowering run their CPU kernel on the host (recorded in the profile)."""
    _fallback["on"] = bool(enabled)


def host_fallback_enabled():
    """Whether the host fallback is on."""
    return _fallback["on"]


def _unsupported(name, why):
    return NotImplementedError(f"Could not run '{name}' with arguments from the 'npu' backend: {why} "
                               f"(framework.npu.set_host_fallback(True) runs it on the host instead)")


def _host(name, why, *arrays, **attrs):
    if not _fallback["on"]:
        raise _unsupported(name, why)
    if name not in _warned:
        _warned.add(name)
        warnings.warn(f"'{name}' has no npu kernel for these arguments ({why}); running it on the host CPU "
                      f"(host fallback)", UserWarning, stacklevel=4)
    out = _cpu.KERNELS[name](*arrays, **attrs)
    outs = out if type(out) is tuple else (out,)
    moved = sum(a.nbytes for a in arrays if isinstance(a, np.ndarray)) + sum(np.asarray(o).nbytes for o in outs)
    return profiler.emit(name, out, Cost(gm_bytes=moved, model="host"))


def _guarded(name, kernel):
    """``kernel`` with arguments the NPU lacks turned into the host fallback or a clear error."""
    def run(*arrays, **attrs):
        try:
            return kernel(*arrays, **attrs)
        except Unsupported as e:
            if name not in _cpu.KERNELS:
                raise _unsupported(name, str(e)) from None
            return _host(name, str(e), *arrays, **attrs)
    run.__name__, run.__doc__ = name, kernel.__doc__
    return run


class KernelTable(dict):
    """The NPU's kernels; ``get`` of an op it lacks gives the host fallback while that is enabled."""

    def get(self, name, default=None):
        """The kernel ``name``; the host fallback for a CPU-only op when enabled; else ``default``."""
        kernel = dict.get(self, name)
        if kernel is not None:
            return kernel
        if _fallback["on"] and name in _cpu.KERNELS:
            why = f"the npu kernel table has no '{name}'"
            return lambda *arrays, **attrs: _host(name, why, *arrays, **attrs)
        return default


# views change shape and strides only: no device work, so the CPU's view kernels serve (NPU arrays live in host memory)
_METADATA = ("view", "reshape", "permute", "expand", "slice", "diagonal", "as_strided", "unfold", "split_views")

KERNELS = KernelTable({_name: _views.KERNELS[_name] for _name in _METADATA})
for _module in (cube, vector, rows, gather, pooling):
    KERNELS.update({_name: _guarded(_name, _k) for _name, _k in _module.KERNELS.items()})
