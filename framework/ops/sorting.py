"""Sorting and searching: sort, argsort, msort, topk, unique, unique_consecutive, searchsorted, bucketize.

Also the two index moves their gradients need, ``take_along`` and ``put_along`` (a gather and a scatter-add
along one dim), kept private here so the family's derivatives stand on their own.
"""
import builtins

from .. import _dtype, return_types
from .._tensor import Tensor
from ._checks import wrap_dim
from .reduction import _finish
from .registry import dispatch, register_op, tensor_method

__all__ = ["sort", "argsort", "msort", "topk", "unique", "unique_consecutive", "searchsorted", "bucketize"]

_take_op = register_op(
    "take_along_dim_", lambda n, g, *_: (put_along(g, n.saved[1], n.attrs["dim"], n.input_meta[0][0]), None),
    differentiable_inputs=(0,))
_put_op = register_op(
    "put_along_dim_", lambda n, g, *_: (take_along(g, n.saved[1], n.attrs["dim"]), None),
    differentiable_inputs=(0,))


def take_along(input, indices, dim):
    """``input`` gathered at int64 ``indices`` along ``dim``."""
    return dispatch(_take_op, (input, indices), {"dim": dim})


def put_along(src, indices, dim, shape):
    """Zeros of ``shape`` with ``src`` added at ``indices`` along ``dim`` (repeats accumulate)."""
    return dispatch(_put_op, (src, indices), {"dim": dim, "shape": tuple(shape)})


def _sorted_grad(node, g, *_):
    """Gradient of ops returning (values, indices) with indices kept along ``dim``: scatter back."""
    shape = node.input_meta[0][0]
    return g if not shape else put_along(g, node.saved[1], node.attrs["dim"], shape)


_sort_op = register_op("sort", _sorted_grad, save_inputs=False, save_outputs=True)
_argsort_op = register_op("argsort")
_topk_op = register_op("topk", _sorted_grad, save_inputs=False, save_outputs=True)


def _check_input(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


@tensor_method("sort")
def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    """Sorted values and their original indices along ``dim``; NaN sorts as the largest value.

    The sort is always stable, which ``stable=False`` permits.
    """
    _check_input(input, "sort")
    if isinstance(dim, builtins.bool):
        raise TypeError("sort() received an invalid combination of arguments - got (Tensor, bool): 'stable' is "
                        "keyword-only")
    dim = wrap_dim(dim, input.ndim, "sort")
    values, indices = dispatch(_sort_op, (input,), {"dim": dim, "descending": builtins.bool(descending)})
    return _finish(return_types.named("sort", values, indices), out)


@tensor_method("argsort")
def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort ``input`` along ``dim`` (int64)."""
    _check_input(input, "argsort")
    dim = wrap_dim(dim, input.ndim, "argsort")
    return dispatch(_argsort_op, (input,), {"dim": dim, "descending": builtins.bool(descending)})


@tensor_method("msort")
def msort(input, *, out=None):
    """``input`` sorted along its first dim."""
    return _finish(sort(input, 0).values, out)


@tensor_method("topk")
def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices, in sorted order."""
    _check_input(input, "topk")
    dim = wrap_dim(dim, input.ndim, "topk")
    size = input.shape[dim] if input.ndim else 1
    if not isinstance(k, int) or isinstance(k, builtins.bool):
        raise TypeError(f"topk(): argument 'k' (position 2) must be int, not {type(k).__name__}")
    if k < 0 or k > size:
        raise RuntimeError("selected index k out of range")
    values, indices = dispatch(_topk_op, (input,), {"k": k, "dim": dim, "largest": builtins.bool(largest)})
    return _finish(return_types.named("topk", values, indices), out)


_unique_op = register_op("unique")
_unique_consecutive_op = register_op("unique_consecutive")


def _unique_result(values, inverse, counts, return_inverse, return_counts):
    if not (return_inverse or return_counts):
        return values
    return (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())


def _unique_dim(input, dim, name):
    if dim is None:
        return None
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return wrap_dim(dim, input.ndim, name)


@tensor_method("unique")
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (or slices along ``dim``), sorted; optionally the inverse map and the counts."""
    _check_input(input, "unique")
    dim = _unique_dim(input, dim, "unique")
    values, inverse, counts = dispatch(_unique_op, (input,), {"dim": dim})
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


@tensor_method("unique_consecutive")
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive values (or slices along ``dim``); optionally inverse and counts."""
    _check_input(input, "unique_consecutive")
    dim = _unique_dim(input, dim, "unique_consecutive")
    values, inverse, counts = dispatch(_unique_consecutive_op, (input,), {"dim": dim})
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


_searchsorted_op = register_op("searchsorted")


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    """Indices at which ``input`` would be inserted in the innermost dim of ``sorted_sequence`` to keep it sorted."""
    from .elementwise import scalar_tensor_like
    name = "torch.searchsorted()"
    if not isinstance(sorted_sequence, Tensor):
        raise TypeError(f"searchsorted(): argument 'sorted_sequence' (position 1) must be Tensor, not "
                        f"{type(sorted_sequence).__name__}")
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"{name}: side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(f"{name}: side and right can't be set to opposites, got side of left while right "
                               "was True")
        right = side == "right"
    if not isinstance(input, Tensor):
        if sorted_sequence.ndim != 1:
            raise RuntimeError(f"{name}: input value can be a scalar only when boundaries tensor dimension is 1, "
                               f"but we got boundaries tensor dim({sorted_sequence.ndim}) and input value's dim(0) "
                               "numel(1)")
        input = scalar_tensor_like(input, _dtype.result_type(sorted_sequence, input), sorted_sequence)
    if sorted_sequence.ndim == 0:
        raise RuntimeError(f"{name}: boundaries tensor should have positive dimension, but got 0 dimension")
    if sorted_sequence.ndim != 1 and tuple(sorted_sequence.shape[:-1]) != tuple(input.shape[:-1]) or \
            sorted_sequence.ndim != 1 and sorted_sequence.ndim != input.ndim:
        raise RuntimeError(f"{name}: boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                           "boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(sorted_sequence.shape)} and input value tensor {list(input.shape)}")
    inputs = (sorted_sequence, input)
    if sorter is not None:
        if tuple(sorter.shape) != tuple(sorted_sequence.shape):
            raise RuntimeError(f"{name}: boundary and sorter must have the same size, but got boundary tensor "
                               f"{list(sorted_sequence.shape)}and got sorter tensor {list(sorter.shape)}")
        if sorter.dtype is not _dtype.int64:
            raise RuntimeError(f"{name}: sorter must be a tensor of long dtype but got {sorter.dtype}")
        inputs += (sorter,)
    if sorted_sequence.dtype is not input.dtype:
        common = _dtype.promote_types(sorted_sequence.dtype, input.dtype)
        inputs = (sorted_sequence.to(common), input.to(common)) + inputs[2:]
    attrs = {"right": builtins.bool(right), "out_int32": builtins.bool(out_int32)}
    return _finish(dispatch(_searchsorted_op, inputs, attrs), out)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """Index of the bucket of each element of ``input`` given 1-D sorted ``boundaries``."""
    if not isinstance(boundaries, Tensor) or boundaries.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension but got dim("
                           f"{getattr(boundaries, 'ndim', 0)})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)
