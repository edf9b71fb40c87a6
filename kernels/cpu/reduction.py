"""Reduction kernels on raw arrays (numpy's pairwise sums; Numba where numpy has no fused form)."""
import math
import warnings

import numpy as np

from ._numba import jit


@jit(fastmath=True)
def _row_sums(rows, out):
    # float64 accumulation: more accurate than numpy's pairwise float32 sum, and fastmath lets LLVM
    # vectorise the loop, which numpy's per-row reduction does not for short rows
    for r in range(rows.shape[0]):
        acc = 0.0
        for j in range(rows.shape[1]):
            acc += rows[r, j]
        out[r] = acc


@jit(fastmath=True)
def _column_sums(rows, out):
    # one pass down the rows with a float64 accumulator per column (a bias gradient's sum over the batch):
    # numpy reduces a leading axis in several strided passes
    acc = np.zeros(rows.shape[1], np.float64)
    for r in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            acc[j] += rows[r, j]
    for j in range(rows.shape[1]):
        out[j] = acc[j]


def _leading_axes_rows(x, dims):
    """``x`` as 2-D rows when the reduction is over its leading axes only (the column-sum path), else None."""
    k = len(dims) if dims is not None else 0
    if (0 < k < x.ndim and tuple(dims) == tuple(range(k)) and x.dtype.kind == "f" and x.dtype.itemsize >= 4
            and x.flags.c_contiguous and x.size >= _ROWS_MIN_SIZE):
        return x.reshape(-1, math.prod(x.shape[k:]))
    return None


def _last_axis_rows(x, dims):
    """``x`` as 2-D rows when the reduction is over its contiguous last axis only (the Numba path), else None."""
    if (x.ndim >= 2 and dims == (x.ndim - 1,) and x.dtype.kind == "f" and x.dtype.itemsize >= 4
            and x.flags.c_contiguous and x.size >= _ROWS_MIN_SIZE):
        return x.reshape(-1, x.shape[-1])
    return None


_ROWS_MIN_SIZE = 4096  # below this numpy's call is as cheap as the Numba one


def _sum(x, dims, keepdim, dtype=None):
    rows = _last_axis_rows(x, dims) if dtype is None else None
    if rows is not None:
        out = np.empty(rows.shape[0], dtype=x.dtype)
        _row_sums(rows, out)
        return out.reshape(x.shape[:-1] + ((1,) if keepdim else ()))
    columns = _leading_axes_rows(x, dims) if dtype is None else None
    if columns is not None:
        out = np.empty(columns.shape[1], dtype=x.dtype)
        _column_sums(columns, out)
        return out.reshape((1,) * len(dims) + x.shape[len(dims):] if keepdim else x.shape[len(dims):])
    return np.sum(x, axis=dims, keepdims=keepdim, dtype=dtype)


def _mean(x, dims, keepdim):
    rows = _last_axis_rows(x, dims)
    if rows is not None:
        return _sum(x, dims, keepdim) / x.dtype.type(x.shape[-1])
    if x.size == 0:  # numpy warns about the empty mean; PyTorch quietly returns NaN
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.mean(x, axis=dims, keepdims=keepdim)
    return np.mean(x, axis=dims, keepdims=keepdim)


def _prod(x, dims, keepdim, dtype=None):
    return np.prod(x, axis=dims, keepdims=keepdim, dtype=dtype)


def _amax(x, dims, keepdim):
    return np.amax(x, axis=dims, keepdims=keepdim)


def _amin(x, dims, keepdim):
    return np.amin(x, axis=dims, keepdims=keepdim)


def _arg_extreme(find, x, dim, keepdim):
    """Index of the first extreme along ``dim`` (flattened when None); NaN counts as the extreme, as in PyTorch."""
    if x.ndim == 0:
        return np.zeros((), np.int64)
    if dim is None:
        idx = np.asarray(find(x.reshape(-1)), np.int64)
        return idx.reshape((1,) * x.ndim) if keepdim else idx
    return find(x, axis=dim, keepdims=keepdim).astype(np.int64, copy=False)


def _argmax(x, dim, keepdim):
    return _arg_extreme(np.argmax, x, dim, keepdim)


def _argmin(x, dim, keepdim):
    return _arg_extreme(np.argmin, x, dim, keepdim)


def _extreme_dim(find, x, dim, keepdim):
    """(values, int64 indices) of the extreme along ``dim``; the first one wins ties, NaN wins over numbers."""
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    idx = find(x, axis=dim, keepdims=True)
    values = np.take_along_axis(x, idx, dim)
    if not keepdim:
        idx, values = np.squeeze(idx, dim), np.squeeze(values, dim)
    return values, idx.astype(np.int64, copy=False)


def _max_dim(x, dim, keepdim):
    return _extreme_dim(np.argmax, x, dim, keepdim)


def _min_dim(x, dim, keepdim):
    return _extreme_dim(np.argmin, x, dim, keepdim)


