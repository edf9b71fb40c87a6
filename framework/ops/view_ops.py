"""View ops: results share memory (and the version counter) with their input.

view, reshape, flatten, unflatten, squeeze, unsqueeze, permute, transpose, t, T, mT, movedim,
expand, broadcast_to, narrow, select, unbind, diagonal, as_strided, unfold; and ``copy_slices``,
which keeps autograd right when a view is written in place.
"""
import numpy as np

from .._backends import array_module
from .._tensor import Size, Tensor
from ._checks import shape_arg, wrap_dim, wrap_dims
from .registry import REGISTRY, dispatch, record, register_op, tensor_method

__all__ = ["reshape", "flatten", "unflatten", "ravel", "squeeze", "unsqueeze", "permute", "transpose",
           "swapaxes", "swapdims", "t", "movedim", "moveaxis", "broadcast_to", "narrow", "select", "unbind",
           "diagonal", "as_strided", "adjoint", "view_as_real", "broadcast_tensors", "broadcast_shapes",
           "atleast_1d", "atleast_2d", "atleast_3d"]

_view_op = register_op("view", lambda n, g: g.reshape(n.input_meta[0][0]), save_inputs=False, is_view=True)
_reshape_op = register_op("reshape", lambda n, g: g.reshape(n.input_meta[0][0]), save_inputs=False, is_view=True)
_permute_op = register_op("permute", lambda n, g: g.permute(tuple(np.argsort(n.attrs["dims"]))),
                          save_inputs=False, is_view=True)
_expand_op = register_op("expand", lambda n, g: g, save_inputs=False, is_view=True)  # the engine sums to shape


def _view_grad(node, g):
    shape, dtype = node.input_meta[0]
    return _view_backward(g, shape, REGISTRY[node.op].kernel, node.attrs)


_slice_op = register_op("slice", _view_grad, save_inputs=False, is_view=True)
_diagonal_op = register_op("diagonal", _view_grad, save_inputs=False, is_view=True)
_as_strided_op = register_op("as_strided", _view_grad, save_inputs=False, is_view=True)
_unfold_op = register_op("unfold", _view_grad, save_inputs=False, is_view=True)
_view_backward_op = register_op(
    "view_backward", lambda n, g: dispatch(REGISTRY_BY_KERNEL[n.attrs["view"]], (g,), n.attrs["view_attrs"]),
    save_inputs=False)
REGISTRY_BY_KERNEL = {"slice": _slice_op, "diagonal": _diagonal_op, "as_strided": _as_strided_op,
                      "unfold": _unfold_op}


def _view_backward(g, shape, view, attrs):
    return dispatch(_view_backward_op, (g,), {"shape": tuple(shape), "view": view, "view_attrs": attrs})


