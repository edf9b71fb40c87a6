"""Index-driven resampling kernels: take along a dim, its adjoint (sum back along a dim), constant padding."""
import numpy as np

from ._numba import jit


def index_take(x, indices, dim):
    """``x`` read at ``indices`` along ``dim``; the shape of ``indices`` replaces that dim."""
    return np.take(x, indices, axis=dim)


@jit(error_model="numpy")
def _scatter_add_rows(g3, flat, out):
    """out[r, flat[k], :] += g3[r, k, :] in index order (so repeated indices sum deterministically)."""
    size = out.shape[1]
    for r in range(g3.shape[0]):
        for k in range(flat.shape[0]):
            dst = flat[k]
            if dst < 0:
                dst += size
            for c in range(g3.shape[2]):
                out[r, dst, c] += g3[r, k, c]


_SCATTER_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def index_put_add(g, indices, dim, size):
    """Adjoint of ``index_take``: sum slices of ``g`` into zeros with ``size`` at ``dim``."""
    pre = g.shape[:dim]
    post = g.shape[dim + indices.ndim:]
    g3 = g.reshape((int(np.prod(pre)), indices.size, int(np.prod(post))))
    out = np.zeros((g3.shape[0], size, g3.shape[2]), dtype=g.dtype)
    flat = indices.ravel()
    # on a device (kernels/cuda re-binds this module) the Numba loop is None and the sorted sums run
    if flat.size and _scatter_add_rows is not None and g.dtype in _SCATTER_DTYPES:
        _scatter_add_rows(np.ascontiguousarray(g3), flat.astype(np.int64, copy=False), out)
    elif flat.size:
        # Sorting groups repeated indices so each destination gets one vectorised reduceat sum.
        order = np.argsort(flat, kind="stable")
        ordered = flat[order]
        starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
        out[:, ordered[starts], :] = np.add.reduceat(g3[:, order, :], starts, axis=1)
    return out.reshape(pre + (size,) + post)


def embedding(weight, indices, padding_idx, scale_grad_by_freq, sparse):
    """Rows of ``weight`` at ``indices`` (the other arguments only shape the gradient)."""
    return np.take(weight, indices, axis=0)


def constant_pad(x, pads, value):
    """``x`` with ``pads`` (low, high) per dim: positive adds ``value`` cells, negative crops."""
    crop = tuple(slice(max(-lo, 0), x.shape[i] - max(-hi, 0)) for i, (lo, hi) in enumerate(pads))
    x = x[crop]
    grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads)
    if not any(lo or hi for lo, hi in grow):
        return np.array(x)
    return np.pad(x, grow, constant_values=value)


KERNELS = {
    "index_take": index_take,
    "index_put_add": index_put_add,
    "constant_pad": constant_pad,
    "embedding": embedding,
}
