"""CPU kernels on numpy arrays: numpy/BLAS where they are the fastest, Numba for fused and parallel loops.

``KERNELS`` maps an op's kernel name to a function of raw arrays. Every module in this package that
defines a ``KERNELS`` table contributes it, so adding a kernel family is adding a file. Modules must
not import numba at import time (see ``_numba.jit``): importing the framework stays fast.
"""
import importlib
import pkgutil

import numpy as np

# PyTorch never warns on float overflow, division by zero or NaN; a per-call np.errstate costs
# ~2.5 us (twice a small op), so numpy's floating-point warnings are silenced once here.
np.seterr(all="ignore")

from ._memory import keep_freed_buffers  # noqa: E402

keep_freed_buffers()

KERNELS = {}
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    _table = getattr(_module, "KERNELS", None)
    if _table:
        _clash = set(_table) & set(KERNELS)
        if _clash:
            raise RuntimeError(f"kernel names defined twice: {sorted(_clash)} (in {_info.name})")
        KERNELS.update(_table)