def _infer_shape(shape, numel, op="view"):
    shape = list(shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[shape.index(-1)] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


@tensor_method("view")
def view(self, *shape):
    """A view with a new shape (no copy); dtype argument reinterprets the bits."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, Size)) and not hasattr(shape[0], "__index__"):
        from .. import _dtype
        target = _dtype.to_dtype(shape[0])
        if target.itemsize != self.dtype.itemsize:
            raise RuntimeError("view(dtype) with a different element size is not supported")
        return Tensor._wrap(self._data.view(target.np), target, self._device)
    shape = _infer_shape(shape_arg(shape, "view"), self._data.size)
    if shape == self._data.shape:
        return dispatch(_view_op, (self,), {"shape": shape})
    return dispatch(_view_op, (self,), {"shape": shape})


@tensor_method("reshape")
def reshape(input, *shape):
    """Same data with a new shape: a view when possible, else a copy (``torch.reshape``)."""
    shape = _infer_shape(shape_arg(shape, "reshape"), input._data.size)
    return dispatch(_reshape_op, (input,), {"shape": shape})


@tensor_method("view_as")
def view_as(self, other):
    return view(self, other.shape)


@tensor_method("reshape_as")
def reshape_as(self, other):
    return reshape(self, other.shape)


@tensor_method("flatten")
def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one."""
    if input.ndim == 0:
        return reshape(input, (1,))
    start, end = wrap_dim(start_dim, input.ndim), wrap_dim(end_dim, input.ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input.shape
    merged = 1
    for s in shape[start:end + 1]:
        merged *= s
    return reshape(input, tuple(shape[:start]) + (merged,) + tuple(shape[end + 1:]))


@tensor_method("ravel")
def ravel(input):
    return reshape(input, (-1,))


@tensor_method("unflatten")
def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes``."""
    dim = wrap_dim(dim, input.ndim)
    sizes = list(shape_arg((sizes,), "unflatten"))
    if len(sizes) == 0:
        raise RuntimeError("unflatten: sizes must be non-empty")
    sizes = list(_infer_shape(sizes, input.shape[dim], "unflatten")) if -1 in sizes else sizes
    prod = 1
    for s in sizes:
        prod *= s
    if prod != input.shape[dim]:
        raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {dim} "
                           f"({input.shape[dim]}) in the input tensor")
    return view(input, tuple(input.shape[:dim]) + tuple(sizes) + tuple(input.shape[dim + 1:])) \
        if input._data.flags.c_contiguous else reshape(input, tuple(input.shape[:dim]) + tuple(sizes) +
                                                       tuple(input.shape[dim + 1:]))


@tensor_method("squeeze")
def squeeze(input, dim=None):
    """Remove size-1 dims (all, or those in ``dim``)."""
    dims = wrap_dims(dim, input.ndim) if dim is not None else range(input.ndim)
    shape = tuple(s for i, s in enumerate(input.shape) if not (i in dims and s == 1))
    return dispatch(_view_op, (input,), {"shape": shape}) if input._data.flags.c_contiguous \
        else dispatch(_reshape_op, (input,), {"shape": shape})


@tensor_method("unsqueeze")
def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim``."""
    dim = wrap_dim(dim, input.ndim + 1)
    shape = tuple(input.shape[:dim]) + (1,) + tuple(input.shape[dim:])
    return dispatch(_reshape_op, (input,), {"shape": shape})


@tensor_method("permute")
def permute(input, *dims):
    """Reorder the dims."""
    dims = shape_arg(dims, "permute") if dims and not isinstance(dims[0], (tuple, list)) or len(dims) != 1 \
        else tuple(dims[0])
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                           f"of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is not equal to "
                           f"len(dims) = {len(dims)}")
    dims = wrap_dims(dims, input.ndim)
    return dispatch(_permute_op, (input,), {"dims": dims})


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input, dim0, dim1):
    """Swap dims ``dim0`` and ``dim1``."""
    d0, d1 = wrap_dim(dim0, input.ndim), wrap_dim(dim1, input.ndim)
    if input.ndim == 0:
        return dispatch(_view_op, (input,), {"shape": ()})
    dims = list(range(input.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return dispatch(_permute_op, (input,), {"dims": tuple(dims)})


swapaxes = swapdims = transpose


@tensor_method("t")
def t(input):
    """Transpose a tensor of at most 2 dims."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input.view(input.shape)


Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))))
Tensor.mT = property(lambda self: _mT(self))
Tensor.H = Tensor.T
Tensor.mH = Tensor.mT


def _mT(self):
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self.ndim}-D tensor.")
    return transpose(self, -2, -1)


@tensor_method("adjoint")
def adjoint(input):
    return _mT(input)


@tensor_method("movedim", "moveaxis")
def movedim(input, source, destination):
    """Move dims at ``source`` to positions ``destination``."""
    src = wrap_dims(source, input.ndim)
    dst = wrap_dims(destination, input.ndim)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain "
                           f"the same number of dims as destination ({list(dst)} dims)")
    order = [d for d in range(input.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, tuple(order))


moveaxis = movedim


@tensor_method("expand")
def expand(input, *sizes):
    """Broadcast to ``sizes`` without copying (-1 keeps a dim)."""
    sizes = shape_arg(sizes, "expand")
    if len(sizes) < input.ndim:
        raise RuntimeError(f"expand(torch.{type(input).__name__}{{{list(input.shape)}}}, size={list(sizes)}): the "
                           f"number of sizes provided ({len(sizes)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({input.ndim})")
    lead = len(sizes) - input.ndim
    shape = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing "
                                   "dimension 0")
            shape.append(s)
            continue
        have = input.shape[i - lead]
        if s == -1:
            s = have
        elif have != s and have != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({have}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(input.shape)}")
        shape.append(s)
    shape = tuple(shape)
    if shape == input._data.shape:
        return dispatch(_view_op, (input,), {"shape": shape})
    return dispatch(_expand_op, (input,), {"shape": shape})


@tensor_method("expand_as")
def expand_as(self, other):
    return expand(self, other.shape)


def broadcast_to(input, size):
    """``input`` expanded to ``size``."""
    return expand(input, size)


Tensor.broadcast_to = broadcast_to


def broadcast_shapes(*shapes):
    from ._checks import broadcast_all_shapes
    return Size(broadcast_all_shapes([(s,) if isinstance(s, int) else s for s in shapes]))


def broadcast_tensors(*tensors):
    """Expand all tensors to their common shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


@tensor_method("narrow")
def narrow(input, dim, start, length):
    """Elements ``start..start+length`` along ``dim`` (a view)."""
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    dim = wrap_dim(dim, input.ndim)
    size = input.shape[dim]
    if isinstance(start, Tensor):
        start = int(start)
    if start < -size or start > size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    start = start + size if start < 0 else start
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    key = (slice(None),) * dim + (slice(start, start + length),)
    return dispatch(_slice_op, (input,), {"key": key})


@tensor_method("select")
def select(input, dim, index):
    """The slice at ``index`` along ``dim``, with that dim removed (a view)."""
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    dim = wrap_dim(dim, input.ndim)
    size = input.shape[dim]
    index = int(index)
    if index < -size or index >= size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at dimension "
                         f"{dim}")
    key = (slice(None),) * dim + (index + size if index < 0 else index,)
    return dispatch(_slice_op, (input,), {"key": key})


def slice_view(input, key):
    """``input[key]`` for a basic numpy key (ints, slices, None, Ellipsis): a view."""
    return dispatch(_slice_op, (input,), {"key": key})


def _split_grad(node, *grads):
    from .joining import cat, stack
    dim = node.attrs["dim"]
    return stack(grads, dim) if node.attrs["squeeze"] else cat(grads, dim)


# one node for all pieces (its backward is one cat/stack), not one per piece, so loops over pieces stay linear
_unbind_op = register_op("unbind", _split_grad, save_inputs=False, is_view=True, kernel="split_views")
_split_op = register_op("split_with_sizes", _split_grad, save_inputs=False, is_view=True, kernel="split_views")


def split_views(input, sizes, dim):
    """Views of consecutive pieces of ``sizes`` along (already wrapped) ``dim``, recorded as one op."""
    return dispatch(_split_op, (input,), {"dim": dim, "sizes": tuple(sizes), "squeeze": False})


@tensor_method("unbind")
def unbind(input, dim=0):
    """The slices along ``dim`` as a tuple of views."""
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    dim = wrap_dim(dim, input.ndim)
    return dispatch(_unbind_op, (input,), {"dim": dim, "sizes": (1,) * input.shape[dim], "squeeze": True})


@tensor_method("diagonal")
def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes, as a view, in the last dim."""
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return dispatch(_diagonal_op, (input,), {"offset": offset, "dim1": d1, "dim2": d2})


@tensor_method("as_strided")
def as_strided(input, size, stride, storage_offset=None):
    """A view with explicit sizes and strides (in elements) over the input's contiguous elements."""
    size, stride = tuple(size), tuple(stride)
    offset = 0 if storage_offset is None else storage_offset
    needed = offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1 if all(size) else 0
    if needed > input.numel():
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset} "
                           f"requiring a storage size of {needed * input.dtype.itemsize} are out of bounds for "
                           f"storage of size {input.numel() * input.dtype.itemsize}")
    return dispatch(_as_strided_op, (input,), {"size": size, "stride": stride, "storage_offset": offset})


