"""The long tail of PyTorch's top-level ops, written over the core ops.

``*_copy`` variants of the view ops, combinatorics (block_diag, cartesian_prod, combinations), statistics
(cov, corrcoef, quantile, histc, histogram), integration (trapezoid, cumulative_trapezoid, gradient),
special functions with a top-level name (i0, igamma, mvlgamma, frexp), and a few Tensor methods.
"""
import builtins
import math

import numpy as np

from .. import _dtype, return_types
from .._backends import host_array
from .._tensor import Tensor
from ..jit import slot as _jit
from ._checks import check_tensor, wrap_dim
from .elementwise import _finish, operands, where
from .registry import _type_word, commit_inplace, dispatch, register_op, tensor_method

__all__ = ["i0", "i0_", "igamma", "igammac", "mvlgamma", "frexp"]

return_types._make("frexp", ("mantissa", "exponent"))
return_types._make("histogram", ("hist", "bin_edges"))


def _float(input, name):
    check_tensor(input, name)
    return input if input.dtype.is_floating_point else input.to(_dtype.get_default_dtype())


# ----- special functions with a top-level name ----------------------------------------------------------
def _special():
    from .. import special
    return special


_i0_op = register_op("i0", lambda n, g: g * _special().i1(n.saved[0]), kernel="special_i0")


@tensor_method("i0")
def i0(input, *, out=None):
    """Modified Bessel function of the first kind, order 0 (``torch.i0``)."""
    return _finish(dispatch(_i0_op, (_float(input, "i0"),)), out)


@tensor_method("i0_")
def i0_(input):
    """In-place :func:`i0`."""
    return commit_inplace(input, i0(input))


def _igamma_grad(node, g, sign):
    a, x = node.saved
    if node.needs_input_grad[0]:
        raise NotImplementedError(f"the derivative for '{node.op}: input' is not implemented.")
    density = ((a - 1) * x.log() - x - a.lgamma()).exp()
    return None, g * density * sign


_igamma_op = register_op("igamma", lambda n, g: _igamma_grad(n, g, 1), kernel="special_igamma")
_igammac_op = register_op("igammac", lambda n, g: _igamma_grad(n, g, -1), kernel="special_igammac")


def _igamma_front(op, name, input, other, out):
    a, x = operands(input, other, name)
    if not a.dtype.is_floating_point:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'{_type_word(a.dtype)}\'')
    return _finish(dispatch(op, (a, x)), out)


@tensor_method("igamma")
def igamma(input, other, *, out=None):
    """Regularised lower incomplete gamma function P(input, other) (``torch.igamma``)."""
    return _igamma_front(_igamma_op, "igamma", input, other, out)


@tensor_method("igammac")
def igammac(input, other, *, out=None):
    """Regularised upper incomplete gamma function Q(input, other) (``torch.igammac``)."""
    return _igamma_front(_igammac_op, "igammac", input, other, out)


Tensor.igamma_ = lambda self, other: commit_inplace(self, igamma(self, other))
Tensor.igammac_ = lambda self, other: commit_inplace(self, igammac(self, other))


@tensor_method("mvlgamma")
def mvlgamma(input, p, *, out=None):
    """Multivariate log-gamma of dimension ``p``: sum_j lgamma(x - j/2) + p(p-1)/4 log(pi)."""
    x = _float(input, "mvlgamma")
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    offsets = Tensor._wrap(-np.arange(p, dtype=x.dtype.np) / 2, x.dtype, x._device)
    result = (x.unsqueeze(-1) + offsets).lgamma().sum(-1) + p * (p - 1) / 4 * math.log(math.pi)
    return _finish(result, out)


Tensor.mvlgamma_ = lambda self, p: commit_inplace(self, mvlgamma(self, p))

_frexp_op = register_op("frexp", lambda n, g, _: g / n.saved[1].to(g.dtype).exp2(), save_inputs=False,
                        save_outputs=True, kernel="special_frexp")


@tensor_method("frexp")
def frexp(input, *, out=None):
    """Split ``input`` into mantissa in [0.5, 1) and int32 exponent with input = mantissa * 2**exponent."""
    check_tensor(input, "frexp")
    if not input.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    return return_types.frexp(_finish(dispatch(_frexp_op, (input,)), out))


