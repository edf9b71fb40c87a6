"""Indexing kernels: advanced indexing, index_put (with accumulation) and scatter_reduce.

An advanced-indexing ``key`` is a tuple with one entry per leading dim: None for a full slice, else
an integer or bool array (numpy's placement rules for advanced indices are PyTorch's). Accumulating
writes go through flat positions (``np.arange(size)[key]``) and a Numba loop, because ``np.add.at``
is slow and plain fancy assignment drops repeated indices.
"""
import numpy as np

from ._numba import jit

_SUM, _PROD, _MEAN, _AMAX, _AMIN = range(5)
REDUCE_MODES = {"sum": _SUM, "prod": _PROD, "mean": _MEAN, "amax": _AMAX, "amin": _AMIN}


def _numpy_key(key):
    return tuple(slice(None) if k is None else k for k in key)


def flat_positions(shape, key):
    """The flat (row-major) position in an array of ``shape`` of every element ``array[key]`` selects."""
    size = 1
    for s in shape:
        size *= s
    return np.arange(size, dtype=np.int64).reshape(shape)[_numpy_key(key)]


@jit
def _add_at(out, pos, values):
    for i in range(pos.size):
        out[pos[i]] += values[i]


@jit
def _reduce_at(out, pos, values, mode, include_self):
    """Combine ``values`` into ``out[pos]`` with ``mode``; returns the per-position count used by mean."""
    count = np.zeros(out.size, dtype=np.int64)
    if include_self:
        count[:] = 1
    for i in range(pos.size):
        p = pos[i]
        v = values[i]
        if count[p] == 0:
            out[p] = v
        elif mode == 0 or mode == 2:
            out[p] += v
        elif mode == 1:
            out[p] *= v
        elif mode == 3:
            if v > out[p] or v != v:
                out[p] = v
        elif not (v >= out[p]):  # amin; NaN propagates
            out[p] = v
        count[p] += 1
    return count


def _index(x, key):
    return x[_numpy_key(key)]


def _index_put(x, values, key, accumulate):
    out = np.array(x, copy=True, order="C")
    nkey = _numpy_key(key)
    if not accumulate:
        try:
            out[nkey] = values
        except ValueError:
            shape = out[nkey].shape
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} cannot be broadcast to "
                               f"indexing result of shape {list(shape)}") from None
        return out
    pos = flat_positions(out.shape, key)
    try:
        values = np.broadcast_to(values, pos.shape)
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} cannot be broadcast to "
                           f"indexing result of shape {list(pos.shape)}") from None
    flat = out.reshape(-1)
    if out.dtype == np.bool_:
        np.logical_or.at(flat, pos.reshape(-1), values.reshape(-1))
    else:
        _add_at(flat, pos.reshape(-1), np.ascontiguousarray(values, dtype=out.dtype).reshape(-1))
    return out


def _scatter_reduce(x, index, src, dim, reduce, include_self):
    """``x`` with ``src[i]`` combined into ``x[..., index[i], ...]`` along ``dim`` by ``reduce``."""
    out = np.array(x, copy=True, order="C")
    key = tuple(index if d == dim else np.arange(n).reshape((-1,) + (1,) * (index.ndim - d - 1))
                for d, n in enumerate(index.shape))
    pos = flat_positions(out.shape, key).reshape(-1)
    values = np.ascontiguousarray(src[tuple(slice(0, n) for n in index.shape)], dtype=out.dtype).reshape(-1)
    flat = out.reshape(-1)
    mode = REDUCE_MODES[reduce]
    if out.dtype == np.bool_:
        raise RuntimeError(f"scatter_reduce(): reduce={reduce!r} is not supported for bool tensors")
    count = _reduce_at(flat, pos, values, mode, include_self)
    if mode == _MEAN:
        divisor = np.maximum(count, 1).reshape(out.shape)
        if out.dtype.kind == "f":
            out /= divisor.astype(out.dtype)
        else:
            out //= divisor.astype(out.dtype)
    return out


def _nonzero(x):
    return np.argwhere(x).astype(np.int64, copy=False)


KERNELS = {
    "index": _index,
    "index_put": _index_put,
    "scatter_reduce": _scatter_reduce,
    "nonzero": _nonzero,
}
