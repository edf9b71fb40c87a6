"""Sorting and searching kernels: sort, topk, unique, searchsorted, and gathers/scatters along a dim."""
import numpy as np


def _argsort(x, dim, descending):
    """Stable sort order along ``dim``; NaN is the largest value, equal keys keep their input order."""
    if not descending:
        return np.argsort(x, axis=dim, kind="stable")
    # sorting the reversed array ascending and reversing the result keeps ties in input order
    n = x.shape[dim]
    order = np.argsort(np.flip(x, dim), axis=dim, kind="stable")
    return n - 1 - np.flip(order, dim)


def _sort(x, dim, descending):
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    order = _argsort(x, dim, descending)
    return np.take_along_axis(x, order, dim), order.astype(np.int64, copy=False)


def _argsort_kernel(x, dim, descending):
    if x.ndim == 0:
        return np.zeros((), np.int64)
    return _argsort(x, dim, descending).astype(np.int64, copy=False)


def _topk(x, k, dim, largest):
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    order = np.take(_argsort(x, dim, largest), np.arange(k), axis=dim)
    return np.take_along_axis(x, order, dim), order.astype(np.int64, copy=False)


def _take_along(x, index, dim):
    if x.ndim == 0:
        return x.copy()
    return np.take_along_axis(x, index, dim)


def _put_along(src, index, dim, shape):
    """Zeros of ``shape`` with ``src`` added at ``index`` along ``dim`` (repeated indices accumulate)."""
    if len(shape) == 0:
        return src.copy()
    n = shape[dim]
    moved_idx = np.moveaxis(index, dim, -1)
    rows = int(np.prod(moved_idx.shape[:-1]))
    flat = (np.arange(rows)[:, None] * n + moved_idx.reshape(rows, moved_idx.shape[-1])).ravel()
    total = rows * n
    out = np.bincount(flat, weights=np.moveaxis(src, dim, -1).reshape(-1).astype(np.float64), minlength=total)
    moved_shape = tuple(s for i, s in enumerate(shape) if i != dim) + (n,)
    return np.moveaxis(out.astype(src.dtype).reshape(moved_shape), -1, dim)


def _unique(x, dim):
    """(sorted distinct values, inverse, counts), as PyTorch's CPU kernel returns whatever ``sorted`` says."""
    if dim is None:  # each NaN is its own value in PyTorch
        values, inverse, counts = np.unique(x.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False)
    else:
        values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True, axis=dim)
    inverse = inverse.reshape(x.shape if dim is None else (x.shape[dim],)).astype(np.int64)
    return values, inverse, counts.astype(np.int64)


def _unique_consecutive(x, dim):
    inverse_shape = x.shape if dim is None else (x.shape[dim],)
    if dim is None:
        x, dim = x.reshape(-1), 0
    n = x.shape[dim]
    if n == 0:
        return x.copy(), np.zeros(inverse_shape, np.int64), np.zeros(0, np.int64)
    rows = np.moveaxis(x, dim, 0).reshape(n, -1)
    starts_run = np.concatenate([[True], np.any(rows[1:] != rows[:-1], axis=1)])
    starts = np.flatnonzero(starts_run)
    inverse = (np.cumsum(starts_run) - 1).reshape(inverse_shape)
    counts = np.diff(np.append(starts, n))
    return np.take(x, starts, axis=dim), inverse.astype(np.int64), counts.astype(np.int64)


def _searchsorted(boundaries, values, sorter=None, *, right, out_int32):
    """Insertion points of ``values`` in each row of ``boundaries`` (1-D, or matching leading dims)."""
    side = "right" if right else "left"
    dtype = np.int32 if out_int32 else np.int64
    if boundaries.ndim == 1:
        return np.searchsorted(boundaries, values, side=side, sorter=sorter).astype(dtype)
    rows = int(np.prod(boundaries.shape[:-1]))
    rows_b = boundaries.reshape(rows, boundaries.shape[-1])
    rows_v = values.reshape(rows, values.shape[-1])
    rows_s = sorter.reshape(rows, sorter.shape[-1]) if sorter is not None else None
    out = np.empty(rows_v.shape, dtype)
    for r in range(rows):
        out[r] = np.searchsorted(rows_b[r], rows_v[r], side=side, sorter=None if rows_s is None else rows_s[r])
    return out.reshape(values.shape)


KERNELS = {"sort": _sort, "argsort": _argsort_kernel, "topk": _topk, "take_along_dim_": _take_along,
           "put_along_dim_": _put_along, "unique": _unique, "unique_consecutive": _unique_consecutive,
           "searchsorted": _searchsorted}
