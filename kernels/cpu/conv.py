"""GEMM layers on numpy + BLAS: linear, and N-d convolution through im2col / col2im.

Convolution comes as three linear maps that are each other's adjoints: ``conv`` (input, weight -> output),
``conv_transpose`` (output-shaped, weight -> input-shaped; conv's input gradient) and ``conv_weight``
(input, output-shaped -> weight-shaped; conv's weight gradient). ``padding`` is one (low, high) pair per
spatial dim. Weights are laid out as PyTorch's conv weight: (out_channels, in_channels / groups, *kernel).

1-D and 2-D float32/float64 convolutions build and scatter their columns with Numba loops (one pass each, straight
into the GEMM's layout); other cases go through numpy's strided windows.
"""
import numpy as np

from ._numba import jit

NUMBA = True  # benchmarks switch this off to time the numpy path


def linear(x, w):
    """``x @ w.T`` over the last dim of ``x``."""
    # as one 2-D GEMM: numpy's batched matmul against a transposed 2-D operand skips BLAS (40x slower)
    rows = int(np.prod(x.shape[:-1]))  # not -1: that cannot be inferred when the last dim is 0
    return np.matmul(x.reshape(rows, x.shape[-1]), w.T).reshape(x.shape[:-1] + (w.shape[0],))


def grouped_matmul(a, b):
    """``a[g] @ b[g]`` for each group, each as a 2-D BLAS GEMM.

    numpy's stacked matmul falls back to a slow loop when an operand is a transposed view (180x slower
    for conv_weight's (O, N*L) @ (N*L, C*K)); 2-D products always go to BLAS.
    """
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=np.result_type(a, b))
    for g in range(a.shape[0]):
        np.matmul(a[g], b[g], out=out[g])
    return out


def pad_spatial(x, padding, value=0.0):
    """``x`` (N, C, *spatial) with ``padding`` (low, high) pairs added around the spatial dims."""
    if not any(lo or hi for lo, hi in padding):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple(padding), constant_values=value)


def out_size(size, kernel, stride, padding, dilation):
    """Output length of a sliding window along one dim (floor mode)."""
    return (size + padding[0] + padding[1] - dilation * (kernel - 1) - 1) // stride + 1


def windows(xp, kernel, stride, dilation, out):
    """A strided view (N, C, *out, *kernel) of the windows of already padded ``xp`` (N, C, *spatial)."""
    nd = len(kernel)
    st = xp.strides
    strides = st[:2] + tuple(st[2 + i] * stride[i] for i in range(nd)) + tuple(st[2 + i] * dilation[i]
                                                                               for i in range(nd))
    # through ``np``, so the CUDA twin takes CuPy's as_strided (which has no ``writeable``; nothing writes here)
    return np.lib.stride_tricks.as_strided(xp, xp.shape[:2] + tuple(out) + tuple(kernel), strides)


def scatter_windows(cols, size, kernel, stride, padding, dilation, dtype):
    """Adjoint of ``windows`` after padding: sum ``cols`` (N, C, *out, *kernel) into (N, C, *size)."""
    nd = len(kernel)
    out = cols.shape[2:2 + nd]
    padded = tuple(size[i] + padding[i][0] + padding[i][1] for i in range(nd))
    xp = np.zeros(cols.shape[:2] + padded, dtype=dtype)
    for offset in np.ndindex(*kernel):
        region = tuple(slice(offset[i] * dilation[i], offset[i] * dilation[i] + stride[i] * (out[i] - 1) + 1,
                             stride[i]) for i in range(nd))
        xp[(slice(None), slice(None)) + region] += cols[(Ellipsis,) + offset]
    return xp[(slice(None), slice(None)) + tuple(slice(padding[i][0], padding[i][0] + size[i]) for i in range(nd))]


def use_numba(nd, *arrays):
    """Whether the Numba loops cover a ``nd``-spatial-dim window op on ``arrays``."""
    dtype = arrays[0].dtype
    return NUMBA and nd <= 2 and dtype in (np.float32, np.float64) and all(a.dtype == dtype for a in arrays)


def plane_geometry(kernel, stride, padding, dilation, out):
    """Window geometry as the 2-D loops take it: (kh, kw, sh, sw, ph, pw, dh, dw, oh, ow); 1-D gets a unit height."""
    pad = 2 - len(kernel)
    kernel, stride, dilation, out = ((1,) * pad + tuple(v) for v in (kernel, stride, dilation, out))
    padding = ((0, 0),) * pad + tuple(padding)
    return (kernel[0], kernel[1], stride[0], stride[1], padding[0][0], padding[1][0], dilation[0], dilation[1],
            out[0], out[1])


