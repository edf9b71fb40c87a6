"""Joining, splitting and rearranging: cat/stack and friends, split/chunk/tensor_split, repeat/tile,
repeat_interleave, flip/roll/rot90, tril/triu (and their indices), diag/diag_embed/diagflat, trace, meshgrid.

Splits are views (``narrow``); joins and rearrangements are copies whose derivatives undo them with
framework ops (``narrow`` for cat, a reshape-and-sum for repeat, the inverse flip or roll).
"""
import warnings

import numpy as np

from .. import _dtype
from .._tensor import Tensor
from ..jit import slot as _jit
from ._checks import shape_arg, wrap_dim, wrap_dims
from .indexing import _finish, index_select, take_key
from .registry import commit_inplace, dispatch, register_op, tensor_method
from .view_ops import atleast_1d, atleast_2d, atleast_3d, movedim, narrow, split_views

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "row_stack", "dstack", "column_stack",
           "split", "split_with_sizes", "chunk", "unsafe_split", "unsafe_chunk", "split_with_sizes_copy",
           "tensor_split", "hsplit", "vsplit", "dsplit", "tile",
           "repeat_interleave", "flip", "fliplr", "flipud", "roll", "rot90", "tril", "triu", "tril_indices",
           "triu_indices", "diag", "diag_embed", "diagflat", "trace", "meshgrid"]


# ----- joining -------------------------------------------------------------------------------------------
def _cat_grad(node, g):
    dim, offset, grads = node.attrs["dim"], 0, []
    for size in node.attrs["sizes"]:
        grads.append(narrow(g, dim, offset, size))
        offset += size
    return tuple(grads)


_cat_op = register_op("cat", _cat_grad, save_inputs=False)


def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument 'tensors' (position 1) must be tuple of Tensors, but found element "
                            f"of type {type(t).__name__} at pos {i}")
    return list(tensors)


def cat(tensors, dim=0, *, out=None):
    """Concatenate ``tensors`` along ``dim`` (dtypes promoted; 1-D empty tensors are skipped, as PyTorch does)."""
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = _dtype.promote_types(dtype, t.dtype)
    kept = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    ref = kept[0]
    dim = wrap_dim(dim, ref.ndim)
    for i, t in enumerate(tensors):
        if t.ndim == 1 and t.shape[0] == 0:
            continue
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        for d in range(ref.ndim):
            if d != dim and t.shape[d] != ref.shape[d]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. Expected size "
                                   f"{ref.shape[d]} but got size {t.shape[d]} for tensor number {i} in the list.")
    kept = [t if t.dtype is dtype else t.to(dtype) for t in kept]
    result = dispatch(_cat_op, tuple(kept), {"dim": dim, "sizes": tuple(t.shape[dim] for t in kept)},
                      out_dtype=dtype)
    return _finish(result, out)


concat = concatenate = cat


def stack(tensors, dim=0, *, out=None):
    """Join equally shaped ``tensors`` along a new dim ``dim``."""
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    dim = wrap_dim(dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(dim) for t in tensors], dim, out=out)


def hstack(tensors, *, out=None):
    """Concatenate along dim 1, or dim 0 when all are 1-D."""
    tensors = atleast_1d(*_tensor_list(tensors, "hstack"))
    tensors = tensors if isinstance(tensors, tuple) else (tensors,)
    return cat(tensors, 0 if all(t.ndim == 1 for t in tensors) else 1, out=out)


def vstack(tensors, *, out=None):
    """Concatenate along dim 0 after making each at least 2-D."""
    tensors = atleast_2d(*_tensor_list(tensors, "vstack"))
    return cat(tensors if isinstance(tensors, tuple) else (tensors,), 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    """Concatenate along dim 2 after making each at least 3-D."""
    tensors = atleast_3d(*_tensor_list(tensors, "dstack"))
    return cat(tensors if isinstance(tensors, tuple) else (tensors,), 2, out=out)


def column_stack(tensors, *, out=None):
    """Stack 0-d/1-d tensors as columns (and 2-D ones as they are) along dim 1."""
    tensors = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in _tensor_list(tensors, "column_stack")]
    return cat(tensors, 1, out=out)


