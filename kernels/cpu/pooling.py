"""Pooling over the spatial dims of (N, C, *spatial) arrays: max (with flat indices), average, adaptive.

Max pooling returns, like PyTorch, the index of each maximum in the flattened spatial plane of its (n, c);
``pool_scatter`` and ``pool_gather`` move values along those indices and are each other's adjoints.
``padding`` is one (low, high) pair per spatial dim; the high side includes ceil_mode's extra cells.

1-D and 2-D float32/float64 max and average pooling run as Numba loops over each window; 3-D and other dtypes go
through numpy's strided windows.
"""
import numpy as np

from ._numba import jit
from .conv import as_plane, pad_spatial, plane_geometry, scatter_windows, use_numba, windows


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _flat_index(coords, size):
    """Row-major flat index into ``size`` from per-dim coordinate arrays."""
    flat = coords[0]
    for c, s in zip(coords[1:], size[1:]):
        flat = flat * s + c
    return flat.astype(np.int64)


@jit
def _max_pool2d(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, values, indices):
    """PyTorch's rule per window: start at its first cell inside ``x``, move on at a larger value or any NaN."""
    batch, channels, h, w = x.shape
    for n in range(batch):
        for c in range(channels):
            for y in range(oh):
                for z in range(ow):
                    best = -np.inf
                    at = -1
                    for i in range(kh):
                        r = y * sh - ph + i * dh
                        if r < 0 or r >= h:
                            continue
                        for j in range(kw):
                            q = z * sw - pw + j * dw
                            if q < 0 or q >= w:
                                continue
                            v = x[n, c, r, q]
                            if at < 0:
                                at = r * w + q
                            if v > best or v != v:
                                best = v
                                at = r * w + q
                    values[n, c, y, z] = best
                    indices[n, c, y, z] = at


def max_pool(x, kernel, stride, padding, dilation, out):
    """Max over each window: (values, flat indices), both (N, C, *out)."""
    nd = len(kernel)
    if use_numba(nd, x):
        values = np.empty(x.shape[:2] + tuple(out), dtype=x.dtype)
        indices = np.empty(values.shape, dtype=np.int64)
        _max_pool2d(as_plane(x), *plane_geometry(kernel, stride, padding, dilation, out), as_plane(values),
                    as_plane(indices))
        return values, indices
    lowest = _lowest(x.dtype)
    win = windows(pad_spatial(x, padding, lowest), kernel, stride, dilation, out)
    win = win.reshape(win.shape[:2 + nd] + (-1,))
    arg = np.argmax(win, axis=-1)
    values = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    # PyTorch's rule (see _max_pool2d): a window holding only the lowest value points at its first cell inside x,
    # and one holding NaNs at its last NaN
    inside = windows(pad_spatial(np.ones((1, 1) + x.shape[2:], dtype=bool), padding, False), kernel, stride,
                     dilation, out)
    arg = np.where(values == lowest, np.argmax(inside.reshape(inside.shape[:2 + nd] + (-1,)), axis=-1), arg)
    if x.dtype.kind == "f":
        nan = np.isnan(win)
        arg = np.where(np.isnan(values), win.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1), arg)
    offsets = np.unravel_index(arg, kernel)
    coords = []
    for i in range(nd):
        o = np.arange(out[i]).reshape((-1,) + (1,) * (nd - 1 - i))
        coords.append(o * stride[i] + offsets[i] * dilation[i] - padding[i][0])
    return values, _flat_index(coords, x.shape[2:])


@jit
def _scatter_planes(g, indices, out):
    """``out[p, indices[p, l]] += g[p, l]`` for each plane ``p``, summed in float64 as ``np.bincount`` does."""
    plane = out.shape[1]
    acc = np.zeros(plane)
    for p in range(g.shape[0]):
        acc[:] = 0
        for l in range(g.shape[1]):
            k = indices[p, l]
            if k < 0 or k >= plane:
                raise IndexError("pool_scatter: index out of range of the spatial plane")
            acc[k] += g[p, l]
        for k in range(plane):
            out[p, k] = acc[k]


def pool_scatter(g, indices, size):
    """Sum ``g`` (N, C, *out) into zeros (N, C, *size) at the flat spatial ``indices``."""
    n, c = g.shape[:2]
    plane = int(np.prod(size))
    if use_numba(0, g):  # flat planes: any number of spatial dims
        out = np.empty((n, c) + tuple(size), dtype=g.dtype)
        _scatter_planes(np.ascontiguousarray(g).reshape(n * c, -1),
                        np.ascontiguousarray(indices, dtype=np.int64).reshape(n * c, -1), out.reshape(n * c, plane))
        return out
    base = np.arange(n * c, dtype=np.int64).reshape(n, c, *(1,) * (g.ndim - 2)) * plane
    flat = np.bincount((indices + base).ravel(), weights=g.ravel(), minlength=n * c * plane)
    return flat.astype(g.dtype).reshape((n, c) + tuple(size))


def pool_put(x, indices, size):
    """Zeros (N, C, *size) with ``x`` (N, C, *out) written at the flat spatial ``indices`` (a repeat keeps one)."""
    n, c = x.shape[:2]
    out = np.zeros((n, c, int(np.prod(size))), dtype=x.dtype)
    np.put_along_axis(out, indices.reshape(n, c, -1), x.reshape(n, c, -1), axis=2)
    return out.reshape((n, c) + tuple(size))