# ----- *_copy: the view ops returning a fresh tensor --------------------------------------------------------
def _copy_of(view_fn, name, doc_target):
    def fn(input, *args, out=None, **kwargs):
        check_tensor(input, name)
        result = view_fn(input, *args, **kwargs)
        if isinstance(result, tuple):
            return tuple(r.clone() for r in result)
        return _finish(result.clone(), out)

    fn.__name__ = name
    fn.__doc__ = f"Like ``{doc_target}`` but the result owns its memory (``torch.{name}``)."
    globals()[name] = fn
    __all__.append(name)
    return fn


_copy_of(lambda x, size, *, implicit=False: x.expand(size), "expand_copy", "Tensor.expand")
_copy_of(lambda x, offset=0, dim1=0, dim2=1: x.diagonal(offset, dim1, dim2), "diagonal_copy", "diagonal")
_copy_of(lambda x: x.view(x.shape), "alias_copy", "alias")
_copy_of(lambda x, size: x.view(size), "view_copy", "Tensor.view")
_copy_of(lambda x, dims: x.permute(dims), "permute_copy", "permute")
_copy_of(lambda x, dim=None: x.squeeze() if dim is None else x.squeeze(dim), "squeeze_copy", "squeeze")
_copy_of(lambda x, dim: x.unsqueeze(dim), "unsqueeze_copy", "unsqueeze")
_copy_of(lambda x, dim0, dim1: x.transpose(dim0, dim1), "transpose_copy", "transpose")
_copy_of(lambda x: x.t(), "t_copy", "t")
_copy_of(lambda x, dim=0: x.unbind(dim), "unbind_copy", "unbind")
_copy_of(lambda x, dimension, size, step: x.unfold(dimension, size, step), "unfold_copy", "Tensor.unfold")
_copy_of(lambda x, size, stride, storage_offset=None: x.as_strided(size, stride, storage_offset),
         "as_strided_copy", "as_strided")
Tensor.narrow_copy = _copy_of(lambda x, dim, start, length: x.narrow(dim, start, length), "narrow_copy", "narrow")


# ----- combinatorics ----------------------------------------------------------------------------------------
def block_diag(*tensors):
    """Block-diagonal matrix with ``tensors`` (0-d, 1-d or 2-d) along the diagonal (``torch.block_diag``)."""
    from ..nn.functional import pad
    from .joining import cat
    blocks = []
    for i, t in enumerate(tensors):
        check_tensor(t, "block_diag")
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
        blocks.append(t.reshape(1, 1) if t.ndim == 0 else t.reshape(1, -1) if t.ndim == 1 else t)
    if not blocks:
        return Tensor._wrap(np.zeros((0, 0), np.float32), _dtype.float32)
    dtype = _dtype.result_type(*blocks)
    width = builtins.sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows.append(pad(b.to(dtype), (left, width - left - b.shape[1])))
        left += b.shape[1]
    return cat(rows, 0)


def cartesian_prod(*tensors):
    """All combinations of one element from each 1-d tensor, one per row (``torch.cartesian_prod``)."""
    from .joining import meshgrid, stack
    for t in tensors:
        check_tensor(t, "cartesian_prod")
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


@tensor_method("combinations")
def combinations(input, r=2, with_replacement=False):
    """All length-``r`` combinations of the elements of 1-d ``input``, one per row (``torch.combinations``)."""
    import itertools
    check_tensor(input, "combinations")
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty((0,))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    index = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return input[Tensor._wrap(index, _dtype.int64, input._device)]


