"""Indexing: ``t[key]``, ``t[key] = v``, index_put, index_select/add/fill/copy, gather, scatter(_add/_reduce),
take(_along_dim), masked_fill/select/scatter, nonzero, argwhere.

Two primitives carry almost everything: ``index`` (numpy-style advanced indexing, a copy) and
``index_put`` (write or accumulate values at those positions). Their key is a tuple with one entry
per leading dim: None for a full slice, else an integer or bool array. Each is the other's
derivative, so double backward works. ``gather`` is ``index`` with aranges on the other dims, and
``scatter`` is ``index_put`` with the same key. Basic indexing (ints, slices, None, Ellipsis) is a
view taken first, as PyTorch does, so ints never take part in numpy's advanced-index placement.
"""
import builtins
import numbers

import numpy as np

from .. import _dtype
from .._backends import array_module
from .._tensor import Tensor
from ..autograd.grad_mode import state
from ..jit import slot as _jit
from ._checks import broadcast_shapes, wrap_dim
from .elementwise import scalar_tensor_like, where
from .registry import _type_word, commit_inplace, dispatch, register_op, tensor_method
from .view_ops import slice_view

__all__ = ["index_put", "index_put_", "index_select", "index_add", "index_fill", "index_copy", "gather", "scatter",
           "scatter_add", "scatter_reduce", "take", "take_along_dim", "masked_fill", "masked_select",
           "masked_scatter", "nonzero", "argwhere", "put", "index_reduce", "select_scatter", "slice_scatter",
           "diagonal_scatter", "nonzero_static"]

_INDEX_DTYPES = (_dtype.int64, _dtype.int32)
_PLAIN = (int, type(None))  # slice bounds numpy takes as they are


def _zeros(shape, dtype, device):
    """A zero tensor (``_creation`` imports the ops package, so it is imported here lazily)."""
    from .._creation import zeros as make
    return make(shape, dtype=dtype, device=device)


# ----- the two primitives ---------------------------------------------------------------------------
def _index_grad(node, g):
    shape = node.input_meta[0][0]
    return _put(_zeros(shape, dtype=g.dtype, device=g.device), g, node.attrs["key"], True)


def _index_put_grad(node, g):
    key = node.attrs["key"]
    gx = g if node.attrs["accumulate"] else _put(g, _zeros((), dtype=g.dtype, device=g.device), key, False)
    return gx, take_key(g, key)


_index_op = register_op("index", _index_grad, save_inputs=False)
_index_put_op = register_op("index_put", _index_put_grad, save_inputs=False)


def take_key(input, key):
    """``input[key]`` for an advanced key (entries None or index arrays): a differentiable copy."""
    return dispatch(_index_op, (input,), {"key": key})


def _put(input, values, key, accumulate):
    """A copy of ``input`` with ``values`` written (or added) at ``key``: differentiable in both."""
    return dispatch(_index_put_op, (input, values), {"key": key, "accumulate": accumulate})


# ----- key parsing ------------------------------------------------------------------------------------
def _check_bounds(index, size, dim, exc=IndexError, prefix="", negative=True):
    if index.size == 0:
        return
    lo, hi = int(index.min()), int(index.max())
    if hi >= size or lo < (-size if negative else 0):
        bad = hi if hi >= size else lo
        raise exc(f"{prefix}index {bad} is out of bounds for dimension {dim} with size {size}")


def _as_index_array(item):
    """An index given as tensor, numpy array or (nested) list, as an int64 or bool numpy array."""
    if isinstance(item, Tensor):
        if item.dtype is _dtype.uint8:
            item = item.to(_dtype.bool)
        if item.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return _jit.note_index(item)
    if isinstance(item, (list, tuple)) and any(isinstance(v, Tensor) for v in item):
        _jit.host_read("an index given as a list holding tensors (it is converted on the host)")
    array = np.asarray([_as_index_array(v) if isinstance(v, Tensor) else v for v in item]
                       if isinstance(item, (list, tuple)) else item)
    if array.dtype == bool:
        return array
    if array.size == 0:
        return array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return array.astype(np.int64, copy=False)


