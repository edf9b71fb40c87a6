"""Lookups by index: ``embedding``, ``one_hot``, and the take / put-add pair that padding and resampling use.

``index_take`` reads a tensor at integer indices along one dim; ``index_put_add`` sums back along that dim.
They are each other's adjoints, so every lookup built on them is differentiable any number of times.
"""
import numpy as np

from ... import _dtype
from ..._tensor import Tensor
from ...jit import slot as _jit
from ...ops.registry import dispatch, register_op

__all__ = ["embedding", "one_hot"]


def take(x, indices, dim):
    """``x`` read at ``indices`` (an int64 tensor or array) along ``dim``."""
    return dispatch(_take_op, (x, _index_tensor(indices, x)), {"dim": dim})


def put_add(g, indices, dim, size):
    """Sum the slices of ``g`` into a zero tensor whose ``dim`` has ``size`` entries, at ``indices``."""
    return dispatch(_put_add_op, (g, _index_tensor(indices, g)), {"dim": dim, "size": size})


def constant_like(array, like):
    """A constant tensor of ``array``'s values in ``like``'s floating dtype and device."""
    if like.dtype is _dtype.bfloat16:
        return Tensor._wrap(np.asarray(array, dtype=np.float32), _dtype.float32, like._device).to(like.dtype)
    return Tensor._wrap(np.asarray(array).astype(like.dtype.np), like.dtype, like._device)


def _index_tensor(indices, like):
    if isinstance(indices, Tensor):
        return indices
    return Tensor._wrap(np.asarray(indices, dtype=np.int64), _dtype.int64, like._device)


_take_op = register_op(
    "index_take", lambda n, g: (put_add(g, n.saved[1], n.attrs["dim"], n.input_meta[0][0][n.attrs["dim"]]), None),
    differentiable_inputs=(0,))
_put_add_op = register_op("index_put_add", lambda n, g: (take(g, n.saved[1], n.attrs["dim"]), None),
                          differentiable_inputs=(0,))


def _embedding_grad(node, g):
    weight, indices = node.saved
    if node.attrs["sparse"]:
        raise NotImplementedError("embedding: sparse=True (sparse gradients) is not supported")
    if node.attrs["scale_grad_by_freq"]:
        _jit.host_read("embedding(scale_grad_by_freq=True) counts index frequencies on the host")
        idx = indices._data
        g = g * constant_like(1.0 / np.bincount(idx.ravel(), minlength=weight.shape[0])[idx][..., None], g)
    if node.attrs["padding_idx"] is not None:
        g = g * (indices != node.attrs["padding_idx"]).unsqueeze(-1).to(g.dtype)
    return put_add(g, indices, 0, weight.shape[0]), None


_embedding_op = register_op("embedding", _embedding_grad, differentiable_inputs=(0,))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer ``input`` (``torch.nn.functional.embedding``)."""
    if not isinstance(input, Tensor) or input.dtype not in (_dtype.int64, _dtype.int32):
        kind = f"torch.{_tensor_type(input)}" if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {kind} instead (while checking arguments for embedding)")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx + num if padding_idx < 0 else padding_idx
    indices = input if input.dtype is _dtype.int64 else input.to(_dtype.int64)
    idx = indices._data
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _jit.host_read("embedding(max_norm=...) renormalises the rows it reads in place, on the host")
        _renorm_rows(weight, np.unique(idx), max_norm, norm_type)
    return dispatch(_embedding_op, (weight, indices), {"padding_idx": padding_idx,
                                                      "scale_grad_by_freq": bool(scale_grad_by_freq),
                                                      "sparse": bool(sparse)})


def _tensor_type(t):
    return {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "bfloat16": "BFloat16Tensor",
            "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}.get(
        t.dtype.name, "Tensor")


def _renorm_rows(weight, rows, max_norm, norm_type):
    """Scale, in place, the ``rows`` of ``weight`` whose ``norm_type``-norm exceeds ``max_norm`` (as PyTorch)."""
    if weight.dtype is _dtype.bfloat16:
        raise NotImplementedError("embedding: max_norm on a bfloat16 weight is not supported")
    data = weight._data
    norms = np.linalg.norm(data[rows].astype(np.float64), ord=norm_type, axis=1)
    over = norms > max_norm
    if over.any():
        data[rows[over]] *= (max_norm / (norms[over] + 1e-7))[:, None].astype(data.dtype)
        weight._vc.value += 1


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding of an int64 tensor in a new last dim (``torch.nn.functional.one_hot``)."""
    if not isinstance(tensor, Tensor) or tensor.dtype is not _dtype.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    idx = tensor._data
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        _jit.host_read("one_hot() without num_classes: its output shape depends on the largest class")
        num_classes = int(idx.max()) + 1
    if idx.size:
        if idx.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if idx.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    classes = Tensor._wrap(np.arange(num_classes, dtype=np.int64), _dtype.int64, tensor._device)
    return (tensor.unsqueeze(-1) == classes).to(_dtype.int64)