# ----- splitting ---------------------------------------------------------------------------------------------
@tensor_method("split_with_sizes")
def split_with_sizes(input, split_sizes, dim=0):
    """Views of consecutive pieces of sizes ``split_sizes`` along ``dim``."""
    dim = wrap_dim(dim, input.ndim)
    sizes = [int(s) for s in split_sizes]
    total = input.shape[dim]
    if sum(sizes) != total or any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {total} (input tensor's size at "
                           f"dimension {dim}), but got split_sizes={sizes}")
    return split_views(input, sizes, dim)


@tensor_method("split")
def split(tensor, split_size_or_sections, dim=0):
    """Views of pieces of ``split_size`` (the last may be smaller), or of the listed sizes, along ``dim``."""
    if isinstance(split_size_or_sections, (list, tuple)):
        return split_with_sizes(tensor, split_size_or_sections, dim)
    size = int(split_size_or_sections)
    dim = wrap_dim(dim, tensor.ndim)
    total = tensor.shape[dim]
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0:
        if total != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {total}")
        return split_views(tensor, [0], dim)
    return split_views(tensor, [min(size, total - start) for start in range(0, max(total, 1), size)], dim)


@tensor_method("chunk")
def chunk(input, chunks, dim=0):
    """At most ``chunks`` views of equal size (the last may be smaller) along ``dim``."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    dim = wrap_dim(dim, input.ndim)
    total = input.shape[dim]
    if total == 0:
        return split_views(input, [0] * chunks, dim)
    return split(input, -(-total // chunks), dim)


@tensor_method("tensor_split")
def tensor_split(input, indices_or_sections, dim=0):
    """Views split into ``n`` near-equal sections, or at the given indices, along ``dim`` (numpy's array_split)."""
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    dim = wrap_dim(dim, input.ndim)
    total = input.shape[dim]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec.dtype is not _dtype.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have ScalarType Long, but got "
                               f"{spec.dtype}")
        if spec.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {spec.ndim} dims")
        spec = spec.item() if spec.ndim == 0 else spec.tolist()
    if isinstance(spec, (list, tuple)):
        bounds = [0] + [min(max(int(i), 0), total) for i in spec] + [total]
        return tuple(narrow(input, dim, a, max(b - a, 0)) for a, b in zip(bounds, bounds[1:]))
    sections = int(spec)
    if sections <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
    base, extra = divmod(total, sections)
    sizes = [base + 1] * extra + [base] * (sections - extra)
    return split_with_sizes(input, sizes, dim)


unsafe_split, unsafe_chunk = split, chunk
Tensor.unsafe_split, Tensor.unsafe_chunk = split, chunk


@tensor_method("split_with_sizes_copy")
def split_with_sizes_copy(input, split_sizes, dim=0, *, out=None):
    """Like :func:`split_with_sizes` but each piece is a copy."""
    pieces = tuple(p.clone() for p in split_with_sizes(input, split_sizes, dim))
    return pieces if out is None else _finish(pieces, out)


def _split_dim(input, sections, dim, op):
    if isinstance(sections, int) and input.shape[dim] % sections:
        raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the size of the dimension "
                           f"{input.shape[dim]} is not divisible by the split_size {sections}!")
    return tensor_split(input, sections, dim)


@tensor_method("hsplit")
def hsplit(input, sections):
    """tensor_split along dim 1 (dim 0 for 1-D); an int must divide the size."""
    return _split_dim(input, sections, 1 if input.ndim > 1 else 0, "hsplit")


@tensor_method("vsplit")
def vsplit(input, sections):
    """tensor_split along dim 0; an int must divide the size."""
    if input.ndim < 2:
        raise RuntimeError(f"torch.vsplit requires a tensor with at least 2 dimension, but got a tensor with "
                           f"{input.ndim} dimensions!")
    return _split_dim(input, sections, 0, "vsplit")


@tensor_method("dsplit")
def dsplit(input, sections):
    """tensor_split along dim 2; an int must divide the size."""
    if input.ndim < 3:
        raise RuntimeError(f"torch.dsplit requires a tensor with at least 3 dimension, but got a tensor with "
                           f"{input.ndim} dimensions!")
    return _split_dim(input, sections, 2, "dsplit")


# ----- repetition --------------------------------------------------------------------------------------------
def _repeat_grad(node, g):
    shape, repeats = node.input_meta[0][0], node.attrs["repeats"]
    if not repeats:
        return g
    padded = (1,) * (len(repeats) - len(shape)) + tuple(shape)
    interleaved = [n for pair in zip(repeats, padded) for n in pair]
    return g.reshape(interleaved).sum(tuple(range(0, 2 * len(repeats), 2))).reshape(shape)


