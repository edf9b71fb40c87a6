"""Reductions over ``dim`` with ``keepdim``: sum, mean, prod, amax, amin (more in the reductions modules)."""
from .. import _dtype
from .._tensor import Tensor
from ._checks import wrap_dims
from .registry import dispatch, register_op, tensor_method

__all__ = ["sum", "mean", "prod", "amax", "amin"]


def expand_reduced(g, shape, dims, keepdim):
    """Broadcast a reduction's gradient ``g`` back over the reduced ``dims`` of ``shape``."""
    if not keepdim and dims and len(dims) < len(shape):
        kept = [1 if d in dims else s for d, s in enumerate(shape)]
        g = g.reshape(kept)
    return g.expand(shape)


def _reduce_grad_scale(node, g, scale):
    shape = node.input_meta[0][0]
    dims, keepdim = node.attrs["dims"], node.attrs["keepdim"]
    return expand_reduced(g * scale if scale != 1 else g, shape, dims if dims is not None else tuple(range(len(shape))),
                          keepdim)


_sum_op = register_op("sum", lambda n, g: _reduce_grad_scale(n, g, 1), save_inputs=False)
_mean_op = register_op("mean", lambda n, g: _reduce_grad_scale(n, g, 1.0 / _count(n)), save_inputs=False)


def _count(node):
    shape = node.input_meta[0][0]
    dims = node.attrs["dims"]
    n = 1
    for d in (dims if dims is not None else range(len(shape))):
        n *= shape[d]
    return n


def reduce_args(input, dim, keepdim, name):
    """Normalised (dims, keepdim) attributes for a reduction; dims None means all."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return None, bool(keepdim)
    return wrap_dims(dim, input.ndim, name), bool(keepdim)


def _finish(result, out):
    if out is None:
        return result
    from .conversion import write_out
    return write_out(out, result)


@tensor_method("sum")
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over ``dim`` (all dims when None); integers accumulate in int64 (``torch.sum``)."""
    dims, keepdim = reduce_args(input, dim, keepdim, "sum")
    if dtype is not None:
        input = input.to(_dtype.to_dtype(dtype))
    elif not input.dtype.is_floating_point:
        input = input.to(_dtype.int64)
    return _finish(dispatch(_sum_op, (input,), {"dims": dims, "keepdim": keepdim}), out)


@tensor_method("mean")
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Arithmetic mean over ``dim`` (floating inputs only, as PyTorch)."""
    dims, keepdim = reduce_args(input, dim, keepdim, "mean")
    if dtype is not None:
        input = input.to(_dtype.to_dtype(dtype))
    if not input.dtype.is_floating_point:
        from .registry import _type_word
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {_type_word(input.dtype)}")
    return _finish(dispatch(_mean_op, (input,), {"dims": dims, "keepdim": keepdim}), out)


_prod_op = register_op("prod", lambda n, g: _prod_grad(n, g), save_inputs=True, save_outputs=True)


def _prod_grad(node, g):
    x, result = node.saved
    dims, keepdim = node.attrs["dims"], node.attrs["keepdim"]
    dims = dims if dims is not None else tuple(range(x.ndim))
    gx = expand_reduced(g, x.shape, dims, keepdim)
    r = expand_reduced(result, x.shape, dims, keepdim)
    zeros = x == 0
    if not bool(zeros.any()):
        return gx * r / x
    # with zeros, the product of the others: exp(sum(log|x|)) loses signs; use masked product per element
    safe = x.masked_fill(zeros, 1.0)
    others = expand_reduced(safe.prod(dims if len(dims) > 1 else dims[0], keepdim=keepdim) if dims else safe,
                            x.shape, dims, keepdim)
    count = expand_reduced(zeros.sum(dims if len(dims) > 1 else dims[0], keepdim=keepdim), x.shape, dims, keepdim)
    grad = (others / safe).masked_fill(zeros, 0.0)
    grad = grad.masked_fill(count > 0, 0.0) + others.masked_fill(~zeros | (count != 1), 0.0)
    return gx * grad


@tensor_method("prod")
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Product over ``dim`` (all when None)."""
    dims, keepdim = reduce_args(input, dim, keepdim, "prod")
    if dtype is not None:
        input = input.to(_dtype.to_dtype(dtype))
    elif not input.dtype.is_floating_point:
        input = input.to(_dtype.int64)
    return _finish(dispatch(_prod_op, (input,), {"dims": dims, "keepdim": keepdim}), out)


def _extreme_grad(node, g):
    x, result = node.saved
    dims, keepdim = node.attrs["dims"], node.attrs["keepdim"]
    dims = dims if dims is not None else tuple(range(x.ndim))
    hit = (x == expand_reduced(result, x.shape, dims, keepdim)).to(g.dtype)
    count = hit.sum(dims, keepdim=True) if dims else hit
    return expand_reduced(g, x.shape, dims, keepdim) * hit / count


_amax_op = register_op("amax", _extreme_grad, save_outputs=True)
_amin_op = register_op("amin", _extreme_grad, save_outputs=True)


def _extreme(op, input, dim, keepdim, name):
    dims, keepdim = reduce_args(input, dim, keepdim, name)
    if input.numel() == 0:
        bad = dims if dims is not None else range(input.ndim)
        if dims is None or any(input.shape[d] == 0 for d in bad):
            raise IndexError(f"{name}(): Expected reduction dim {dims[0] if dims else 0} to have non-zero size.")
    return dispatch(op, (input,), {"dims": dims, "keepdim": keepdim})


@tensor_method("amax")
def amax(input, dim=(), keepdim=False, *, out=None):
    """Maximum over ``dim`` (gradient split evenly between ties)."""
    return _finish(_extreme(_amax_op, input, dim, keepdim, "amax"), out)


@tensor_method("amin")
def amin(input, dim=(), keepdim=False, *, out=None):
    """Minimum over ``dim`` (gradient split evenly between ties)."""
    return _finish(_extreme(_amin_op, input, dim, keepdim, "amin"), out)