def _all(x, dims, keepdim, uint8=False):
    out = np.all(x, axis=dims, keepdims=keepdim)
    return out.astype(np.uint8) if uint8 else out


def _any(x, dims, keepdim, uint8=False):
    out = np.any(x, axis=dims, keepdims=keepdim)
    return out.astype(np.uint8) if uint8 else out


def _count_nonzero(x, dims):
    return np.asarray(np.count_nonzero(x, axis=dims), np.int64)


def _norm(x, p, dims, keepdim):
    """Vector p-norm over ``dims`` (all when None), computed in the input's floating dtype."""
    a = np.abs(x)
    if p == 2:
        out = np.sqrt(np.sum(a * a, axis=dims, keepdims=keepdim))
    elif p == np.inf:
        out = np.amax(a, axis=dims, keepdims=keepdim)
    elif p == -np.inf:
        out = np.amin(a, axis=dims, keepdims=keepdim)
    elif p == 0:
        out = np.sum(a != 0, axis=dims, keepdims=keepdim)
    elif p == 1:
        out = np.sum(a, axis=dims, keepdims=keepdim)
    else:
        out = np.power(np.sum(np.power(a, p), axis=dims, keepdims=keepdim), 1.0 / p)
    return np.asarray(out, dtype=x.dtype)


def _kth_smallest(x, k, dim, keepdim, ignore_nan=False):
    """(values, indices) of the k-th smallest (0-based) along ``dim``; ``k`` may be an array per slice.

    NaN sorts last, so a slice holding NaN yields NaN at its first NaN unless ``ignore_nan``.
    """
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    order = np.argsort(x, axis=dim, kind="stable")
    kept = x.shape[:dim] + (1,) + x.shape[dim + 1:]
    pick = np.take_along_axis(order, np.broadcast_to(np.asarray(k, np.int64), kept), dim)
    if not ignore_nan and x.dtype.kind == "f":
        nan = np.isnan(x)
        has_nan = nan.any(axis=dim, keepdims=True)
        pick = np.where(has_nan, np.argmax(nan, axis=dim, keepdims=True), pick)
    values = np.take_along_axis(x, pick, dim)
    if not keepdim:
        pick, values = np.squeeze(pick, dim), np.squeeze(values, dim)
    return values, pick.astype(np.int64, copy=False)


def _kthvalue(x, k, dim, keepdim):
    return _kth_smallest(x, k - 1, dim, keepdim)


def _median_dim(x, dim, keepdim):
    return _kth_smallest(x, (x.shape[dim] - 1) // 2 if x.ndim else 0, dim, keepdim)


def _nanmedian_dim(x, dim, keepdim):
    if x.ndim == 0 or x.dtype.kind != "f":
        return _median_dim(x, dim, keepdim)
    count = np.sum(~np.isnan(x), axis=dim, keepdims=True)
    # an all-NaN slice picks position 0, which holds NaN
    return _kth_smallest(x, np.maximum(count - 1, 0) // 2, dim, keepdim, ignore_nan=True)


def _median_all(x, dims, keepdim):
    if x.size == 0:
        return np.array(np.nan, x.dtype)
    return _median_dim(x.reshape(-1), 0, False)[0]


def _nanmedian_all(x, dims, keepdim):
    if x.size == 0:
        return np.array(np.nan, x.dtype)
    return _nanmedian_dim(x.reshape(-1), 0, False)[0]


def _mode(x, dim, keepdim):
    """Most frequent value along ``dim`` (the smallest on ties) and the index of its last occurrence."""
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    moved = np.moveaxis(x, dim, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    values = np.empty(flat.shape[0], x.dtype)
    indices = np.empty(flat.shape[0], np.int64)
    for row in range(flat.shape[0]):
        uniq, counts = np.unique(flat[row], return_counts=True)
        best = uniq[np.argmax(counts)]
        values[row] = best
        same = (flat[row] == best) | (np.isnan(flat[row]) & np.isnan(best) if x.dtype.kind == "f" else False)
        indices[row] = flat.shape[1] - 1 - np.argmax(same[::-1])
    shape = moved.shape[:-1]
    values, indices = values.reshape(shape), indices.reshape(shape)
    if keepdim:
        values, indices = np.expand_dims(values, dim), np.expand_dims(indices, dim)
    return values, indices


KERNELS = {"sum": _sum, "mean": _mean, "prod": _prod, "amax": _amax, "amin": _amin, "argmax": _argmax,
           "argmin": _argmin, "max_dim": _max_dim, "min_dim": _min_dim, "all": _all, "any": _any,
           "count_nonzero": _count_nonzero, "norm": _norm, "kthvalue": _kthvalue, "median_dim": _median_dim,
           "nanmedian_dim": _nanmedian_dim, "median_all": _median_all, "nanmedian_all": _nanmedian_all, "mode": _mode}
