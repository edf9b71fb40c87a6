"""Moving tensors between devices; each device type is served by a backend table in ``_backends``.

Every backend keeps its arrays as numpy arrays in host memory (the NPU simulator's GM is filled from them
per kernel), so a move is a copy recorded as the ``_to_device`` op, whose derivative moves the gradient back.
"""
import numpy as np

from ._backends import TABLES
from ._tensor import Tensor
from .autograd.grad_mode import state
from .ops.registry import record, register_op

# "_": a tape-only op with no kernel-table entry (``move`` below does the copy)
_to_device_op = register_op("_to_device", lambda n, g: (g.to(n.attrs["source"]),), save_inputs=False)


def move(tensor, device):
    """A copy of ``tensor`` on ``device`` (differentiable); a clear error if that backend is absent."""
    if device.type not in TABLES:
        if device.type == "cuda":
            raise AssertionError("Torch not compiled with CUDA enabled (framework: the cuda backend needs the "
                                 "optional 'cupy' package and a GPU)")
        raise RuntimeError(f"the {device.type} backend is not available in this build: cannot move a tensor to "
                           f"'{device}'")
    out = Tensor._wrap(np.array(tensor._data, copy=True, order="C"), tensor.dtype, device)
    if state.enabled and tensor._requires_grad:
        record(_to_device_op, (tensor,), {"source": tensor._device}, [out])
    return out