# ----- statistics -------------------------------------------------------------------------------------------
@tensor_method("cov")
def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows of ``input`` (variables) over its columns (observations) (``torch.cov``)."""
    check_tensor(input, "cov")
    if input.ndim > 2:
        raise ValueError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                         f"{input.ndim} dimensions")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if not x.dtype.is_floating_point:
        x = x.to(_dtype.get_default_dtype())
    n = x.shape[1]
    w = None
    for name, weights in (("fweights", fweights), ("aweights", aweights)):
        if weights is None:
            continue
        if weights.ndim > 1 or weights.numel() != n:
            raise RuntimeError(f"cov(): expected {name} to have one dimension and the same number of elements as "
                               f"input has observations ({n}) but got {list(weights.shape)}")
        if name == "fweights" and weights.dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got {weights.dtype}")
        if bool((weights < 0).any()):
            raise RuntimeError(f"cov(): {name} cannot be negative")
        w = weights if w is None else w * weights
    if w is None:
        avg = x.mean(1)
        norm = n - correction
    else:
        w = w.to(x.dtype)
        w_sum = w.sum()
        avg = (x * w).sum(1) / w_sum
        if correction == 0:
            norm = w_sum
        elif aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * aweights).sum() / w_sum
    centred = x - avg.unsqueeze(1)
    weighted = centred if w is None else centred * w
    norm = norm.clamp_min(0) if isinstance(norm, Tensor) else builtins.max(norm, 0)
    return (centred @ weighted.t() / norm).squeeze()


@tensor_method("corrcoef")
def corrcoef(input):
    """Pearson correlation coefficients of the rows of ``input`` (``torch.corrcoef``)."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    return (c / std.unsqueeze(1) / std.unsqueeze(0)).clamp(-1, 1)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, name, ignore_nan):
    check_tensor(input, name)
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if input.dtype not in (_dtype.float32, _dtype.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    scalar_q = not isinstance(q, Tensor) or q.ndim == 0
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q.dtype is not input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        qs = q._data.reshape(-1).astype(np.float64)
    else:
        qs = np.array([q], dtype=np.float64)
    if ((qs < 0) | (qs > 1)).any():
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if dim is None:
        x = input.reshape(-1)
    else:
        d = wrap_dim(dim, input.ndim, name)
        x = (input.reshape(1) if input.ndim == 0 else input).movedim(d, -1)
    ordered = x.sort(-1).values  # NaNs sort last
    n = x.shape[-1]
    _jit.host_read(f"{name}() computes its ranks on the host from the values (NaN counts, q)")
    nans = np.isnan(host_array(ordered._values())).sum(-1, keepdims=True)
    # rank of the last usable element per row: the last non-NaN for nanquantile; for quantile a row with a
    # NaN uses the last element (a NaN), so its result is NaN as in PyTorch
    last = np.maximum(n - nans - 1, 0) if ignore_nan else np.where(nans > 0, 0, n - 1)
    q_shape = (-1,) + (1,) * ordered.ndim
    ranks = qs.reshape(q_shape) * last
    if not ignore_nan:
        ranks = np.where(nans > 0, n - 1, ranks)
    ranks = {"lower": np.floor, "higher": np.ceil, "nearest": np.round}.get(interpolation, lambda r: r)(ranks)
    lo = np.floor(ranks).astype(np.int64)
    hi = np.ceil(ranks).astype(np.int64)
    expanded = ordered.unsqueeze(0).expand((len(qs),) + ordered.shape)
    v_lo = expanded.gather(-1, Tensor._wrap(lo, _dtype.int64, input._device))
    v_hi = expanded.gather(-1, Tensor._wrap(hi, _dtype.int64, input._device))
    last_t = Tensor._wrap(last.astype(input.dtype.np), input.dtype, input._device)
    lo_t = Tensor._wrap(lo.astype(input.dtype.np), input.dtype, input._device)
    if interpolation == "midpoint":
        weight = Tensor._wrap(np.full(lo.shape, 0.5, input.dtype.np), input.dtype, input._device)
    elif interpolation == "linear" and isinstance(q, Tensor):
        weight = q.reshape(q_shape) * last_t - lo_t  # differentiable in q, as PyTorch's is
    else:
        weight = Tensor._wrap((ranks - lo).astype(input.dtype.np), input.dtype, input._device)
    result = v_lo.lerp(v_hi, weight).squeeze(-1)
    if keepdim:
        result = result.reshape((len(qs),) + (1,) * input.ndim) if dim is None else \
            result.unsqueeze(d + 1) if input.ndim else result
    elif dim is not None and input.ndim == 0:
        result = result.reshape((len(qs),))
    return result.squeeze(0) if scalar_q else result


@tensor_method("quantile")
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The ``q``-th quantiles of ``input`` along ``dim`` (all elements when None) (``torch.quantile``)."""
    return _finish(_quantile(input, q, dim, keepdim, interpolation, "quantile", False), out)


@tensor_method("nanquantile")
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """Like :func:`quantile` but ignoring NaNs (``torch.nanquantile``)."""
    return _finish(_quantile(input, q, dim, keepdim, interpolation, "nanquantile", True), out)


@tensor_method("histc")
def histc(input, bins=100, min=0, max=0, *, out=None):
    """Histogram of ``input`` with ``bins`` equal bins over [min, max] (data range when both are 0)."""
    check_tensor(input, "histc")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_type_word(input.dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for bins")
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    _jit.host_read("histc() counts on the host")
    values = input._values().reshape(-1) if input.dtype is _dtype.bfloat16 else input._data.reshape(-1)
    ftype = values.dtype.type
    lo, hi = ftype(min), ftype(max)
    if lo == hi and values.size:
        lo, hi = values.min(), values.max()
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    keep = values[(values >= lo) & (values <= hi)]
    pos = ((keep - lo) * ftype(bins) / (hi - lo)).astype(np.int64)
    counts = np.bincount(np.minimum(pos, bins - 1), minlength=bins).astype(values.dtype)
    result = Tensor._wrap(counts, None, input._device).to(input.dtype)
    return _finish(result, out)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` occurs in ``test_elements`` (``torch.isin``)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments: expected at least one Tensor")
    like = elements if isinstance(elements, Tensor) else test_elements
    a = host_array(elements._values()) if isinstance(elements, Tensor) else np.asarray(elements)
    b = host_array(test_elements._values()) if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    _jit.host_read("isin() compares on the host")
    found = np.isin(a, b, invert=invert)
    return Tensor._wrap(np.asarray(found, dtype=np.bool_), _dtype.bool, like._device)


# ----- integration ------------------------------------------------------------------------------------------
def _trapezoid_terms(y, x, dx, dim, name):
    check_tensor(y, name)
    d = wrap_dim(dim, y.ndim, name)
    n = y.shape[d]
    pair_sum = y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1) if n > 0 else y.narrow(d, 0, 0)
    if x is None:
        return pair_sum * ((1.0 if dx is None else dx) / 2), d
    if x.ndim == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        shape = [1] * y.ndim
        shape[d] = n
        x = x.reshape(shape)
    xd = wrap_dim(d - y.ndim, x.ndim, name) if x.ndim else 0
    spacing = x.narrow(xd, 1, x.shape[xd] - 1) - x.narrow(xd, 0, x.shape[xd] - 1)
    return pair_sum * spacing / 2, d


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """Integral of ``y`` along ``dim`` by the trapezoidal rule, at points ``x`` or spacing ``dx``."""
    if isinstance(x, (int, float)) and not isinstance(x, builtins.bool):
        x, dx = None, x
    if x is not None and dx is not None:
        raise RuntimeError("trapezoid: received both x and dx; provide only one")
    terms, d = _trapezoid_terms(y, x, dx, dim, "trapezoid")
    return terms.sum(d)


def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of :func:`trapezoid` (``torch.trapz``)."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoidal integral of ``y`` along ``dim`` (``torch.cumulative_trapezoid``)."""
    if isinstance(x, (int, float)) and not isinstance(x, builtins.bool):
        x, dx = None, x
    terms, d = _trapezoid_terms(y, x, dx, dim, "cumulative_trapezoid")
    return terms.cumsum(d)


# ----- norms and shapes -------------------------------------------------------------------------------------
@tensor_method("renorm")
def renorm(input, p, dim, maxnorm, *, out=None):
    """Rescale each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` to norm ``maxnorm``."""
    check_tensor(input, "renorm")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = wrap_dim(dim, input.ndim, "renorm")
    others = tuple(i for i in range(input.ndim) if i != d)
    from .. import linalg
    norms = linalg.vector_norm(input, p, others, True) if others else input.abs() if p else input
    factor = where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return _finish(input * factor, out)


@tensor_method("sum_to_size")
def sum_to_size(self, *size):
    """Sum ``self`` down to ``size``, which it must be expandable from (``Tensor.sum_to_size``)."""
    from ._checks import shape_arg
    shape = shape_arg(size, "sum_to_size")
    lead = self.ndim - len(shape)
    ok = lead >= 0 and all(s == 1 or s == t for s, t in zip(shape, self.shape[lead:]))
    if not ok:
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(self.shape)}}}.")
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and self.shape[lead + i] != 1)
    result = self.sum(dims, keepdim=True) if dims else self
    return result.reshape(shape)