def as_plane(x):
    """(N, C, *spatial) with one or two spatial dims as a contiguous (N, C, H, W)."""
    x = np.ascontiguousarray(x)
    return x.reshape(x.shape[:2] + (1,) * (4 - x.ndim) + x.shape[2:])


@jit
def _span(offset, step, count, size):
    """The ``z`` in [lo, hi) with ``0 <= z * step + offset < size``, ``0 <= z < count``."""
    lo = max(0, (step - 1 - offset) // step)
    hi = min(count, (size - 1 - offset) // step + 1)
    return lo, max(lo, hi)


# The loops index flat views with unsigned offsets: Numba then skips its negative-index wraparound checks,
# which otherwise cost 3-6x on these short rows.
@jit
def _im2col2d(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """cols[(c, i, j), n, (y, z)] = x[n, c, y * sh - ph + i * dh, z * sw - pw + j * dw], zero outside ``x``."""
    batch, channels, h, w = x.shape
    src, dst = x.reshape(-1), cols.reshape(-1)
    plane = oh * ow
    for c in range(channels):
        for i in range(kh):
            ylo, yhi = _span(i * dh - ph, sh, oh, h)
            for j in range(kw):
                zlo, zhi = _span(j * dw - pw, sw, ow, w)
                row = (c * kh + i) * kw + j
                for n in range(batch):
                    if yhi - ylo < oh or zhi - zlo < ow:  # some windows reach into the padding
                        dst[(row * batch + n) * plane:(row * batch + n + 1) * plane] = 0
                    for y in range(ylo, yhi):
                        d = np.uint64((row * batch + n) * plane + y * ow + zlo)
                        q = np.uint64(((n * channels + c) * h + y * sh - ph + i * dh) * w + zlo * sw - pw + j * dw)
                        for z in range(zhi - zlo):
                            dst[d + np.uint64(z)] = src[q + np.uint64(z * sw)]


@jit
def _col2im2d(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, out):
    """Adjoint of ``_im2col2d``: add ``cols`` into zeroed ``out`` (N, C, H, W), kernel offsets in row-major order."""
    batch, channels, h, w = out.shape
    src, dst = cols.reshape(-1), out.reshape(-1)
    plane = oh * ow
    for c in range(channels):
        for n in range(batch):
            for i in range(kh):
                ylo, yhi = _span(i * dh - ph, sh, oh, h)
                for j in range(kw):
                    zlo, zhi = _span(j * dw - pw, sw, ow, w)
                    row = (c * kh + i) * kw + j
                    for y in range(ylo, yhi):
                        d = np.uint64(((n * channels + c) * h + y * sh - ph + i * dh) * w + zlo * sw - pw + j * dw)
                        q = np.uint64((row * batch + n) * plane + y * ow + zlo)
                        for z in range(zhi - zlo):
                            dst[d + np.uint64(z * sw)] += src[q + np.uint64(z)]


def _plane_columns(x, kernel, stride, padding, dilation, out):
    """im2col by ``_im2col2d``: (C * K, N, L)."""
    n, c = x.shape[:2]
    cols = np.empty((c * int(np.prod(kernel)), n, int(np.prod(out))), dtype=x.dtype)
    _im2col2d(as_plane(x), *plane_geometry(kernel, stride, padding, dilation, out), cols)
    return cols


def _plane_scatter(cols, shape, kernel, stride, padding, dilation, out):
    """col2im by ``_col2im2d``: ``cols`` (C * K, N, L) summed into (N, C, *size) with ``shape`` = (N, C, *size)."""
    res = np.zeros(shape, dtype=cols.dtype)
    _col2im2d(np.ascontiguousarray(cols), *plane_geometry(kernel, stride, padding, dilation, out), as_plane(res))
    return res


def _columns(x, kernel, stride, padding, dilation, groups, out=None):
    """im2col for a GEMM per group: (groups, C/groups * K, N * L) and the output spatial size.

    ``out`` limits the number of windows (a transposed conv's output_padding can leave a tail no window uses).
    """
    nd = len(kernel)
    n, c = x.shape[:2]
    if out is None:
        out = tuple(out_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(nd))
    if use_numba(nd, x):
        cols = _plane_columns(x, kernel, stride, padding, dilation, out)
        return cols.reshape(groups, c // groups * int(np.prod(kernel)), n * int(np.prod(out))), out
    win = windows(pad_spatial(x, padding), kernel, stride, dilation, out)
    # (N, C, *out, *k) -> (C, *k, N, *out)
    order = (1,) + tuple(range(2 + nd, 2 + 2 * nd)) + (0,) + tuple(range(2, 2 + nd))
    cols = win.transpose(order).reshape(groups, c // groups * int(np.prod(kernel)), n * int(np.prod(out)))
    return cols, out


def _by_group(t, groups):
    """(N, O, *L) -> (groups, O / groups, N * L)."""
    n, o = t.shape[:2]
    return np.moveaxis(t, 0, 1).reshape(groups, o // groups, n * int(np.prod(t.shape[2:])))


def conv(x, w, stride, padding, dilation, groups, out=None):
    """Cross-correlation of ``x`` (N, C, *S) with ``w`` (O, C / groups, *k): (N, O, *out)."""
    kernel = w.shape[2:]
    cols, out = _columns(x, kernel, stride, padding, dilation, groups, out)
    o = w.shape[0]
    res = grouped_matmul(w.reshape(groups, o // groups, -1), cols)
    res = res.reshape((o, x.shape[0]) + out)
    return np.ascontiguousarray(np.moveaxis(res, 0, 1))


def conv_transpose(g, w, stride, padding, dilation, groups, size):
    """Adjoint of ``conv`` in its input: ``g`` (N, O, *out), ``w`` (O, C / groups, *k) -> (N, C, *size)."""
    kernel = w.shape[2:]
    nd = len(kernel)
    o, cg = w.shape[:2]
    n, out = g.shape[0], g.shape[2:]
    wg = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
    cols = grouped_matmul(wg, _by_group(g, groups))  # (groups, Cg * K, N * L)
    if use_numba(nd, g, w):
        cols = cols.reshape(groups * cg * int(np.prod(kernel)), n, int(np.prod(out)))
        return _plane_scatter(cols, (n, groups * cg) + tuple(size), kernel, stride, padding, dilation, out)
    cols = cols.reshape((groups * cg,) + tuple(kernel) + (n,) + tuple(out))
    order = (1 + nd, 0) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(1, 1 + nd))
    return np.ascontiguousarray(scatter_windows(cols.transpose(order), size, kernel, stride, padding, dilation,
                                                np.result_type(g, w)))


def conv_weight(x, g, stride, padding, dilation, groups, kernel):
    """Adjoint of ``conv`` in its weight: ``x`` (N, C, *S), ``g`` (N, O, *out) -> (O, C / groups, *kernel)."""
    cols, _ = _columns(x, kernel, stride, padding, dilation, groups, g.shape[2:])
    res = grouped_matmul(_by_group(g, groups), cols.transpose(0, 2, 1))
    return res.reshape((g.shape[1], x.shape[1] // groups) + tuple(kernel))


def im2col(x, kernel, stride, padding, dilation):
    """``F.unfold``: (N, C, *S) -> (N, C * K, L) sliding blocks."""
    nd = len(kernel)
    n, c = x.shape[:2]
    out = tuple(out_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(nd))
    if use_numba(nd, x):
        return _plane_columns(x, kernel, stride, padding, dilation, out).transpose(1, 0, 2).copy()
    win = windows(pad_spatial(x, padding), kernel, stride, dilation, out)
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    return np.ascontiguousarray(win.transpose(order)).reshape(n, c * int(np.prod(kernel)), int(np.prod(out)))


def col2im(cols, size, kernel, stride, padding, dilation):
    """``F.fold``: (N, C * K, L) blocks summed back into (N, C, *size)."""
    nd = len(kernel)
    out = tuple(out_size(size[i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(nd))
    n = cols.shape[0]
    if use_numba(nd, cols):
        c = cols.shape[1] // int(np.prod(kernel))
        return _plane_scatter(cols.transpose(1, 0, 2), (n, c) + tuple(size), kernel, stride, padding, dilation, out)
    blocks = cols.reshape((n, cols.shape[1] // int(np.prod(kernel))) + tuple(kernel) + out)
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    return np.ascontiguousarray(scatter_windows(blocks.transpose(order), size, kernel, stride, padding, dilation,
                                                cols.dtype))


KERNELS = {
    "linear": linear,
    "conv": conv,
    "conv_transpose": conv_transpose,
    "conv_weight": conv_weight,
    "im2col": im2col,
    "col2im": col2im,
}
