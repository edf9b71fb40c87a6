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
    """Gradient of a view: zeros of the base's shape with ``g`` written through the same view."""
    out = np.zeros(shape, dtype=g.dtype)
    region = KERNELS[view](out, **view_attrs)
    region[...] = g
    return out


def _diagonal(x, offset=0, dim1=0, dim2=1):
    return np.diagonal(x, offset, dim1, dim2)


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


KERNELS = {
    "view": _view,
    "reshape": lambda x, shape: np.reshape(x, shape),
    "permute": lambda x, dims: np.transpose(x, dims),
    "expand": lambda x, shape: np.broadcast_to(x, shape),
    "slice": lambda x, key: x[key],
    "diagonal": _diagonal,
    "as_strided": _as_strided,
    "unfold": _unfold,
    "view_backward": _view_backward,
}
