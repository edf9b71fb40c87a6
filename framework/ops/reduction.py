"""Reductions over ``dim`` with ``keepdim``: sums, products, extremes, arg-extremes, logical and logsumexp.

Statistics (var, std, norm, median...) live in ``statistics.py``, running reductions in ``cumulative.py``.
"""
import builtins

from .. import _dtype, return_types
from .._tensor import Tensor
from ._checks import wrap_dim, wrap_dims
from .registry import _type_word, dispatch, register_op, tensor_method

__all__ = ["sum", "nansum", "mean", "nanmean", "prod", "amax", "amin", "aminmax", "max", "min", "argmax", "argmin",
           "all", "any", "count_nonzero", "logsumexp"]


def expand_reduced(g, shape, dims, keepdim):
    """Broadcast a reduction's gradient ``g`` back over the reduced ``dims`` of ``shape``."""
    if not keepdim and dims and len(dims) < len(shape):  # a 0-d gradient (all dims reduced) expands as is
        g = g.reshape(tuple(1 if d in dims else s for d, s in enumerate(shape)))
    return g.expand(shape)


def reduce_args(input, dim, keepdim, name):
    """Normalised (dims, keepdim) attributes for a reduction; dims None means all."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return None, builtins.bool(keepdim)
    dims = wrap_dims(dim, input.ndim, name)
    # a 0-d tensor accepts dim 0 / -1, and reducing it over "all" of its no dims is the same thing
    return (None if input.ndim == 0 else dims), builtins.bool(keepdim)


def reduced_count(shape, dims):
    """How many elements each output of a reduction over ``dims`` (None = all) combines."""
    n = 1
    for d in (range(len(shape)) if dims is None else dims):
        n *= shape[d]
    return n


def _all_dims(node):
    dims = node.attrs["dims"]
    return tuple(range(len(node.input_meta[0][0]))) if dims is None else dims


def _grad_back(node, g):
    return expand_reduced(g, node.input_meta[0][0], _all_dims(node), node.attrs["keepdim"])


def _finish(result, out):
    """Return ``result``, or write it into ``out=`` (keeping a named result's type)."""
    if out is None:
        return result
    from .conversion import write_out
    written = write_out(out, result)
    return type(result)(written) if isinstance(result, tuple) else written


def _check_empty(input, dims, name):
    """PyTorch's IndexError for reducing an empty dim with an op that has no identity."""
    if input.numel() == 0:
        for d in (range(input.ndim) if dims is None else dims):
            if input.shape[d] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


# ----- sum, mean, prod --------------------------------------------------------------------------------
_sum_op = register_op("sum", _grad_back, save_inputs=False)
_mean_op = register_op("mean", lambda n, g: _grad_back(n, g / reduced_count(n.input_meta[0][0], n.attrs["dims"])),
                       save_inputs=False)


def _accumulate_dtype(input, dtype):
    """Input cast for sum/prod: the requested dtype, else integers and bools accumulate in int64."""
    if dtype is not None:
        return input.to(_dtype.to_dtype(dtype))
    return input if input.dtype.is_floating_point else input.to(_dtype.int64)


@tensor_method("sum")
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over ``dim`` (all dims when None); integers accumulate in int64 (``torch.sum``)."""
    dims, keepdim = reduce_args(input, dim, keepdim, "sum")
    input = _accumulate_dtype(input, dtype)
    return _finish(dispatch(_sum_op, (input,), {"dims": dims, "keepdim": keepdim}), out)


@tensor_method("nansum")
def nansum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over ``dim`` treating NaN as zero (``torch.nansum``)."""
    if isinstance(input, Tensor) and input.dtype.is_floating_point:
        from .elementwise import where
        input = where(input.isnan(), 0.0, input)
    return sum(input, dim, keepdim, dtype=dtype, out=out)


@tensor_method("mean")
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Arithmetic mean over ``dim`` (floating inputs only, as PyTorch)."""
    dims, keepdim = reduce_args(input, dim, keepdim, "mean")
    if dtype is not None:
        input = input.to(_dtype.to_dtype(dtype))
    if not input.dtype.is_floating_point:
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {_type_word(input.dtype)}")
    return _finish(dispatch(_mean_op, (input,), {"dims": dims, "keepdim": keepdim}), out)


@tensor_method("nanmean")
def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Mean over ``dim`` of the non-NaN elements (``torch.nanmean``)."""
    if dtype is not None:
        input = input.to(_dtype.to_dtype(dtype))
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{_type_word(input.dtype)}")
    count = sum(~input.isnan(), dim, keepdim)
    return _finish(nansum(input, dim, keepdim) / count, out)


def _prod_grad(node, g):
    """d prod / d x_i = product of the others; exact when the slice holds zeros (one zero or more)."""
    from .elementwise import where
    x, = node.saved
    dims, keepdim = _all_dims(node), node.attrs["keepdim"]
    g = expand_reduced(g, x.shape, dims, keepdim)
    zero = x == 0
    safe = where(zero, 1.0, x)
    keep = {"dims": node.attrs["dims"], "keepdim": True}
    nonzero_product = dispatch(_prod_op, (safe,), keep).expand(x.shape)
    zeros_in_slice = dispatch(_sum_op, (zero.to(_dtype.int64),), keep).expand(x.shape)
    others = where(zero, where(zeros_in_slice == 1, nonzero_product, 0.0),
                   where(zeros_in_slice == 0, nonzero_product / safe, 0.0))
    return g * others


_prod_op = register_op("prod", _prod_grad)


@tensor_method("prod")
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Product over ``dim`` (all when None)."""
    if isinstance(dim, (tuple, list)):
        raise TypeError("prod(): argument 'dim' must be int, not tuple")
    dims, keepdim = reduce_args(input, dim, keepdim, "prod")
    input = _accumulate_dtype(input, dtype)
    return _finish(dispatch(_prod_op, (input,), {"dims": dims, "keepdim": keepdim}), out)


# ----- extremes ---------------------------------------------------------------------------------------
def _extreme_grad(node, g):
    """Gradient of a full extreme (amax, max(), median()): split evenly between the tied elements."""
    x, result = node.saved
    dims, keepdim = _all_dims(node), node.attrs["keepdim"]
    hit = (x == expand_reduced(result, x.shape, dims, keepdim)).to(g.dtype)
    count = hit.sum(dims, keepdim=True) if dims else hit
    return expand_reduced(g, x.shape, dims, keepdim) * hit / count


_amax_op = register_op("amax", _extreme_grad, save_outputs=True)
_amin_op = register_op("amin", _extreme_grad, save_outputs=True)


def _extreme(op, input, dim, keepdim, name):
    dims, keepdim = reduce_args(input, dim, keepdim, name)
    _check_empty(input, dims, name)
    return dispatch(op, (input,), {"dims": dims, "keepdim": keepdim})


@tensor_method("amax")
def amax(input, dim=(), keepdim=False, *, out=None):
    """Maximum over ``dim`` (gradient split evenly between ties; NaN propagates)."""
    return _finish(_extreme(_amax_op, input, dim, keepdim, "amax"), out)


@tensor_method("amin")
def amin(input, dim=(), keepdim=False, *, out=None):
    """Minimum over ``dim`` (gradient split evenly between ties; NaN propagates)."""
    return _finish(_extreme(_amin_op, input, dim, keepdim, "amin"), out)


@tensor_method("aminmax")
def aminmax(input, *, dim=None, keepdim=False, out=None):
    """``(min, max)`` over ``dim`` (all when None) as ``return_types.aminmax``."""
    if dim is None and input.numel() == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    if dim is not None:
        d = wrap_dim(dim, input.ndim, "aminmax")
        if input.ndim and input.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
    dims = () if dim is None else dim
    result = return_types.named("aminmax", amin(input, dims, keepdim), amax(input, dims, keepdim))
    return _finish(result, out)


def _selected_grad(node, g, *_):
    from .sorting import put_along
    indices = node.saved[1]
    shape, dim = node.input_meta[0][0], node.attrs["dim"]
    if not shape:
        return g
    if not node.attrs["keepdim"]:
        g, indices = g.unsqueeze(dim), indices.unsqueeze(dim)
    return put_along(g, indices, dim, shape)


_max_dim_op = register_op("max_dim", _selected_grad, save_inputs=False, save_outputs=True)
_min_dim_op = register_op("min_dim", _selected_grad, save_inputs=False, save_outputs=True)


def select_along(op, input, dim, keepdim, name, attrs=None):
    """Run a (values, indices) op along one ``dim``, after PyTorch's checks; returns ``return_types.<name>``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    dim = wrap_dim(dim, input.ndim, name)
    if input.ndim and input.shape[dim] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    values, indices = dispatch(op, (input,), dict(attrs or {}, dim=dim, keepdim=builtins.bool(keepdim)))
    return return_types.named(name, values, indices)


def _max_or_min(input, dim, keepdim, other, out, name):
    if isinstance(dim, Tensor):
        dim, other = None, dim
    if other is not None:
        from .elementwise import maximum, minimum
        return (maximum if name == "max" else minimum)(input, other, out=out)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                               "the reduction dim with the 'dim' argument.")
        return _finish(dispatch(_amax_op if name == "max" else _amin_op, (input,), {"dims": None, "keepdim": False}),
                       out)
    return _finish(select_along(_max_dim_op if name == "max" else _min_dim_op, input, dim, keepdim, name), out)