@tensor_method("unfold")
def unfold(input, dimension, size, step):
    """Sliding windows of ``size`` with ``step`` along ``dimension`` in a new last dim (a view)."""
    dim = wrap_dim(dimension, input.ndim)
    have = input.shape[dim] if input.ndim else 1
    if size > have:
        raise RuntimeError(f"maximum size for tensor at dimension {dim} is {have} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if input.ndim == 0:
        return reshape(input, (1,))
    return dispatch(_unfold_op, (input,), {"dimension": dim, "size": size, "step": step})


def view_as_real(input):
    raise NotImplementedError("complex tensors are not supported, so view_as_real has nothing to view")


def atleast_1d(*tensors):
    out = tuple(t.reshape(1) if t.ndim == 0 else t for t in _flat(tensors))
    return out[0] if len(out) == 1 else out


def atleast_2d(*tensors):
    out = tuple(t.reshape((1,) * (2 - t.ndim) + tuple(t.shape)) if t.ndim < 2 else t for t in _flat(tensors))
    return out[0] if len(out) == 1 else out


def atleast_3d(*tensors):
    def lift(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        if t.ndim == 2:
            return t.unsqueeze(-1)
        return t
    out = tuple(lift(t) for t in _flat(tensors))
    return out[0] if len(out) == 1 else out


def _flat(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tensors[0]
    return tensors


def _channels_last(t):
    """A copy of 4-D ``t`` laid out NHWC in memory, still indexed NCHW."""
    if t.ndim != 4:
        raise RuntimeError("required rank 4 tensor to use channels_last format")
    nhwc = t.permute(0, 2, 3, 1).clone()
    return nhwc.permute(0, 3, 1, 2)


def apply_view_chain(tensor, chain):
    """Re-apply the view ops recorded in ``chain`` to ``tensor`` (through dispatch, so it is differentiable)."""
    for op, attrs in chain:
        tensor = dispatch(op, (tensor,), attrs)
    return tensor


_copy_slices_op = register_op("copy_slices", lambda n, g: _copy_slices_grad(n, g), save_inputs=False)


def _copy_slices_grad(node, g):
    chain = node.attrs["chain"]
    outside = Tensor._wrap(array_module(g._data).ones(g._data.shape, dtype=bool), None, g._device)
    apply_view_chain(outside, chain)._data[...] = False
    return g * outside.to(g.dtype), apply_view_chain(g, chain)


def copy_slices(base, view_tensor, value):
    """After ``view_tensor`` (a view of ``base``) was overwritten with ``value`` in place, rewire the tape.

    ``base`` gets a node whose gradient passes through outside the view and flows to ``value``
    inside it; ``view_tensor`` becomes a fresh view of the new ``base``.
    """
    chain = view_tensor._view_fn
    from .registry import leaf_edge
    from ..autograd.node import Node
    edges = (leaf_edge(base) if base._requires_grad else None, leaf_edge(value) if value._requires_grad else None)
    meta = ((base.shape, base.dtype), (value.shape, value.dtype))
    node = Node("copy_slices", _copy_slices_op.derivative, {"chain": chain}, edges, meta, 1, ())
    base.grad_fn, base._out_index, base._requires_grad = node, 0, True
    current = base
    for op, attrs in chain[:-1]:
        current = dispatch(op, (current,), attrs)
    op, attrs = chain[-1]
    record(op, (current,), attrs, [view_tensor])


def _inplace_view(self, view):
    """Make ``self`` become ``view`` of its old value in place (``t_``, ``squeeze_``, ...)."""
    from ..autograd.grad_mode import state
    if state.enabled and self._requires_grad and self.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    self._data = view._data
    self._vc.value += 1
    if view.grad_fn is not None:
        self.grad_fn, self._out_index = view.grad_fn, view._out_index
    if self._base is not None:
        self._view_fn = view._view_fn
    return self


def _attach_inplace_view(name, fn):
    def method(self, *args, **kwargs):
        return _inplace_view(self, fn(self, *args, **kwargs))
    method.__name__ = name
    method.__doc__ = f"In-place version of :func:`{fn.__name__}`: changes this tensor's shape and strides."
    setattr(Tensor, name, method)


for _name, _fn in (("t_", t), ("transpose_", transpose), ("swapdims_", transpose), ("swapaxes_", transpose),
                   ("squeeze_", squeeze), ("unsqueeze_", unsqueeze), ("as_strided_", as_strided)):
    _attach_inplace_view(_name, _fn)