_repeat_op = register_op("repeat", _repeat_grad, save_inputs=False)


@tensor_method("repeat")
def repeat(self, *sizes):
    """Tile ``self`` ``sizes[i]`` times along each dim (leading new dims allowed)."""
    sizes = shape_arg(sizes, "repeat")
    if len(sizes) < self.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    for s in sizes:
        if s < 0:
            padded = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{[a * b for a, b in zip(sizes, padded)]}")
    return dispatch(_repeat_op, (self,), {"repeats": sizes})


@tensor_method("tile")
def tile(input, dims):
    """Repeat ``input`` along each dim; ``dims`` shorter than the rank is padded with leading ones."""
    dims = shape_arg((dims,), "tile")
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


@tensor_method("repeat_interleave")
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or slice along ``dim``) ``repeats`` times, keeping order (``torch.repeat_interleave``)."""
    if repeats is None:
        # repeat_interleave(repeats): each index i, repeats[i] times
        counts = _repeat_counts(input, input.numel(), "repeat_interleave")
        positions = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
        return _checked_output_size(Tensor._wrap(positions, None, input.device), output_size)
    if dim is None:
        input, dim = input.reshape(-1), 0
    dim = wrap_dim(dim, input.ndim)
    size = input.shape[dim] if input.ndim else 1
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        counts = _repeat_counts(repeats, size, "repeat_interleave")
    else:
        count = int(repeats)
        if count < 0:
            raise RuntimeError("repeats can not be negative")
        counts = np.full(size, count, dtype=np.int64)
    positions = Tensor._wrap(np.repeat(np.arange(size, dtype=np.int64), counts), None, input.device)
    source = input if input.ndim else input.reshape(1)
    return _checked_output_size(index_select(source, dim, positions), output_size, dim)


def _repeat_counts(repeats, size, op):
    if repeats.ndim > 1:
        raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
    if repeats.dtype not in (_dtype.int64, _dtype.int32):
        raise RuntimeError("repeats has to be Long or Int tensor")
    _jit.host_read(f"{op}() with a repeats tensor: its output shape depends on the repeat counts")
    counts = repeats._data.reshape(-1).astype(np.int64)
    if counts.size != size:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                           f"{counts.size} and input.size(0) = {size}")
    if counts.size and counts.min() < 0:
        raise RuntimeError("repeats can not be negative")
    return counts


def _checked_output_size(result, output_size, dim=0):
    if output_size is not None and result.shape[dim] != output_size:
        raise RuntimeError(f"repeat_interleave: Allocated size does not match required size (output_size="
                           f"{output_size}, required {result.shape[dim]})")
    return result


# ----- rearranging -------------------------------------------------------------------------------------------
_flip_op = register_op("flip", lambda n, g: dispatch(_flip_op, (g,), n.attrs), save_inputs=False)


@tensor_method("flip")
def flip(input, *args, dims=None):
    """A copy with the order of elements reversed along ``dims`` (``x.flip(0, 1)`` also works)."""
    if dims is None:
        dims = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
    return dispatch(_flip_op, (input,), {"dims": wrap_dims(dims, input.ndim, "flip")})


@tensor_method("fliplr")
def fliplr(input):
    """Flip left-right (dim 1)."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


@tensor_method("flipud")
def flipud(input):
    """Flip up-down (dim 0)."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def _roll_grad(node, g):
    shifts = node.attrs["shifts"]
    back = -shifts if isinstance(shifts, int) else tuple(-s for s in shifts)
    return dispatch(_roll_op, (g,), {"shifts": back, "dims": node.attrs["dims"]})


_roll_op = register_op("roll", _roll_grad, save_inputs=False)


@tensor_method("roll")
def roll(input, shifts, dims=None):
    """Shift elements cyclically by ``shifts`` along ``dims`` (over the flattened tensor when dims is None)."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return dispatch(_roll_op, (input,), {"shifts": shifts[0], "dims": None})
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    dims = tuple(wrap_dim(d, input.ndim) for d in dims)
    return dispatch(_roll_op, (input,), {"shifts": shifts, "dims": dims})


