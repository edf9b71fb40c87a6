"""``pad``: constant padding is one op (its gradient is a crop, i.e. the same op with negated pads);
reflect, replicate and circular padding are index lookups along each padded dim."""
import numpy as np

from ..._tensor import Tensor
from ...ops.registry import dispatch, register_op
from .sparse import take

__all__ = ["pad"]


def _constant_pad_grad(node, g):
    pads = tuple((-lo, -hi) for lo, hi in node.attrs["pads"])
    return (dispatch(_constant_pad_op, (g,), {"pads": pads, "value": 0}),)


_constant_pad_op = register_op("constant_pad", _constant_pad_grad, save_inputs=False)


def _source_index(size, lo, hi, mode):
    """For each output position along a dim padded by (lo, hi), the input position it copies."""
    if mode == "circular":
        # PyTorch crops the negative sides first, then wraps around what is left.
        kept = size + min(lo, 0) + min(hi, 0)
        return max(-lo, 0) + np.arange(-max(lo, 0), kept + max(hi, 0)) % kept
    pos = np.arange(-lo, size + hi)
    if mode == "reflect":
        return np.abs((size - 1) - np.abs(pos - (size - 1)))
    return np.clip(pos, 0, size - 1)


def _check_non_constant(input, pad, mode):
    n = len(pad) // 2
    if n > 3 or input.ndim not in (n + 1, n + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\nSupported combinations for "
            "non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last dimension)\n  - 3D or 4D input: "
            "padding size = 4 (pads last 2 dimensions)\n  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    for i in range(n):
        dim = input.ndim - 1 - i
        size, lo, hi = input.shape[dim], pad[2 * i], pad[2 * i + 1]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {dim} of input {list(input.shape)}")
        if mode == "circular" and (lo > size or hi > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and size == 0 and (lo > 0 or hi > 0):
            raise RuntimeError(f"padding: input tensor must have non-zero size at dimension {dim}")
        if size + lo + hi < 0 or (mode != "circular" and size + lo + hi == 0 and size != 0):
            raise RuntimeError(f"The input size {size}, plus negative padding {lo} and {hi} resulted in a negative "
                               f"output size, which is invalid. Check dimension {dim} of your input.")


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative sizes, crop) the last ``len(pad) // 2`` dims (``torch.nn.functional.pad``).

    ``pad`` lists (left, right) for the last dim, then the one before it, and so on.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {input.ndim}")
    if mode == "constant":
        pads = [(0, 0)] * input.ndim
        for i in range(len(pad) // 2):
            pads[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        for d, (lo, hi) in enumerate(pads):
            if input.shape[d] + lo + hi < 0:
                raise RuntimeError(f"The input size {input.shape[d]}, plus negative padding {lo} and {hi} resulted in "
                                   f"a negative output size, which is invalid. Check dimension {d} of your input.")
        return dispatch(_constant_pad_op, (input,), {"pads": tuple(pads), "value": 0 if value is None else value})
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    _check_non_constant(input, pad, mode)
    out = input
    for i in range(len(pad) // 2):
        dim = input.ndim - 1 - i
        if pad[2 * i] or pad[2 * i + 1]:
            out = take(out, _source_index(input.shape[dim], pad[2 * i], pad[2 * i + 1], mode), dim)
    return out if out is not input else input.clone()