@tensor_method("max")
def max(input, dim=None, keepdim=False, *, other=None, out=None):
    """``max(x)``: the largest value; ``max(x, dim)``: (values, indices); ``max(x, other)``: ``maximum``."""
    return _max_or_min(input, dim, keepdim, other, out, "max")


@tensor_method("min")
def min(input, dim=None, keepdim=False, *, other=None, out=None):
    """``min(x)``: the smallest value; ``min(x, dim)``: (values, indices); ``min(x, other)``: ``minimum``."""
    return _max_or_min(input, dim, keepdim, other, out, "min")


_argmax_op = register_op("argmax")
_argmin_op = register_op("argmin")


def _arg_extreme(op, input, dim, keepdim, name):
    if dim is None:
        if input.numel() == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
    else:
        dim = wrap_dim(dim, input.ndim, name)
        if input.ndim and input.shape[dim] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
        if input.ndim == 0:
            dim = None
    return dispatch(op, (input,), {"dim": dim, "keepdim": builtins.bool(keepdim)})


@tensor_method("argmax")
def argmax(input, dim=None, keepdim=False, *, out=None):
    """Index (int64) of the first maximum along ``dim``, or into the flattened tensor when None."""
    return _finish(_arg_extreme(_argmax_op, input, dim, keepdim, "argmax"), out)


