"""Distances between paired vectors: ``cosine_similarity``, ``pairwise_distance``, ``pdist``."""
import numpy as np

from ... import _dtype
from ..._tensor import Tensor
from ...ops._checks import wrap_dim
from ...ops.view_ops import broadcast_tensors
from .sparse import take

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def _vector_norm(x, p, dim, keepdim):
    from ...linalg import vector_norm
    return vector_norm(x, p, dim=dim, keepdim=keepdim)


def _common_float(x1, x2):
    common = _dtype.promote_types(x1.dtype, x2.dtype)
    if not common.is_floating_point:
        from ...ops.registry import _type_word
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is {_type_word(common)}")
    return x1.to(common), x2.to(common)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``, each norm floored at ``eps``."""
    if not isinstance(x1, Tensor) or not isinstance(x2, Tensor):
        raise TypeError("cosine_similarity(): arguments 'x1' and 'x2' must be Tensors")
    x1, x2 = _common_float(x1, x2)
    x1, x2 = broadcast_tensors(x1, x2)
    dim = wrap_dim(dim, x1.ndim)
    normalised = []
    for x in (x1, x2):
        norm = _vector_norm(x, 2, dim, True)
        # PyTorch floors the norm's value at eps but lets the gradient through as if unfloored.
        floored = norm + (norm.clamp_min(eps) - norm).detach()
        normalised.append(x / floored)
    return (normalised[0] * normalised[1]).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """p-norm of ``x1 - x2 + eps`` over the last dim (``torch.nn.functional.pairwise_distance``)."""
    if not isinstance(x1, Tensor) or not isinstance(x2, Tensor):
        raise TypeError("pairwise_distance(): arguments 'x1' and 'x2' must be Tensors")
    ndim = max(x1.ndim, x2.ndim)
    diff = x1 - x2 + eps
    if ndim == 0:
        return _vector_norm(diff.reshape(1), p, 0, keepdim).reshape(() if not keepdim else (1,))
    return _vector_norm(diff, p, ndim - 1, keepdim)


def pdist(input, p=2):
    """p-norm distances between all row pairs of an (N, M) input, as the upper triangle (N * (N - 1) / 2,)."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = np.triu_indices(input.shape[0], 1)
    return _vector_norm(take(input, i, 0) - take(input, j, 0), p, 1, False)
