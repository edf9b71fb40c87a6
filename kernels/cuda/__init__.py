"""CUDA kernels on CuPy arrays: the CPU kernel table re-bound to CuPy, plus CUDA kernels where they pay.

``KERNELS`` has every name of ``kernels.cpu.KERNELS``, each resolved in this order:
1. an explicit kernel from a public module of this package (``softmax``, the JIT's ``fused``, ...);
2. the CPU kernel re-bound to CuPy (``_rebind``), its Numba loops replaced by the ``LOOPS`` of this
   package's modules (CUDA kernels: conv, pooling, optim) or by CuPy equivalents (``_loops``);
3. for a kernel that still reaches a Numba loop (special functions, RNN layers, scatter_reduce), the
   CPU kernel on host copies, with a warning the first time (``_host``).
The table is built on first access to ``KERNELS`` (importing CuPy then), so the modules of this package
import without CuPy: tests compile and run their CUDA sources without a GPU.
"""
import importlib
import pkgutil

import kernels.cpu as _cpu

from ._host import on_host
from ._loops import generic_kernels, generic_loops
from ._rebind import merge_loops, reaches_numba, rebind


def explicit():
    """The ``LOOPS`` and ``KERNELS`` of this package's public modules, each merged (a name given twice is an error)."""
    loops, table = {}, {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        merge_loops(loops, getattr(module, "LOOPS", {}), info.name)
        clash = set(getattr(module, "KERNELS", {})) & set(table)
        if clash:
            raise RuntimeError(f"kernel names defined twice: {sorted(clash)} (in {info.name})")
        table.update(getattr(module, "KERNELS", {}))
    return loops, table


def build(xp, special):
    """(kernel table, the re-bound CPU modules' globals) for array module ``xp``, as described above."""
    loops, table = explicit()
    merge_loops(loops, generic_loops(xp, special), "_loops")
    twins, spaces = rebind(xp, loops)
    full = {name: on_host(name, kernel) if reaches_numba(twins[name]) else twins[name]
            for name, kernel in _cpu.KERNELS.items()}
    full.update(generic_kernels(xp))
    full.update(table)
    # the JIT's generated kernels (fused.py declares no KERNELS); the CPU twin would run Numba on host copies
    from .fused import fused_elementwise
    full["fused_elementwise"] = fused_elementwise
    # graph mode's call_absent / call_with_arrays twins must find their targets (optimizer updates, indexing)
    # in this table, not in the CPU one
    spaces["kernels.cpu.graph"]["_TARGETS"] = full
    return full, spaces


_built = {}


def __getattr__(name):
    # KERNELS and the bfloat16 converters exist once CuPy is imported (see the module docstring)
    if name not in ("KERNELS", "bfloat16_bits_to_float32", "float32_to_bfloat16_bits"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _built:
        import cupy
        import cupyx.scipy.special
        table, spaces = build(cupy, cupyx.scipy.special)
        bf16 = spaces["kernels.cpu.bfloat16"]
        _built.update(KERNELS=table, bfloat16_bits_to_float32=bf16["bfloat16_bits_to_float32"],
                      float32_to_bfloat16_bits=bf16["float32_to_bfloat16_bits"])
    return _built[name]
