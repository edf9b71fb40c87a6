"""Array-module equivalents of the CPU kernels' Numba loops, written once for any ``xp`` (CuPy on the GPU).

Each replacement keeps its loop's signature (flat inputs, then the ``out`` it fills), so the re-bound CPU
kernel around it runs unchanged. ``special`` is ``xp``'s scipy.special (``cupyx.scipy.special`` for CuPy).
"""
import math


def generic_loops(xp, special):
    """{CPU module: {Numba loop name: replacement}} for the loops that have a direct ``xp`` equivalent."""

    def ufunc(fn):
        def loop(x, out):
            fn(x, out=out)
        return loop

    def digamma(x, out):
        # PyTorch: -inf at +0 and +inf at -0 (scipy gives the pole's sign differently)
        out[...] = xp.where(x == 0, -xp.copysign(xp.asarray(math.inf, x.dtype), x), special.digamma(x))

    def lgamma(x, out):
        out[...] = xp.where(x == -math.inf, math.inf, special.gammaln(x))  # scipy: -inf there

    def polygamma(x, n, bern, out):
        out[...] = xp.where(x == -math.inf, math.nan, special.polygamma(n, x))

    def row_sums(rows, out):
        xp.sum(rows, axis=1, out=out)

    def column_sums(rows, out):
        xp.sum(rows, axis=0, out=out)

    def add_at(out, pos, values):
        xp.add.at(out, pos, values)

    def scatter_planes(g, indices, out):
        plane = out.shape[1]
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= plane):
            raise IndexError("pool_scatter: index out of range of the spatial plane")
        out[...] = 0
        xp.add.at(out, (xp.arange(out.shape[0])[:, None], indices), g)

    erf = ufunc(special.erf)
    return {
        "kernels.cpu.elementwise": {"_erfc_loop": ufunc(special.erfc),
                                    "_lgamma_loop": lgamma, "_digamma_loop": digamma,
                                    "_polygamma_loop": polygamma, "_erfinv_loop": ufunc(special.erfinv)},
        # the one-pass kernels are Numba's: on the device, erf and GELU take their numpy-expression paths
        "kernels.cpu.activation": {"_erf_loop": erf, "_one_pass": None},
        "kernels.cpu.reduction": {"_row_sums": row_sums, "_column_sums": column_sums},
        "kernels.cpu.loss": {"_class_pick_backward_rows": None, "_cross_entropy_rows": None},
        "kernels.cpu.sampling": {"_scatter_add_rows": None},
        "kernels.cpu.indexing": {"_add_at": add_at},
        "kernels.cpu.pooling": {"_scatter_planes": scatter_planes},
    }


def generic_kernels(xp):
    """Kernels written once with ``xp``: replacements for CPU kernels whose numpy idiom has no fast device form,
    and the allocation kernels the factories (zeros, full, arange, eye, ...) call on backends with their own memory."""

    def index_put_add(g, indices, dim, size):
        # embedding's backward: the CPU kernel sorts and reduceat-sums; on a GPU one scatter-add is faster
        pre, post = g.shape[:dim], g.shape[dim + indices.ndim:]
        rows, cols = math.prod(pre), math.prod(post)
        g3 = g.reshape(rows, indices.size, cols).transpose(1, 0, 2)
        out = xp.zeros((size, rows, cols), dtype=g.dtype)
        xp.add.at(out, indices.reshape(-1), g3)
        return xp.ascontiguousarray(out.transpose(1, 0, 2)).reshape(pre + (size,) + post)

    def alloc_full(shape, value, dtype):
        """A new array of ``shape`` holding ``value`` (the factories' allocation: made on the device, not copied)."""
        return xp.full(shape, value, dtype)

    def alloc_arange(n, dtype):
        """0, 1, ..., n - 1 as a new array."""
        return xp.arange(n, dtype=dtype)

    def alloc_eye(n, m, dtype):
        """A new n x m array with ones on the diagonal."""
        return xp.eye(n, m, dtype=dtype)

    return {"index_put_add": index_put_add, "alloc_full": alloc_full, "alloc_arange": alloc_arange,
            "alloc_eye": alloc_eye}
