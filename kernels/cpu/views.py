"""View kernels: return numpy views sharing memory with the input where numpy can (reshape may copy)."""
import numpy as np


def _view(x, shape):
    out = x.view()
    try:
        out.shape = shape
    except AttributeError:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.") from None
    return out


def _view_backward(g, shape, view, view_attrs):
    """Gradient of a view: zeros of the base's shape with ``g`` added through the same view.

    Windows of ``unfold`` and ``as_strided`` may overlap, so their gradient is summed per base
    element (bincount over the element indices each view position reads).
    """
    if view in ("unfold", "as_strided"):
        size = int(np.prod(shape))
        index = KERNELS[view](np.arange(size).reshape(shape), **view_attrs)
        summed = np.bincount(index.reshape(-1), weights=np.broadcast_to(g, index.shape).reshape(-1), minlength=size)
        return summed.astype(g.dtype, copy=False).reshape(shape)
    out = np.zeros(shape, dtype=g.dtype)
    KERNELS[view](out, **view_attrs)[...] = g
    return out


def _slice(x, key):
    out = x[key]
    # all-integer keys give a numpy scalar (a copy); the Ellipsis keeps a 0-d view instead
    return out if isinstance(out, np.ndarray) else x[key + (Ellipsis,)]


def _diagonal(x, offset=0, dim1=0, dim2=1):
    """A writable diagonal view (np.diagonal's is read-only), the diagonal in the last dim."""
    n1, n2 = x.shape[dim1], x.shape[dim2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    start = [0] * x.ndim
    if length:
        start[dim1], start[dim2] = max(0, -offset), max(0, offset)
        base = x[tuple(slice(s, None) for s in start)]
    else:
        base = x
    rest = [d for d in range(x.ndim) if d not in (dim1, dim2)]
    shape = tuple(x.shape[d] for d in rest) + (length,)
    strides = tuple(x.strides[d] for d in rest) + (x.strides[dim1] + x.strides[dim2],)
    return np.lib.stride_tricks.as_strided(base, shape=shape, strides=strides)


def _as_strided(x, size, stride, storage_offset=0):
    """A strided window on ``x``'s elements in row-major order (shares memory when ``x`` is contiguous)."""
    flat = np.ascontiguousarray(x).reshape(-1)[storage_offset:]
    return np.lib.stride_tricks.as_strided(flat, shape=tuple(size), strides=tuple(s * x.itemsize for s in stride))


def _unfold(x, dimension, size, step):
    n = (x.shape[dimension] - size) // step + 1
    shape = x.shape[:dimension] + (n,) + x.shape[dimension + 1:] + (size,)
    strides = x.strides[:dimension] + (x.strides[dimension] * step,) + x.strides[dimension + 1:] + \
        (x.strides[dimension],)
    return np.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def _split_views(x, dim, sizes, squeeze):
    """Consecutive pieces of ``sizes`` along ``dim`` as views (``squeeze``: size-1 pieces lose that dim)."""
    lead = (slice(None),) * dim
    pieces, start = [], 0
    for size in sizes:
        key = lead + ((start,) if squeeze else (slice(start, start + size),)) + (Ellipsis,)
        pieces.append(x[key])
        start += size
    return tuple(pieces)


KERNELS = {
    "split_views": _split_views,
    "view": _view,
    "reshape": lambda x, shape: np.reshape(x, shape),
    "permute": lambda x, dims: np.transpose(x, dims),
    "expand": lambda x, shape: np.broadcast_to(x, shape),
    "slice": _slice,
    "diagonal": _diagonal,
    "as_strided": _as_strided,
    "unfold": _unfold,
    "view_backward": _view_backward,
}
