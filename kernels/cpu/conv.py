"""GEMM layers on numpy + BLAS: linear, and N-d convolution through im2col / col2im.

Convolution comes as three linear maps that are each other's adjoints: ``conv`` (input, weight -> output),
``conv_transpose`` (output-shaped, weight -> input-shaped; conv's input gradient) and ``conv_weight``
(input, output-shaped -> weight-shaped; conv's weight gradient). ``padding`` is one (low, high) pair per
spatial dim. Weights are laid out as PyTorch's conv weight: (out_channels, in_channels / groups, *kernel).
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided


def linear(x, w):
    """``x @ w.T`` over the last dim of ``x``."""
    # as one 2-D GEMM: numpy's batched matmul against a transposed 2-D operand skips BLAS (40x slower)
    return np.matmul(x.reshape(-1, x.shape[-1]), w.T).reshape(x.shape[:-1] + (w.shape[0],))


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
    return as_strided(xp, xp.shape[:2] + tuple(out) + tuple(kernel), strides, writeable=False)


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


def _columns(x, kernel, stride, padding, dilation, groups, out=None):
    """im2col for a GEMM per group: (groups, C/groups * K, N * L) and the output spatial size.

    ``out`` limits the number of windows (a transposed conv's output_padding can leave a tail no window uses).
    """
    nd = len(kernel)
    n, c = x.shape[:2]
    if out is None:
        out = tuple(out_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(nd))
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
    win = windows(pad_spatial(x, padding), kernel, stride, dilation, out)
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    return np.ascontiguousarray(win.transpose(order)).reshape(n, c * int(np.prod(kernel)), int(np.prod(out)))


def col2im(cols, size, kernel, stride, padding, dilation):
    """``F.fold``: (N, C * K, L) blocks summed back into (N, C, *size)."""
    nd = len(kernel)
    out = tuple(out_size(size[i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(nd))
    n = cols.shape[0]
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