def constant_pad_nd(input, pad, value=0):
    """Pad ``input`` with ``value`` (``pad`` lists before/after amounts from the last dim backwards)."""
    from ..nn.functional import pad as pad_fn
    return pad_fn(input, pad, "constant", value)


@tensor_method("new_empty_strided")
def new_empty_strided(self, size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                      pin_memory=False):
    """An uninitialised tensor with ``size`` and ``stride``, and ``self``'s dtype and device by default."""
    from .._creation import empty_strided
    return empty_strided(size, stride, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    """An uninitialised tensor of ``size`` whose memory is laid out in ``physical_layout`` order."""
    from .._creation import empty
    if sorted(physical_layout) != list(range(len(size))):
        raise RuntimeError("Dimension out of range" if len(physical_layout) == len(size) else
                           f"Number of dimensions in size does not match the length of the physical_layout; "
                           f"i.e. len(size) = {len(size)} is not equal to len(physical_layout) = "
                           f"{len(physical_layout)}")
    physical = empty([size[i] for i in physical_layout], dtype=dtype, device=device)
    inverse = [physical_layout.index(i) for i in range(len(size))]
    result = physical.permute(inverse)
    return result.requires_grad_(requires_grad) if requires_grad else result


__all__ += ["block_diag", "cartesian_prod", "combinations", "cov", "corrcoef", "quantile", "nanquantile", "histc",
            "isin", "trapezoid", "trapz", "cumulative_trapezoid", "renorm", "constant_pad_nd", "empty_permuted"]


@tensor_method("resize_")
def resize_(self, *sizes, memory_format=None):
    """Give ``self`` shape ``sizes`` in place, keeping its leading elements; new elements are uninitialised."""
    from ._checks import shape_arg
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    shape = shape_arg(sizes, "resize_")
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
    flat = self._data.reshape(-1)
    count = int(np.prod(shape, dtype=np.int64))
    data = np.zeros(count, dtype=flat.dtype)
    data[:builtins.min(count, flat.size)] = flat[:count]
    self._data = data.reshape(shape)
    self._vc.value += 1
    return self


@tensor_method("resize_as_")
def resize_as_(self, the_template, *, memory_format=None):
    """:func:`resize_` to the shape of ``the_template``."""
    return resize_(self, the_template.shape)


def _window(name, periodic, dtype, make):
    if dtype is not None and not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    return make(not periodic)


def _window_length(name, window_length):
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """Hann window of ``window_length`` samples; periodic by default (``torch.hann_window``)."""
    from ..signal import hann
    _window_length("hann_window", window_length)
    return _window("hann_window", periodic, dtype, lambda sym: hann(
        window_length, sym=sym, dtype=dtype, device=device, requires_grad=requires_grad))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   requires_grad=False):
    """Hamming window alpha - beta cos(2 pi n / N) (``torch.hamming_window``)."""
    from ..signal import general_cosine
    _window_length("hamming_window", window_length)
    return _window("hamming_window", periodic, dtype, lambda sym: general_cosine(
        window_length, a=[alpha, beta], sym=sym, dtype=dtype, device=device, requires_grad=requires_grad))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """Blackman window (``torch.blackman_window``)."""
    from ..signal import blackman
    _window_length("blackman_window", window_length)
    return _window("blackman_window", periodic, dtype, lambda sym: blackman(
        window_length, sym=sym, dtype=dtype, device=device, requires_grad=requires_grad))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """Triangular window (``torch.bartlett_window``)."""
    from ..signal import bartlett
    _window_length("bartlett_window", window_length)
    return _window("bartlett_window", periodic, dtype, lambda sym: bartlett(
        window_length, sym=sym, dtype=dtype, device=device, requires_grad=requires_grad))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False):
    """Kaiser window with shape parameter ``beta`` (``torch.kaiser_window``)."""
    from ..signal import kaiser
    _window_length("kaiser_window", window_length)
    return _window("kaiser_window", periodic, dtype, lambda sym: kaiser(
        window_length, beta=beta, sym=sym, dtype=dtype, device=device, requires_grad=requires_grad))


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """Layer norm returning (output, mean, rstd) with mean/rstd keeping the normalised dims as size 1."""
    from ..nn.functional.normalization import _normalized_dims
    _, dims = _normalized_dims(input, normalized_shape, "native_layer_norm")
    mean = input.mean(dims, keepdim=True)
    rstd = ((input - mean) ** 2).mean(dims, keepdim=True).add(eps).rsqrt()
    out = (input - mean) * rstd
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out, mean, rstd


__all__ += ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window",
            "native_layer_norm"]