@tensor_method("rot90")
def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane ``dims``, from the first towards the second."""
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = wrap_dim(dims[0], input.ndim), wrap_dim(dims[1], input.ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return flip(input, (d1,)).transpose(d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(input, (d0,)).transpose(d0, d1)
    return input.clone()


# ----- triangles and diagonals ----------------------------------------------------------------------------
def _triangle(name):
    op = register_op(name, lambda n, g: dispatch(op, (g,), n.attrs), save_inputs=False)

    def fn(input, diagonal=0, *, out=None):
        if input.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        return _finish(dispatch(op, (input,), {"diagonal": int(diagonal)}), out)
    fn.__name__ = name
    fn.__doc__ = (f"The {'lower' if name == 'tril' else 'upper'} triangle of the last two dims (from diagonal "
                  "``diagonal``), zeros elsewhere.")
    setattr(Tensor, name, fn)
    setattr(Tensor, name + "_", lambda self, diagonal=0: commit_inplace(self, fn(self, diagonal)))
    return fn


tril = _triangle("tril")
triu = _triangle("triu")


def _triangle_indices(lower, row, col, offset, dtype, device):
    from .._creation import tensor
    rows, cols = np.tril_indices(row, offset, col) if lower else np.triu_indices(row, offset, col)
    return tensor(np.stack([rows, cols]).reshape(2, -1), dtype=dtype, device=device)


def tril_indices(row, col, offset=0, *, dtype=_dtype.int64, device=None, layout=None):
    """The (2, N) row/column coordinates of the lower triangle of a ``row`` x ``col`` matrix."""
    return _triangle_indices(True, row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=_dtype.int64, device=None, layout=None):
    """The (2, N) row/column coordinates of the upper triangle of a ``row`` x ``col`` matrix."""
    return _triangle_indices(False, row, col, offset, dtype, device)


def _diagonal_key(rows, cols, offset, lead):
    """An advanced key picking the ``offset`` diagonal of the last two dims of a (…, rows, cols) tensor."""
    n = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    i = np.arange(n, dtype=np.int64)
    r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
    return (None,) * lead + (r, c)


def _take_diagonal(t, offset, dim1, dim2):
    """A copy of the ``offset`` diagonal of the (dim1, dim2) planes of ``t``, in a new last dim."""
    t = movedim(t, (dim1, dim2), (-2, -1))
    return take_key(t, _diagonal_key(t.shape[-2], t.shape[-1], offset, t.ndim - 2))


_diag_embed_op = register_op(
    "diag_embed", lambda n, g: _take_diagonal(g, n.attrs["offset"], n.attrs["dim1"], n.attrs["dim2"]),
    save_inputs=False)


@tensor_method("diag_embed")
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Tensors whose (dim1, dim2) planes hold ``input``'s last-dim vectors on diagonal ``offset``."""
    d1, d2 = wrap_dim(dim1, input.ndim + 1), wrap_dim(dim2, input.ndim + 1)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    source = input if input.ndim else input.reshape(1)
    return dispatch(_diag_embed_op, (source,), {"offset": int(offset), "dim1": d1, "dim2": d2})


@tensor_method("diag")
def diag(input, diagonal=0, *, out=None):
    """A 1-D input on diagonal ``diagonal`` of a square matrix, or a 2-D input's diagonal as a 1-D copy."""
    if input.ndim == 1:
        return _finish(diag_embed(input, diagonal, 0, 1), out)
    if input.ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    return _finish(_take_diagonal(input, int(diagonal), 0, 1), out)


@tensor_method("diagflat")
def diagflat(input, offset=0):
    """The flattened input on diagonal ``offset`` of a square matrix."""
    return diag_embed(input.reshape(-1), offset, 0, 1)


@tensor_method("trace")
def trace(input):
    """Sum of the main diagonal of a matrix."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return _take_diagonal(input, 0, 0, 1).sum()


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-d/1-d tensors: 'ij' (matrix) or 'xy' (Cartesian, first two dims swapped)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    if not tensors:
        raise RuntimeError("torch.meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
        if t.dtype is not tensors[0].dtype:
            raise RuntimeError("torch.meshgrid: Expected all tensors in the tensor list to have the same dtype")
    swap = indexing == "xy" and len(tensors) >= 2
    order = list(range(len(tensors)))
    if swap:
        order[0], order[1] = 1, 0
    shape = tuple(tensors[i].numel() for i in order)
    grids = []
    for i, t in enumerate(tensors):
        axis = order.index(i)
        view = [1] * len(tensors)
        view[axis] = -1
        grids.append(t.reshape(view).expand(shape))
    return tuple(grids)