def _sequence_as_tuple(key):
    """PyTorch reads a list key as a tuple of indices when it holds slices, None, Ellipsis or sequences."""
    if isinstance(key, list) and any(isinstance(k, (slice, list, tuple, Tensor, np.ndarray)) or k is None
                                     or k is Ellipsis for k in key):
        return tuple(key)
    return key if isinstance(key, tuple) else (key,)


def _is_int(item):
    return (isinstance(item, int) or (hasattr(item, "__index__") and not isinstance(item, (Tensor, np.ndarray)))) \
        and not isinstance(item, builtins.bool)


def parse_key(shape, key):
    """Split ``key`` into a basic numpy key (a view of the tensor) and an advanced key on that view.

    The advanced key is None when there are no index tensors; else a tuple with one entry (None for
    a full slice, else an index array) per leading dim of the view.
    """
    items = _sequence_as_tuple(key)
    if all(type(k) in _BASIC_TYPES for k in items):
        return _parse_basic(shape, items), None
    consumed = 0
    for item in items:
        if item is None or item is Ellipsis or isinstance(item, builtins.bool):
            continue
        if isinstance(item, Tensor) and (item.dtype is _dtype.bool or item.dtype is _dtype.uint8):
            consumed += item.ndim
        else:
            consumed += 1
    ndim = len(shape)
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    basic, advanced, dim, has_advanced, seen_ellipsis = [], [], 0, False, False
    for item in items:
        if item is None:
            basic.append(None)
            advanced.append(None)
        elif item is Ellipsis:
            if seen_ellipsis:
                raise IndexError("an index can only have a single ellipsis ('...')")
            seen_ellipsis = True
            span = ndim - consumed
            basic.extend([slice(None)] * span)
            advanced.extend([None] * span)
            dim += span
        elif isinstance(item, builtins.bool):
            basic.append(None)
            advanced.append(None if item else np.zeros(0, dtype=np.int64))
            has_advanced = has_advanced or not item
        elif _is_int(item):
            i, size = item.__index__(), shape[dim]
            if i < -size or i >= size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {size}")
            basic.append(i + size if i < 0 else i)
            dim += 1
        elif isinstance(item, slice):
            if item.step is not None and item.step.__index__() <= 0:
                raise ValueError("step must be greater than zero")
            if not (type(item.start) in _PLAIN and type(item.stop) in _PLAIN and type(item.step) in _PLAIN):
                item = slice(*(None if v is None else v.__index__() for v in (item.start, item.stop, item.step)))
            basic.append(item)
            advanced.append(None)
            dim += 1
        else:
            array = _as_index_array(item)
            has_advanced = True
            if array.dtype == bool:
                for j, n in enumerate(array.shape):
                    if n != shape[dim + j]:
                        raise IndexError(f"The shape of the mask {list(array.shape)} at index {j} does not match "
                                         f"the shape of the indexed tensor {list(shape)} at index {dim + j}")
                basic.extend([slice(None)] * array.ndim)
                dim += array.ndim
            else:
                _check_bounds(array, shape[dim], dim)
                basic.append(slice(None))
                dim += 1
            advanced.append(array)
    basic.append(Ellipsis)  # keeps an all-int key a 0-d view instead of a numpy scalar
    if not has_advanced:
        return tuple(basic), None
    while advanced and advanced[-1] is None:
        advanced.pop()
    return tuple(basic), tuple(advanced)


_BASIC_TYPES = {int, slice, type(None), type(Ellipsis)}


def _parse_basic(shape, items):
    """The common case of ``parse_key``: only ints, slices, None and Ellipsis."""
    ndim = len(shape)
    consumed = sum(1 for k in items if type(k) is int or type(k) is slice)
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    basic, dim = [], 0
    for item in items:
        kind = type(item)
        if kind is int:
            size = shape[dim]
            if item < -size or item >= size:
                raise IndexError(f"index {item} is out of bounds for dimension {dim} with size {size}")
            basic.append(item + size if item < 0 else item)
            dim += 1
        elif kind is slice:
            if item.step is not None and item.step.__index__() <= 0:
                raise ValueError("step must be greater than zero")
            if not (type(item.start) in _PLAIN and type(item.stop) in _PLAIN and type(item.step) in _PLAIN):
                item = slice(*(None if v is None else v.__index__() for v in (item.start, item.stop, item.step)))
            basic.append(item)
            dim += 1
        elif item is None:
            basic.append(None)
        else:
            if Ellipsis in basic:
                raise IndexError("an index can only have a single ellipsis ('...')")
            basic.append(Ellipsis)
            dim += ndim - consumed
    if Ellipsis not in basic:
        basic.append(Ellipsis)  # keeps an all-int key a 0-d view instead of a numpy scalar
    return tuple(basic)


