"""Running reductions along one dim: cumsum, cumprod, cummax, cummin, logcumsumexp, and diff."""
import builtins

from .. import _dtype, return_types
from .._tensor import Tensor
from ._checks import wrap_dim
from .reduction import _finish
from .registry import _type_word, commit_inplace, dispatch, register_op, tensor_method

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "diff"]


def _check(input, dim, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return wrap_dim(dim, input.ndim, name)


def _scan_dtype(input, dtype):
    """cumsum/cumprod's input cast: the requested dtype, else integers and bools accumulate in int64."""
    if dtype is not None:
        return input.to(_dtype.to_dtype(dtype))
    return input if input.dtype.is_floating_point else input.to(_dtype.int64)


_cumsum_op = register_op("cumsum", lambda n, g: _cumsum(g, n.attrs["dim"], not n.attrs["reverse"]),
                         save_inputs=False)


def _cumsum(x, dim, reverse=False):
    """Running sum along ``dim``, from the end when ``reverse``."""
    return dispatch(_cumsum_op, (x,), {"dim": dim, "reverse": reverse})


@tensor_method("cumsum")
def cumsum(input, dim, *, dtype=None, out=None):
    """Running sum along ``dim``; integers accumulate in int64."""
    dim = _check(input, dim, "cumsum")
    return _finish(_cumsum(_scan_dtype(input, dtype), dim), out)


def _cumprod_grad(node, g):
    """Exact with zeros: before a slice's first zero, sum_{j>=i} g_j out_j / x_i; at that zero, the same sum with
    the zero replaced by one; after it, zero."""
    from .elementwise import where
    x, out = node.saved
    dim = node.attrs["dim"]
    if x.ndim == 0:
        return g
    zero = x == 0
    zeros_so_far = _cumsum(zero.to(_dtype.int64), dim)
    before = zeros_so_far == 0
    first_zero = zero & (zeros_so_far == 1)
    safe = where(zero, 1.0, x)
    grad = where(before, _cumsum(g * out, dim, reverse=True) / safe, 0.0)
    skipped = dispatch(_cumprod_op, (where(first_zero, 1.0, x),), {"dim": dim})
    return grad + where(first_zero, _cumsum(g * skipped, dim, reverse=True), 0.0)


_cumprod_op = register_op("cumprod", _cumprod_grad, save_outputs=True)


@tensor_method("cumprod")
def cumprod(input, dim, *, dtype=None, out=None):
    """Running product along ``dim``; integers accumulate in int64."""
    dim = _check(input, dim, "cumprod")
    return _finish(dispatch(_cumprod_op, (_scan_dtype(input, dtype),), {"dim": dim}), out)


def _cum_extreme_grad(node, g, *_):
    from .sorting import put_along
    shape = node.input_meta[0][0]
    return g if not shape else put_along(g, node.saved[1], node.attrs["dim"], shape)


_cummax_op = register_op("cummax", _cum_extreme_grad, save_inputs=False, save_outputs=True)
_cummin_op = register_op("cummin", _cum_extreme_grad, save_inputs=False, save_outputs=True)


@tensor_method("cummax")
def cummax(input, dim, *, out=None):
    """Running maximum along ``dim`` and the index where it was reached (NaN propagates)."""
    dim = _check(input, dim, "cummax")
    return _finish(return_types.named("cummax", *dispatch(_cummax_op, (input,), {"dim": dim})), out)


@tensor_method("cummin")
def cummin(input, dim, *, out=None):
    """Running minimum along ``dim`` and the index where it was reached (NaN propagates)."""
    dim = _check(input, dim, "cummin")
    return _finish(return_types.named("cummin", *dispatch(_cummin_op, (input,), {"dim": dim})), out)


def _logcumsumexp_grad(node, g):
    """sum_{j>=i} g_j exp(x_i - out_j), summed in log space separately for the positive and negative parts of g."""
    x, out = node.saved
    dim = node.attrs["dim"]
    parts = []
    for part in (g.clamp_min(0.0), (-g).clamp_min(0.0)):
        parts.append((x + _logcumsumexp(part.log() - out, dim, reverse=True)).exp())
    return parts[0] - parts[1]


_logcumsumexp_op = register_op("logcumsumexp", _logcumsumexp_grad, save_outputs=True)


def _logcumsumexp(x, dim, reverse=False):
    return dispatch(_logcumsumexp_op, (x,), {"dim": dim, "reverse": reverse})


@tensor_method("logcumsumexp")
def logcumsumexp(input, dim, *, out=None):
    """log(cumsum(exp(x))) along ``dim``, computed stably."""
    dim = _check(input, dim, "logcumsumexp")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for \'{_type_word(input.dtype)}\'')
    return _finish(_logcumsumexp(input, dim), out)


def _inplace(name, fn):
    def method(self, dim, *, dtype=None):
        return commit_inplace(self, fn(self, dim, dtype=dtype))
    method.__name__ = name + "_"
    method.__doc__ = f"In-place version of :func:`{name}`."
    setattr(Tensor, name + "_", method)


_inplace("cumsum", cumsum)
_inplace("cumprod", cumprod)


# ----- diff -------------------------------------------------------------------------------------------
def _diff_grad(node, g):
    dim, n = node.attrs["dim"], node.attrs["n"]
    lengths = [meta[0][dim] for meta in node.input_meta]
    full = dispatch(_diff_adjoint_op, (g,), {"n": n, "dim": dim, "length": builtins.sum(lengths)})
    grads, start = [], 0
    for length in lengths:
        grads.append(full.narrow(dim, start, length))
        start += length
    return tuple(grads)


_diff_op = register_op("diff", _diff_grad, save_inputs=False)
_diff_adjoint_op = register_op("diff_adjoint", lambda n, g: dispatch(_diff_op, (g,), {"n": n.attrs["n"],
                                                                                      "dim": n.attrs["dim"]}),
                               save_inputs=False)


@tensor_method("diff")
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim``, after joining ``prepend`` and ``append`` to ``input``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"diff(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = wrap_dim(dim, input.ndim, "diff")
    if n == 0:  # PyTorch returns a copy of input and ignores prepend/append
        return input.clone()
    parts = []
    for arg, name in ((prepend, "prepend"), (input, None), (append, "append")):
        if arg is None:
            continue
        if name is not None:
            if not isinstance(arg, Tensor):
                raise TypeError(f"diff(): argument '{name}' must be Tensor, not {type(arg).__name__}")
            if arg.ndim != input.ndim or any(a != b for i, (a, b) in enumerate(zip(arg.shape, input.shape))
                                             if i != dim):
                raise RuntimeError(f"diff expects prepend or append to be the same dimension as input, and their "
                                   f"shapes to match except at dim {dim}")
        parts.append(arg)
    if builtins.len({p.dtype for p in parts}) > 1:
        common = parts[0].dtype
        for p in parts[1:]:
            common = _dtype.promote_types(common, p.dtype)
        parts = [p.to(common) for p in parts]
    return dispatch(_diff_op, tuple(parts), {"n": n, "dim": dim})
