"""``framework.masked``: reductions and normalisations that ignore the elements where ``mask`` is False.

Each function fills the masked-out elements with the identity of its reduction (0 for sums, 1 for
products, -inf for maxima...) and then runs the ordinary op, as ``torch.masked`` does for strided tensors;
gradients flow through ``where`` to the kept elements only.
"""
import builtins
import math

import numpy as np

from . import _dtype
from ._tensor import Tensor
from .ops._checks import wrap_dim
from .ops.elementwise import scalar_tensor_like, where

__all__ = ["sum", "prod", "cumsum", "cumprod", "amax", "amin", "argmax", "argmin", "mean", "median", "logsumexp",
           "logaddexp", "norm", "var", "std", "softmax", "log_softmax", "softmin", "normalize"]


def _dims(dim, ndim):
    """``dim`` as a sorted tuple of non-negative dims; None and () mean all dims."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    dims = []
    for d in ((dim,) if isinstance(dim, int) else dim):
        d = wrap_dim(d, ndim)
        if d in dims:
            raise RuntimeError(f"dim={d} appears multiple times in the list of dims")
        dims.append(d)
    return tuple(sorted(dims))


def _input_mask(input, mask):
    """``mask`` broadcast to ``input``'s shape as a bool tensor."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a Tensor, not {type(mask).__name__}")
    if mask.shape != input.shape:
        if mask.ndim > input.ndim:
            raise IndexError("_input_mask expected broadcastable mask (got mask dimensionality higher than of the "
                             "input)")
        mask = mask.broadcast_to(input.shape)
    return mask if mask.dtype is _dtype.bool else mask.to(_dtype.bool)


def _identity(kind, input, ord=None):
    """The value that leaves reduction ``kind`` unchanged, in ``input``'s dtype."""
    dtype = input.dtype
    if kind == "sum":
        return 0
    if kind == "prod":
        return 1
    if kind in ("max", "min"):
        if dtype.is_floating_point:
            return -math.inf if kind == "max" else math.inf
        if dtype is _dtype.bool:
            raise NotImplementedError(f"identity of a{kind[1:]} on {dtype} input")
        info = _dtype.iinfo(dtype)
        return info.min if kind == "max" else info.max
    if kind == "norm":
        return math.inf if ord == -math.inf else 0
    if kind == "median":
        return math.nan
    raise NotImplementedError(f"identity of {kind} on {dtype} input")


def _fill(input, mask, kind, ord=None):
    """``input`` with the masked-out elements replaced by the identity of ``kind``."""
    if mask is None:
        return input
    fill = scalar_tensor_like(_identity(kind, input, ord), input.dtype, input)
    return where(_input_mask(input, mask), input, fill)


def _sum_dtype(input, dtype):
    if dtype is not None:
        return dtype
    if input.dtype in (_dtype.uint8, _dtype.bool, _dtype.int8, _dtype.int16, _dtype.int32):
        return _dtype.int64
    return input.dtype


def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Sum over ``dim`` of the elements where ``mask`` is True (``torch.masked.sum``)."""
    dtype = _sum_dtype(input, dtype)
    return _fill(input, mask, "sum").sum(_dims(dim, input.ndim), builtins.bool(keepdim), dtype=dtype)


def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Product over ``dim`` of the elements where ``mask`` is True (``torch.masked.prod``)."""
    result = _fill(input, mask, "prod").to(_sum_dtype(input, dtype))
    for d in reversed(_dims(dim, input.ndim)):
        result = result.prod(d, keepdim=builtins.bool(keepdim))
    return result


def cumsum(input, dim, *, dtype=None, mask=None):
    """Running sum along ``dim`` treating masked-out elements as 0 (``torch.masked.cumsum``)."""
    dtype = dtype or input.dtype
    return _fill(input, mask, "sum").cumsum(_dims(dim, input.ndim)[0], dtype=dtype).to(dtype)


def cumprod(input, dim, *, dtype=None, mask=None):
    """Running product along ``dim`` treating masked-out elements as 1 (``torch.masked.cumprod``)."""
    dtype = dtype or input.dtype
    return _fill(input, mask, "prod").cumprod(_dims(dim, input.ndim)[0], dtype=dtype).to(dtype)


def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Maximum over ``dim`` of the kept elements; -inf where none is kept (``torch.masked.amax``)."""
    return _fill(input, mask, "max").amax(_dims(dim, input.ndim), builtins.bool(keepdim)).to(dtype or input.dtype)


def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Minimum over ``dim`` of the kept elements; inf where none is kept (``torch.masked.amin``)."""
    return _fill(input, mask, "min").amin(_dims(dim, input.ndim), builtins.bool(keepdim)).to(dtype or input.dtype)


