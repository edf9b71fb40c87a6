"""Per-parameter state helpers shared by the optimizers: step counters and zero-initialised buffers."""
import numpy as np

from .._backends import array_module
from .._tensor import Tensor


def new_step():
    """A float32 0-d step counter, as PyTorch 2.x keeps in ``state['step']``."""
    return Tensor._wrap(np.zeros((), np.float32))


def advance(step):
    """Count one more step in place and return the new count as a Python float."""
    count = step._data
    count += 1  # in place: a 0-d array stays the same array
    step._bump_version()
    return float(count)


def zeros_like(p):
    """A zero buffer shaped and typed like ``p`` (bfloat16 kept as bits)."""
    return Tensor._wrap(array_module(p._data).zeros(p._data.shape, p._data.dtype), p.dtype, p.device)


def full_like(p, value):
    """A buffer shaped and typed like ``p`` filled with ``value``."""
    t = zeros_like(p)
    t.fill_(value)
    return t


def data(t):
    """The raw array of an optional state tensor."""
    return None if t is None else t._data


def bump(*tensors):
    """Bump the version counters of tensors written in place by a kernel."""
    for t in tensors:
        if t is not None:
            t._bump_version()