def _is_identity(basic):
    return all(k == slice(None) or k is Ellipsis for k in basic)


@tensor_method("__getitem__")
def getitem(self, key):
    """``self[key]``: a view for ints, slices, None and Ellipsis; a copy with index tensors or masks."""
    if type(key) is int and self._data.ndim and -self._data.shape[0] <= key < self._data.shape[0]:
        return slice_view(self, (key + self._data.shape[0] if key < 0 else key, Ellipsis))
    basic, advanced = parse_key(self._data.shape, key)
    if advanced is None:
        return slice_view(self, basic)
    view = self if _is_identity(basic) else slice_view(self, basic)
    return take_key(view, advanced)


@tensor_method("__setitem__")
def setitem(self, key, value):
    """``self[key] = value`` in place, with ``value`` (tensor or scalar) broadcast and cast to self's dtype."""
    basic, advanced = parse_key(self._data.shape, key)
    if isinstance(value, Tensor):
        value = value if value.dtype is self.dtype else value.to(self.dtype)
    elif isinstance(value, numbers.Number):
        value = scalar_tensor_like(value, self.dtype, self)
    else:
        from .._creation import tensor
        value = tensor(value, dtype=self.dtype, device=self.device)
    target = self if advanced is not None and _is_identity(basic) else slice_view(self, basic)
    if advanced is None:
        value = _strip_leading_ones(value, target.ndim)
        if state.enabled and (value._requires_grad or target._requires_grad):
            commit_inplace(target, value.expand(target.shape).clone())
        else:
            target.copy_(value)
        return
    commit_inplace(target, _put(target, value, advanced, False))


def _strip_leading_ones(value, ndim):
    while value.ndim > ndim and value.shape[0] == 1:
        value = value.reshape(value.shape[1:])
    return value


def _check_index_dtype(index, op, message=None):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.dtype not in _INDEX_DTYPES:
        raise RuntimeError(message or f"{op}(): Expected dtype int32/int64 for index")


def _indices_key(input, indices, op):
    """The advanced key for ``index_put``'s list of optional index tensors."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op}(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
    if len(indices) > input.ndim and not all(isinstance(i, Tensor) and i.dtype is _dtype.bool for i in indices):
        raise IndexError(f"too many indices for tensor of dimension {input.ndim} (got {len(indices)})")
    _, advanced = parse_key(input._data.shape, tuple(slice(None) if i is None else i for i in indices))
    return advanced if advanced is not None else ()


@tensor_method("index_put")
def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``values`` put (or added, ``accumulate``) at the positions ``indices`` name."""
    if values.dtype is not input.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{_type_word(input.dtype)} for the destination and {_type_word(values.dtype)} for the "
                           "source.")
    key = _indices_key(input, indices, "index_put")
    return _put(input, _strip_leading_ones(values, input.ndim), key, bool(accumulate))


@tensor_method("index_put_")
def index_put_(input, indices, values, accumulate=False):
    """In-place :func:`index_put`."""
    return commit_inplace(input, index_put(input, indices, values, accumulate))


# ----- index_* along one dim --------------------------------------------------------------------------
def _dim_index(input, dim, index, op):
    """(dim, key) selecting the entries ``index`` (0-d or 1-d) along ``dim``."""
    _check_index_dtype(index, op, f"{op}(): Expected dtype int32 or int64 for index" if op == "index_select"
                       else f"{op}(): Expected dtype int32/int64 for index but got: {_type_word(index.dtype)}")
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    dim = wrap_dim(dim, input.ndim)
    return dim, (None,) * dim + (_jit.note_index(index if index.ndim == 1 else index.reshape(-1)),)


