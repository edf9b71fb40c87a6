"""Statistics over dims: var, std (and their ``_mean`` pairs), norm, median, nanmedian, kthvalue, mode."""
import builtins
import math
import numbers
import warnings

from .. import _dtype
from .._tensor import Tensor
from .reduction import (_extreme_grad, _finish, _selected_grad, expand_reduced, reduce_args, reduced_count,
                        select_along)
from .registry import dispatch, register_op, tensor_method

__all__ = ["var", "std", "var_mean", "std_mean", "norm", "median", "nanmedian", "kthvalue", "mode"]


# ----- variance and standard deviation ----------------------------------------------------------------
def _correction(dim, unbiased, correction, name):
    """Split the ``(dim, unbiased)`` overloads and return (dim, correction)."""
    if isinstance(dim, builtins.bool):  # var(input, unbiased)
        if unbiased is not None:
            raise TypeError(f"{name}() received an invalid combination of arguments")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got both 'unbiased' and "
                        "'correction'")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _var_and_mean(input, dim, unbiased, keepdim, correction, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    dim, correction = _correction(dim, unbiased, correction, name)
    if not input.dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims, keepdim = reduce_args(input, dim, keepdim, name)
    dim_arg = () if dims is None else dims
    mu = input.mean(dim_arg, keepdim=True)
    centred = input - mu
    dof = reduced_count(input.shape, dims) - correction
    if dof <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the reduction "
                      "factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    squares = (centred * centred).sum(dim_arg, keepdim=keepdim)
    variance = squares * (1.0 / dof) if dof > 0 else squares / 0.0
    return variance, (mu if keepdim else mu.reshape(variance.shape))


def _std_grad(node, g):
    """d sqrt(v) = g / (2 sqrt(v)), taken as zero where v is zero (as PyTorch's std backward)."""
    from .elementwise import where
    out, = node.saved
    zero = out == 0
    return where(zero, 0.0, g / (2 * where(zero, 1.0, out)))


_std_sqrt_op = register_op("std_sqrt", _std_grad, save_inputs=False, save_outputs=True, kernel="sqrt")


@tensor_method("var")
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Variance over ``dim`` with Bessel's ``correction`` (default 1; ``unbiased=False`` means 0)."""
    return _finish(_var_and_mean(input, dim, unbiased, keepdim, correction, "var")[0], out)


@tensor_method("std")
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Standard deviation over ``dim`` with Bessel's ``correction`` (default 1)."""
    variance = _var_and_mean(input, dim, unbiased, keepdim, correction, "std")[0]
    return _finish(dispatch(_std_sqrt_op, (variance,)), out)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """``(var, mean)`` over ``dim`` in one call."""
    return _finish(_var_and_mean(input, dim, unbiased, keepdim, correction, "var_mean"), out)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """``(std, mean)`` over ``dim`` in one call."""
    variance, mu = _var_and_mean(input, dim, unbiased, keepdim, correction, "std_mean")
    return _finish((dispatch(_std_sqrt_op, (variance,)), mu), out)


# ----- norm -------------------------------------------------------------------------------------------
def _norm_grad(node, g):
    from .elementwise import where
    x, out = node.saved
    p, dims, keepdim = node.attrs["p"], node.attrs["dims"], node.attrs["keepdim"]
    all_dims = tuple(range(x.ndim)) if dims is None else dims
    g = expand_reduced(g, x.shape, all_dims, keepdim)
    norm = expand_reduced(out, x.shape, all_dims, keepdim)
    if p == 0:
        return g * 0
    if p == 1:
        return g * x.sign()
    if math.isinf(p):
        hit = (x.abs() == norm).to(g.dtype)
        return g * x.sign() * hit / (hit.sum(all_dims, keepdim=True) if all_dims else hit)
    zero = norm == 0
    safe = where(zero, 1.0, norm)
    scale = x / safe if p == 2 else x.sign() * (x.abs() / safe) ** (p - 1)
    return where(zero, 0.0, g * scale)


_norm_op = register_op("norm", _norm_grad, save_outputs=True)


def vector_norm(input, p, dims, keepdim):
    """The p-norm of ``input`` over ``dims`` (None = all) as a vector; ``p`` a number, inf or -inf."""
    return dispatch(_norm_op, (input,), {"p": float(p), "dims": dims, "keepdim": keepdim})


@tensor_method("norm")
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """Vector p-norm over ``dim`` (all when None); ``'fro'`` is the 2-norm, ``'nuc'`` the nuclear matrix norm."""
    if not isinstance(input, Tensor):
        raise TypeError(f"norm(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if dtype is not None:
        input = input.to(_dtype.to_dtype(dtype))
    if not input.dtype.is_floating_point:
        from .registry import _type_word
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_type_word(input.dtype)}")
    if p is None:
        p = "fro"
    if isinstance(p, str):
        if p == "nuc":
            from .. import linalg
            return _finish(linalg.matrix_norm(input, "nuc", dim=(-2, -1) if dim is None else dim, keepdim=keepdim), out)
        if p != "fro":
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
        p = 2
    elif not isinstance(p, numbers.Real):
        raise TypeError(f"norm(): argument 'p' must be Number or str, not {type(p).__name__}")
    dims, keepdim = reduce_args(input, dim, keepdim, "norm")
    if math.isinf(p) and any(input.shape[d] == 0 for d in (range(input.ndim) if dims is None else dims)):
        raise RuntimeError("linalg.vector_norm cannot compute the inf norm on an empty tensor because the operation "
                           "does not have an identity")
    return _finish(vector_norm(input, p, dims, keepdim), out)


# ----- order statistics -------------------------------------------------------------------------------
_median_all_op = register_op("median_all", _extreme_grad, save_outputs=True)
_nanmedian_all_op = register_op("nanmedian_all", _extreme_grad, save_outputs=True)
_median_dim_op = register_op("median_dim", _selected_grad, save_inputs=False, save_outputs=True)
_nanmedian_dim_op = register_op("nanmedian_dim", _selected_grad, save_inputs=False, save_outputs=True)
_kthvalue_op = register_op("kthvalue", _selected_grad, save_inputs=False, save_outputs=True)
_mode_op = register_op("mode", _selected_grad, save_inputs=False, save_outputs=True)


def _median(input, dim, keepdim, out, name, all_op, dim_op):
    if dim is None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return _finish(dispatch(all_op, (input,), {"dims": None, "keepdim": False}), out)
    return _finish(select_along(dim_op, input, dim, keepdim, name), out)


@tensor_method("median")
def median(input, dim=None, keepdim=False, *, out=None):
    """Lower median of all elements, or (values, indices) along ``dim``; NaN propagates."""
    return _median(input, dim, keepdim, out, "median", _median_all_op, _median_dim_op)


@tensor_method("nanmedian")
def nanmedian(input, dim=None, keepdim=False, *, out=None):
    """Lower median ignoring NaN, of all elements or as (values, indices) along ``dim``."""
    return _median(input, dim, keepdim, out, "nanmedian", _nanmedian_all_op, _nanmedian_dim_op)


@tensor_method("kthvalue")
def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """The ``k``-th smallest value (1-based) along ``dim`` and its index."""
    size = input.shape[dim] if input.ndim else 1
    if not isinstance(k, int) or isinstance(k, builtins.bool):
        raise TypeError(f"kthvalue(): argument 'k' (position 2) must be int, not {type(k).__name__}")
    if k < 1 or k > size:
        from ._checks import wrap_dim
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {wrap_dim(dim, input.ndim)}")
    return _finish(select_along(_kthvalue_op, input, dim, keepdim, "kthvalue", {"k": k}), out)


@tensor_method("mode")
def mode(input, dim=-1, keepdim=False, *, out=None):
    """The most frequent value along ``dim`` (the smallest on ties) and the index of its last occurrence."""
    return _finish(select_along(_mode_op, input, dim, keepdim, "mode"), out)