def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Index of the largest kept element, in ``dtype`` (default: input's dtype) (``torch.masked.argmax``)."""
    return _fill(input, mask, "max").argmax(dim, builtins.bool(keepdim)).to(dtype or input.dtype)


def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Index of the smallest kept element, in ``dtype`` (default: input's dtype) (``torch.masked.argmin``)."""
    return _fill(input, mask, "min").argmin(dim, builtins.bool(keepdim)).to(dtype or input.dtype)


def _count(input, dim, keepdim, mask):
    if mask is None:
        ones = Tensor._wrap(np.ones(input.shape, dtype=np.int64), _dtype.int64, input._device)
        return ones.sum(_dims(dim, input.ndim), keepdim)
    return _input_mask(input, mask).sum(_dims(dim, input.ndim), keepdim)


def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Mean over ``dim`` of the kept elements; NaN where none is kept (``torch.masked.mean``)."""
    source = "Optional" if dtype is not None else "Input"
    dtype = dtype or input.dtype
    if not dtype.is_floating_point:
        raise ValueError(f"mean(): Could not infer output dtype. {source} dtype must be either a floating point or "
                         f"complex dtype. Got: {dtype}")
    total = sum(input, dim, keepdim=keepdim, dtype=dtype, mask=mask)
    return total / _count(input, dim, builtins.bool(keepdim), mask)


def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):
    """Median along ``dim`` of the kept elements; NaN where none is kept (``torch.masked.median``)."""
    dtype = dtype or input.dtype
    is_float = input.dtype.is_floating_point
    x = input if is_float else input.to(_dtype.float32)
    output = _fill(x, mask, "median").nanmedian(_dims(dim, input.ndim)[0], keepdim).values
    if is_float:
        return output
    if output.isnan().any():
        raise ValueError("masked median expects no fully masked out rows if dtype is not floating point")
    return output.to(dtype)


def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """log(sum(exp(x))) over ``dim`` of the kept elements (``torch.masked.logsumexp``)."""
    return _fill(input, mask, "max").logsumexp(_dims(dim, input.ndim), keepdim=keepdim).to(dtype or input.dtype)


def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):
    """log(exp(input) + exp(other)) with masked-out elements treated as -inf (``torch.masked.logaddexp``)."""
    return _fill(input, input_mask, "max").logaddexp(_fill(other, other_mask, "max")).to(dtype or input.dtype)


def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Vector ``ord``-norm over ``dim`` of the kept elements (``torch.masked.norm``)."""
    from . import linalg
    return linalg.vector_norm(_fill(input, mask, "norm", ord), ord, _dims(dim, input.ndim), builtins.bool(keepdim),
                              dtype=dtype or input.dtype)


def _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, take_sqrt):
    if unbiased is not None and correction is not None:
        raise RuntimeError("Only one of unbiased and correction may be given")
    if correction is None:
        correction = 1.0 if unbiased is None or unbiased else 0.0
    if dtype is None:
        dtype = input.dtype if input.dtype.is_floating_point else _dtype.float32
    count = _count(input, dim, True, mask)
    centred = input - sum(input, dim, keepdim=True, dtype=dtype, mask=mask) / count
    total = sum(centred * centred, dim, keepdim=keepdim, dtype=dtype, mask=mask)
    if not keepdim:
        count = count.reshape(total.shape)
    if correction != 0:
        count = (count.to(dtype) - correction).clamp_min(0)
    output = (total / count).to(dtype)
    return output.sqrt() if take_sqrt else output


def var(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    """Variance over ``dim`` of the kept elements (``torch.masked.var``)."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, False)


def std(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    """Standard deviation over ``dim`` of the kept elements (``torch.masked.std``)."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, True)


def softmax(input, dim, *, dtype=None, mask=None):
    """Softmax along ``dim`` over the kept elements; masked-out ones get 0 (``torch.masked.softmax``)."""
    from .nn import functional as F
    return F.softmax(_fill(input, mask, "max"), _dims(dim, input.ndim)[0], dtype=dtype or input.dtype)


def log_softmax(input, dim, *, dtype=None, mask=None):
    """Log-softmax along ``dim`` over the kept elements (``torch.masked.log_softmax``)."""
    from .nn import functional as F
    return F.log_softmax(_fill(input, mask, "max"), _dims(dim, input.ndim)[0], dtype=dtype or input.dtype)


def softmin(input, dim, *, dtype=None, mask=None):
    """Softmin along ``dim`` over the kept elements (``torch.masked.softmin``)."""
    from .nn import functional as F
    return F.softmin(_fill(input, mask, "min"), _dims(dim, input.ndim)[0], dtype=dtype or input.dtype)


def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):
    """``input`` divided by its masked ``ord``-norm along ``dim`` (at least ``eps``) (``torch.masked.normalize``)."""
    dtype = dtype or input.dtype
    denom = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask).clamp_min(eps)
    return _fill(input, mask, "sum") / denom