@tensor_method("index_select")
def index_select(input, dim, index, *, out=None):
    """The entries ``index`` along ``dim`` (``torch.index_select``)."""
    dim, key = _dim_index(input, dim, index, "index_select")
    size = input.shape[dim] if input.ndim else 1
    if key[-1].size and (int(key[-1].min()) < 0 or int(key[-1].max()) >= size):
        raise IndexError("index out of range in self")
    if input.ndim == 0:
        return _finish(take_key(input.reshape(1), key).reshape(()), out)
    return _finish(take_key(input, key), out)


def _check_source(input, dim, index_len, source, op):
    if source.dtype is not input.dtype:
        if op == "index_copy_":
            raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                               f"{_type_word(input.dtype)} and (source) {_type_word(source.dtype)}")
        raise RuntimeError(f"{op}(): self ({_type_word(input.dtype)}) and source ({_type_word(source.dtype)}) must "
                           "have the same scalar type")
    src_shape = list(source.shape) if source.ndim else [1]
    self_shape = list(input.shape) if input.ndim else [1]
    if len(src_shape) != len(self_shape) or src_shape[:dim] + src_shape[dim + 1:] != \
            self_shape[:dim] + self_shape[dim + 1:]:
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified dimension. "
                           f"Got self.shape = {list(input.shape)} source.shape = {list(source.shape)}")
    if src_shape[dim] != index_len:
        raise RuntimeError(f"{op}(): Number of indices ({index_len}) should be equal to source.size(dim): "
                           f"({src_shape[dim]}), for dim: {dim}")


def _put_along(input, dim, key, values, accumulate):
    if input.ndim == 0:
        return _put(input.reshape(1), values.reshape(-1), key, accumulate).reshape(())
    return _put(input, values, key, accumulate)


@tensor_method("index_add")
def index_add(input, dim, index, source, *, alpha=1, out=None):
    """``input`` with ``alpha * source`` added at the entries ``index`` along ``dim``."""
    dim, key = _dim_index(input, dim, index, "index_add_")
    _check_source(input, dim, key[-1].size, source, "index_add_")
    _check_bounds(key[-1], input.shape[dim] if input.ndim else 1, dim, RuntimeError, negative=False)
    values = source if alpha == 1 else source * alpha
    return _finish(_put_along(input, dim, key, values, True), out)


@tensor_method("index_copy")
def index_copy(input, dim, index, source, *, out=None):
    """``input`` with the entries ``index`` along ``dim`` replaced by ``source``'s slices."""
    dim, key = _dim_index(input, dim, index, "index_copy_")
    _check_source(input, dim, key[-1].size, source, "index_copy_")
    _check_bounds(key[-1], input.shape[dim] if input.ndim else 1, dim, IndexError, "index_copy_(): ", False)
    return _finish(_put_along(input, dim, key, source, False), out)


@tensor_method("index_fill")
def index_fill(input, dim, index, value):
    """``input`` with the entries ``index`` along ``dim`` set to ``value`` (scalar or 0-d tensor)."""
    dim, key = _dim_index(input, dim, index, "index_fill_")
    size = input.shape[dim] if input.ndim else 1
    _check_bounds(key[-1], size, dim)
    if isinstance(value, Tensor) and value._requires_grad and state.enabled:
        # each filled position counts once in the value's gradient, however often the index repeats it
        _jit.host_read("index_fill() with a value that requires grad (its index is deduplicated on the host)")
        key = key[:-1] + (np.unique(key[-1] % max(size, 1)),)
    return _put_along(input, dim, key, _fill_value(value, input, "index_fill_"), False)


def _fill_value(value, input, op):
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got tensor with {value.ndim} "
                               "dimension(s).")
        return value if value.dtype is input.dtype else value.to(input.dtype)
    return scalar_tensor_like(value, input.dtype, input)


# ----- gather / scatter ---------------------------------------------------------------------------------
def _dim_key(index, dim):
    """The advanced key pairing ``index`` along ``dim`` with the positions along every other dim."""
    nd = index.ndim
    data = _jit.note_index(index)
    return tuple(data if d == dim else np.arange(n).reshape((n,) + (1,) * (nd - d - 1))
                 for d, n in enumerate(index.shape))