@tensor_method("argmin")
def argmin(input, dim=None, keepdim=False, *, out=None):
    """Index (int64) of the first minimum along ``dim``, or into the flattened tensor when None."""
    return _finish(_arg_extreme(_argmin_op, input, dim, keepdim, "argmin"), out)


# ----- logical and counting ---------------------------------------------------------------------------
_all_op = register_op("all")
_any_op = register_op("any")


def _logical(op, input, dim, keepdim, out, name):
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        dims, keepdim = (), builtins.bool(keepdim)  # an empty dim list reduces nothing here, unlike sum
    else:
        dims, keepdim = reduce_args(input, dim, keepdim, name)
    attrs = {"dims": dims, "keepdim": keepdim}
    if input.dtype is _dtype.uint8:
        attrs["uint8"] = True
    return _finish(dispatch(op, (input,), attrs), out)


@tensor_method("all")
def all(input, dim=None, keepdim=False, *, out=None):
    """Whether all elements along ``dim`` are nonzero (bool; uint8 for uint8 input)."""
    return _logical(_all_op, input, dim, keepdim, out, "all")


@tensor_method("any")
def any(input, dim=None, keepdim=False, *, out=None):
    """Whether any element along ``dim`` is nonzero (bool; uint8 for uint8 input)."""
    return _logical(_any_op, input, dim, keepdim, out, "any")


_count_nonzero_op = register_op("count_nonzero")


@tensor_method("count_nonzero")
def count_nonzero(input, dim=None):
    """Number of nonzero elements along ``dim`` (int64)."""
    dims, _ = reduce_args(input, dim, False, "count_nonzero")
    return dispatch(_count_nonzero_op, (input,), {"dims": dims})


@tensor_method("logsumexp")
def logsumexp(input, dim, keepdim=False, *, out=None):
    """log(sum(exp(x))) over ``dim``, computed stably by shifting by the maximum."""
    from .elementwise import where
    dims, keepdim = reduce_args(input, dim, keepdim, "logsumexp")
    x = input if input.dtype.is_floating_point else input.to(_dtype.get_default_dtype())
    dim_arg = tuple(range(x.ndim)) if dims is None else dims
    if x.numel() == 0:
        shift = x.sum(dim_arg, keepdim=True).detach()
    else:
        shift = x.detach().amax(dim_arg, keepdim=True)
        shift = where(shift.isinf(), 0.0, shift)
    total = (x - shift).exp().sum(dim_arg, keepdim=keepdim).log()
    return _finish(total + (shift if keepdim else shift.reshape(total.shape)), out)