def pool_gather(x, indices):
    """``x`` (N, C, *size) read at the flat spatial ``indices`` (N, C, *out)."""
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    return np.take_along_axis(flat, indices.reshape(n, c, -1), axis=2).reshape(indices.shape)


def _divisor(size, kernel, stride, padding, out, count_include_pad, divisor_override):
    """The divisor of each output cell, broadcastable to (*out)."""
    nd = len(kernel)
    if divisor_override:
        return np.full((1,) * nd, divisor_override)
    div = np.ones((1,) * nd, dtype=np.int64)
    for i in range(nd):
        start = np.arange(out[i]) * stride[i] - padding[i][0]
        end = np.minimum(start + kernel[i], size[i] + padding[i][0])
        if count_include_pad:
            count = end - start
        else:
            count = np.minimum(end, size[i]) - np.maximum(start, 0)
        div = div * count.reshape((-1,) + (1,) * (nd - 1 - i))
    return div


@jit
def _window_sum2d(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, total):
    """``total`` (zeroed) gets the sum of each window's cells inside ``x``, in row-major order."""
    batch, channels, h, w = x.shape
    for n in range(batch):
        for c in range(channels):
            for y in range(oh):
                for z in range(ow):
                    for i in range(kh):
                        r = y * sh - ph + i * dh
                        if r < 0 or r >= h:
                            continue
                        for j in range(kw):
                            q = z * sw - pw + j * dw
                            if 0 <= q < w:
                                total[n, c, y, z] += x[n, c, r, q]


@jit
def _window_spread2d(share, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, out):
    """Adjoint of ``_window_sum2d``: add each window's ``share`` to its cells in zeroed ``out``, offset by offset."""
    batch, channels, h, w = out.shape
    for n in range(batch):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    for y in range(oh):
                        r = y * sh - ph + i * dh
                        if r < 0 or r >= h:
                            continue
                        for z in range(ow):
                            q = z * sw - pw + j * dw
                            if 0 <= q < w:
                                out[n, c, r, q] += share[n, c, y, z]


def avg_pool(x, kernel, stride, padding, out, count_include_pad, divisor_override):
    """Average over each window with PyTorch's divisor rules: (N, C, *out)."""
    nd = len(kernel)
    if use_numba(nd, x):
        total = np.zeros(x.shape[:2] + tuple(out), dtype=x.dtype)
        _window_sum2d(as_plane(x), *plane_geometry(kernel, stride, padding, (1,) * nd, out), as_plane(total))
    else:
        win = windows(pad_spatial(x, padding), kernel, stride, (1,) * nd, out)
        total = win.sum(axis=tuple(range(2 + nd, 2 + 2 * nd)), dtype=x.dtype)
    div = _divisor(x.shape[2:], kernel, stride, padding, out, count_include_pad, divisor_override)
    return (total / div).astype(x.dtype, copy=False)


def avg_pool_backward(g, kernel, stride, padding, size, count_include_pad, divisor_override):
    """Adjoint of ``avg_pool``: spread each output's gradient evenly over its window."""
    nd = len(kernel)
    out = g.shape[2:]
    div = _divisor(size, kernel, stride, padding, out, count_include_pad, divisor_override)
    share = (g / div).astype(g.dtype, copy=False)
    if use_numba(nd, g):
        res = np.zeros(g.shape[:2] + tuple(size), dtype=g.dtype)
        _window_spread2d(as_plane(share), *plane_geometry(kernel, stride, padding, (1,) * nd, out), as_plane(res))
        return res
    cols = np.broadcast_to(share.reshape(share.shape + (1,) * nd), share.shape + tuple(kernel))
    return np.ascontiguousarray(scatter_windows(cols, size, kernel, stride, padding, (1,) * nd, g.dtype))


def adaptive_bounds(size, out):
    """PyTorch's adaptive windows along one dim: (starts, ends)."""
    o = np.arange(out)
    return (o * size) // out, -((-(o + 1) * size) // out)


def adaptive_max_pool(x, out):
    """Max over adaptive windows: (values, flat indices), both (N, C, *out)."""
    nd = len(out)
    size = x.shape[2:]
    bounds = [adaptive_bounds(size[i], out[i]) for i in range(nd)]
    n, c = x.shape[:2]
    values = np.empty((n, c) + tuple(out), dtype=x.dtype)
    indices = np.empty((n, c) + tuple(out), dtype=np.int64)
    for cell in np.ndindex(*out):
        starts = [bounds[i][0][cell[i]] for i in range(nd)]
        ends = [bounds[i][1][cell[i]] for i in range(nd)]
        region = x[(slice(None), slice(None)) + tuple(slice(s, e) for s, e in zip(starts, ends))]
        arg = np.argmax(region.reshape(n, c, -1), axis=-1)
        values[(slice(None), slice(None)) + cell] = np.take_along_axis(region.reshape(n, c, -1), arg[..., None],
                                                                       axis=-1)[..., 0]
        local = np.unravel_index(arg, tuple(e - s for s, e in zip(starts, ends)))
        indices[(slice(None), slice(None)) + cell] = _flat_index([local[i] + starts[i] for i in range(nd)], size)
    return values, indices


KERNELS = {
    "max_pool": max_pool,
    "pool_scatter": pool_scatter,
    "pool_gather": pool_gather,
    "pool_put": pool_put,
    "avg_pool": avg_pool,
    "avg_pool_backward": avg_pool_backward,
    "adaptive_max_pool": adaptive_max_pool,
}