def _gather_checks(input, dim, index, op, src=None):
    _check_index_dtype(index, op)
    dim = wrap_dim(dim, input.ndim)
    if max(index.ndim, 1) != max(input.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    ishape, sshape = list(index.shape) or [1], list(input.shape) or [1]
    for d in range(len(ishape)):
        if d != dim and ishape[d] > sshape[d]:
            if src is None:
                raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index.shape)} to be no "
                                   f"larger than self {list(input.shape)} apart from dimension {dim}")
            break
        if src is not None and ishape[d] > (list(src.shape) or [1])[d]:
            break
    else:
        _check_bounds(index._data, sshape[dim], dim, RuntimeError, negative=False)
        return dim
    raise RuntimeError(f"Expected index {list(index.shape)} to be no larger than self {list(input.shape)} apart "
                       f"from dimension {dim} and to be no larger size than src {list(src.shape)}")


@tensor_method("gather")
def gather(input, dim, index, *, sparse_grad=False, out=None):
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` for dim 0, and so on (``torch.gather``)."""
    if sparse_grad:
        raise NotImplementedError("gather(): sparse_grad=True is not supported (there are no sparse tensors)")
    if index.numel() == 0:  # PyTorch checks nothing about an empty index
        return _finish(take_key(input.reshape(-1), (np.zeros(index.shape, dtype=np.int64),)), out)
    dim = _gather_checks(input, dim, index, "gather")
    if input.ndim == 0 or index.ndim == 0:
        return _finish(take_key(input.reshape(-1), (_jit.note_index(index.reshape(-1)),)).reshape(index.shape), out)
    return _finish(take_key(input, _dim_key(index, dim)), out)


def _scatter_source(input, index, src, op):
    if src.dtype is not input.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype")
    if src.shape != index.shape and index.ndim:
        src = slice_view(src, tuple(slice(0, n) for n in index.shape))
    return src


def _scatter_impl(input, dim, index, values, accumulate):
    if input.ndim == 0 or index.ndim == 0:
        out = _put(input.reshape(-1), values.reshape(-1) if values.ndim else values,
                   (_jit.note_index(index.reshape(-1)),), accumulate)
        return out.reshape(input.shape)
    return _put(input, values, _dim_key(index, dim), accumulate)


@tensor_method("scatter")
def scatter(input, dim, index, src=None, value=None, *, reduce=None, out=None):
    """``input`` with ``src`` (or ``value``) written at ``index`` along ``dim`` (``torch.scatter``)."""
    if src is None and value is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    dim = _gather_checks(input, dim, index, "scatter", src)
    if src is not None:
        values = _scatter_source(input, index, src, "scatter")
    else:
        values = _fill_value(value, input, "scatter")
    if reduce == "multiply":
        if src is None:
            values = values.expand(index.shape)
        return _finish(_scatter_reduce_prim(input, dim, index, values, "prod", True), out)
    return _finish(_scatter_impl(input, dim, index, values, reduce == "add"), out)


@tensor_method("scatter_add")
def scatter_add(input, dim, index, src, *, out=None):
    """``input`` with ``src`` added at ``index`` along ``dim``, repeated indices accumulating."""
    dim = _gather_checks(input, dim, index, "scatter_add", src)
    return _finish(_scatter_impl(input, dim, index, _scatter_source(input, index, src, "scatter_add"), True), out)


_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


@tensor_method("scatter_reduce")
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True, out=None):
    """Combine ``src`` into ``input`` at ``index`` along ``dim`` with sum, prod, mean, amax or amin."""
    if reduce not in _REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    dim = _gather_checks(input, dim, index, "scatter_reduce", src)
    src = _scatter_source(input, index, src, "scatter_reduce")
    if input.ndim == 0 or index.ndim == 0:
        result = scatter_reduce(input.reshape(1), 0, index.reshape(1), src.reshape(1), reduce,
                                include_self=include_self)
        return _finish(result.reshape(input.shape), out)
    if reduce in ("sum", "mean"):
        key = _dim_key(index, dim)
        base = input if include_self else _put(input, _zeros((), dtype=input.dtype, device=input.device), key, False)
        total = _put(base, src, key, True)
        if reduce == "sum":
            return _finish(total, out)
        count = _scatter_count(input, key, include_self)
        mean = total / count if input.dtype.is_floating_point else total.div(count, rounding_mode="floor")
        return _finish(mean, out)
    return _finish(_scatter_reduce_prim(input, dim, index, src, reduce, include_self), out)


def _scatter_count(input, key, include_self):
    """How many values (self included when asked) each position of a scatter combines; at least 1."""
    counts = _put(_zeros(input.shape, dtype=input.dtype, device=input.device),
                 scalar_tensor_like(1, input.dtype, input), key, True)
    return counts + 1 if include_self else counts.clamp_min(1)


def _scatter_reduce_grad(node, g):
    x, index, src, result = node.saved
    reduce, include_self = node.attrs["reduce"], node.attrs["include_self"]
    key = _dim_key(index, node.attrs["dim"])
    touched = _put(_zeros(x.shape, dtype=_dtype.bool, device=x.device), scalar_tensor_like(True, _dtype.bool, x),
                  key, False)
    if reduce == "prod":
        return _scatter_prod_grad(g, x, node.attrs["dim"], index, src, touched, include_self)
    hit_self = where(touched, x == result, True) if include_self else ~touched
    hit_src = src == take_key(result, key)
    count = _put(hit_self.to(g.dtype), hit_src.to(g.dtype), key, True)
    share = g / count
    return where(hit_self, share, 0.0), None, where(hit_src, take_key(share, key), 0.0)


def _scatter_prod_grad(g, x, dim, index, src, touched, include_self):
    """Gradient of a scatter product: each factor gets the product of the others, exactly when zeros occur."""
    zero_src = src == 0
    safe_src = where(zero_src, 1.0, src).to(src.dtype)
    if include_self:
        zero_self = x == 0
        start, zero_count = where(zero_self, 1.0, x).to(x.dtype), zero_self.to(g.dtype)
    else:
        start = where(touched, 1.0, x).to(x.dtype)
        zero_count = _zeros(x.shape, dtype=g.dtype, device=x.device)
    key = _dim_key(index, dim)
    nonzero_prod = _scatter_reduce_prim(start, dim, index, safe_src, "prod", True)
    zero_count = _put(zero_count, zero_src.to(g.dtype), key, True)

    def others(value, zc, prod):
        is_zero = value == 0
        return where(is_zero, where(zc == 1, prod, 0.0), where(zc == 0, prod / where(is_zero, 1.0, value), 0.0))

    gx = g * others(x, zero_count, nonzero_prod) if include_self else where(touched, 0.0, g)
    gsrc = take_key(g, key) * others(src, take_key(zero_count, key), take_key(nonzero_prod, key))
    return gx, None, gsrc


_scatter_reduce_op = register_op("scatter_reduce", _scatter_reduce_grad, save_outputs=True,
                                 differentiable_inputs=(0, 2))


def _scatter_reduce_prim(input, dim, index, src, reduce, include_self):
    return dispatch(_scatter_reduce_op, (input, index, src), {"dim": dim, "reduce": reduce,
                                                              "include_self": include_self})


@tensor_method("take_along_dim")
def take_along_dim(input, indices, dim=None, *, out=None):
    """Values of ``input`` at ``indices`` along ``dim``, broadcasting the other dims (``torch.take_along_dim``)."""
    _check_index_dtype(indices, "take_along_dim", "take_along_dim(): dtype of indices should be int32 or int64 but "
                       f"got {_type_word(indices.dtype)}")
    if dim is None:
        return _finish(gather(input.reshape(-1), 0, indices.reshape(-1)), out)
    dim = wrap_dim(dim, input.ndim)
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
    shape = list(broadcast_shapes(tuple(input.shape[:dim]) + (1,) + tuple(input.shape[dim + 1:]),
                                  tuple(indices.shape[:dim]) + (1,) + tuple(indices.shape[dim + 1:])))
    shape[dim] = input.shape[dim]
    x = input.expand(shape)
    shape[dim] = indices.shape[dim]
    size = input.shape[dim]
    data = indices._data
    _check_bounds(data, size, dim, RuntimeError)
    if _jit.tracer is not None or data.size and data.min() < 0:
        indices = where(indices < 0, indices + size, indices)
    return _finish(gather(x, dim, indices.expand(shape)), out)


@tensor_method("take")
def take(input, index):
    """Elements of the flattened ``input`` at ``index`` (shaped like ``index``)."""
    _check_index_dtype(index, "take", "take(): Expected a long tensor for index, but got " + _type_word(index.dtype))
    n = input.numel()
    data = _jit.note_index(index)
    if data.size and (int(data.max()) >= n or int(data.min()) < -n):
        bad = int(data.max()) if int(data.max()) >= n else int(data.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return take_key(input.reshape(-1), (data,))


@tensor_method("put")
def put(input, index, source, accumulate=False):
    """``input`` with ``source``'s elements written (or added) at flat positions ``index``."""
    _check_index_dtype(index, "put", "put_(): Expected a long tensor for index, but got " + _type_word(index.dtype))
    if source.dtype is not input.dtype:
        raise RuntimeError(f"put_(): self ({_type_word(input.dtype)}) and source ({_type_word(source.dtype)}) must "
                           "have the same scalar type")
    if source.numel() != index.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    n, data = input.numel(), _jit.note_index(index.reshape(-1))
    if data.size and (int(data.max()) >= n or int(data.min()) < -n):
        bad = int(data.max()) if int(data.max()) >= n else int(data.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return _put(input.reshape(-1), source.reshape(-1), (data,), bool(accumulate)).reshape(input.shape)


@tensor_method("index_reduce")
def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """Combine ``source``'s slices into the entries ``index`` along ``dim`` with prod, mean, amax or amin."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    dim, key = _dim_index(input, dim, index, "index_reduce_")
    _check_source(input, dim, key[-1].size, source, "index_reduce_")
    _check_bounds(key[-1], input.shape[dim] if input.ndim else 1, dim, IndexError, "index_reduce_(): ", False)
    if input.ndim == 0:
        return index_reduce(input.reshape(1), 0, index, source.reshape(1), reduce,
                            include_self=include_self).reshape(())
    shape = [1] * source.ndim
    shape[dim] = -1
    spread = index.reshape(shape).expand(tuple(source.shape)).contiguous()
    return scatter_reduce(input, dim, spread, source, reduce, include_self=include_self)


@tensor_method("select_scatter")
def select_scatter(input, src, dim, index):
    """A copy of ``input`` with the slice ``select(dim, index)`` replaced by ``src``."""
    dim = wrap_dim(dim, input.ndim)
    size = input.shape[dim]
    if index < -size or index >= size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at dimension "
                         f"{dim}")
    expected = tuple(input.shape[:dim]) + tuple(input.shape[dim + 1:])
    if tuple(src.shape) != expected:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(expected)}")
    key = (None,) * dim + (np.array([index % size], dtype=np.int64),)
    return _put(input, src.unsqueeze(dim), key, False)


@tensor_method("slice_scatter")
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of ``input`` with the slice ``start:end:step`` along ``dim`` replaced by ``src``."""
    dim = wrap_dim(dim, input.ndim)
    positions = np.arange(input.shape[dim], dtype=np.int64)[slice(start, end, step)]
    expected = tuple(input.shape[:dim]) + (positions.size,) + tuple(input.shape[dim + 1:])
    if tuple(src.shape) != expected:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(expected)}")
    return _put(input, src, (None,) * dim + (positions,), False)


@tensor_method("diagonal_scatter")
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """A copy of ``input`` with the ``offset`` diagonal of the (dim1, dim2) planes replaced by ``src``."""
    from .joining import _diagonal_key
    from .view_ops import movedim
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    moved = movedim(input, (d1, d2), (-2, -1))
    key = _diagonal_key(moved.shape[-2], moved.shape[-1], offset, moved.ndim - 2)
    expected = tuple(moved.shape[:-2]) + (key[-1].size,)
    if tuple(src.shape) != expected:
        raise RuntimeError(f"expected src to have a size equal to the diagonal of self. src size = "
                           f"{list(src.shape)}, diagonal size = {list(expected)}")
    return movedim(_put(moved, src, key, False), (-2, -1), (d1, d2))


@tensor_method("nonzero_static")
def nonzero_static(input, *, size, fill_value=-1):
    """``nonzero(input)`` cut or padded with ``fill_value`` to exactly ``size`` rows."""
    _jit.host_read("nonzero_static() pads its result on the host")
    found = dispatch(_nonzero_op, (input,))._data[:size]
    pad = np.full((size - found.shape[0], found.shape[1]), fill_value, dtype=np.int64)
    return Tensor._wrap(np.concatenate([found, pad]), None, input.device)


# ----- masks ----------------------------------------------------------------------------------------------
def _check_mask(mask, op):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask.dtype is not _dtype.bool:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {mask.dtype.name}")


@tensor_method("masked_fill")
def masked_fill(input, mask, value):
    """``input`` with ``value`` (scalar or 0-d tensor) where ``mask`` is True."""
    _check_mask(mask, "masked_fill_")
    return where(mask, _fill_value(value, input, "masked_fill_"), input)


@tensor_method("masked_select")
def masked_select(input, mask, *, out=None):
    """The elements of ``input`` where ``mask`` (broadcast together) is True, as a 1-D tensor."""
    if not isinstance(mask, Tensor) or mask.dtype is not _dtype.bool:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    x = input.expand(shape) if tuple(input.shape) != shape else input
    m = _jit.note_index(mask)
    m = m if tuple(mask.shape) == shape else array_module(m).broadcast_to(m, shape)
    if not shape:
        return _finish(take_key(x.reshape(1), (m.reshape(1),)), out)
    return _finish(take_key(x, (m,)), out)


@tensor_method("masked_scatter")
def masked_scatter(input, mask, source):
    """``input`` with the positions where ``mask`` is True filled, in order, from ``source``'s elements."""
    _check_mask(mask, "masked_scatter_")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{_type_word(input.dtype)} and {_type_word(source.dtype)}")
    shape = broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    x = input.expand(shape) if tuple(input.shape) != shape else input
    _jit.host_read("masked_scatter() counts the mask's True elements on the host")
    xp = array_module(mask._data)
    m = xp.broadcast_to(mask._data, shape).reshape(shape or (1,))
    n = int(xp.count_nonzero(m))
    if n > source.numel():
        raise RuntimeError("Number of elements of source < number of ones in mask")
    values = source.reshape(-1)[:n]
    if not shape:
        return _put(x.reshape(1), values, (m,), False).reshape(())
    return _put(x, values, (m,), False)


_nonzero_op = register_op("nonzero", None)


@tensor_method("nonzero")
def nonzero(input, *, out=None, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim."""
    result = dispatch(_nonzero_op, (input,))  # a graph break while tracing: its shape depends on values
    if not as_tuple:
        return _finish(result, out)
    if input.ndim == 0:
        return (Tensor._wrap(array_module(result._data).zeros(result.shape[0], dtype=np.int64), None, input.device),)
    return tuple(Tensor._wrap(array_module(result._data).ascontiguousarray(result._data[:, d]), None, input.device)
                 for d in range(input.ndim))


@tensor_method("argwhere")
def argwhere(input):
    """Indices of the non-zero elements as an (n, ndim) int64 tensor."""
    return dispatch(_nonzero_op, (input,))


def _finish(result, out):
    if out is None:
        return result
    from .conversion import write_out
    return write_out(out, result)


def _inplace(name):
    fn = globals()[name]

    def method(self, *args, **kwargs):
        return commit_inplace(self, fn(self, *args, **kwargs))
    method.__name__ = name + "_"
    method.__doc__ = f"In-place :func:`{name}`."
    setattr(Tensor, name + "_", method)


for _name in ("index_add", "index_copy", "index_fill", "scatter", "scatter_add", "masked_fill", "masked_scatter",
              "put"):
    _inplace(_name)


def _scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    """In-place :func:`scatter_reduce` (computes on a copy, since its backward needs the original values)."""
    source = self.clone() if state.enabled and (self._requires_grad or src._requires_grad) else self
    return commit_inplace(self, scatter_reduce(source, dim, index, src, reduce, include_self=include_self))


Tensor.scatter_reduce_ = _scatter_reduce_


def _index_reduce_(self, dim, index, source, reduce, *, include_self=True):
    """In-place :func:`index_reduce` (computes on a copy, since its backward needs the original values)."""
    base = self.clone() if state.enabled and (self._requires_grad or source._requires_grad) else self
    return commit_inplace(self, index_reduce(base, dim, index, source, reduce, include_self=include_self))


Tensor.index_reduce_ = _index_reduce_
