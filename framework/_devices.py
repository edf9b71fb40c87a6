"""Moving tensors between devices; each device type is served by a backend table in ``_backends``.

The cpu and npu backends keep numpy arrays in host memory (the NPU simulator's GM is filled from them per
kernel), the cuda backend CuPy arrays in GPU memory. A move is a copy recorded as the ``_to_device`` op,
whose derivative moves the gradient back.
"""
from ._backends import TABLES, copy_array
from ._device import cpu as _cpu
from ._device import device as _device_cls
from ._tensor import Tensor
from .autograd.grad_mode import state
from .ops.registry import record, register_op

# "_": a tape-only op with no kernel-table entry (``move`` below does the copy)
_to_device_op = register_op("_to_device", lambda n, g: (g.to(n.attrs["source"]),), save_inputs=False)


def resolve(device):
    """``device`` as tensors hold it (cuda: its GPU index filled in), or PyTorch's error for an absent backend."""
    if device.type == "cuda":
        from . import cuda
        cuda._lazy_init()  # PyTorch's errors without CuPy or a GPU
        if device.index is None:
            return _device_cls("cuda", cuda.current_device())
        if device.index >= cuda.device_count():
            raise RuntimeError(f"CUDA error: invalid device ordinal (device {device.index}, "
                               f"{cuda.device_count()} available)")
    elif device.type not in TABLES:
        raise RuntimeError(f"the {device.type} backend is not available in this build: cannot move a tensor to "
                           f"'{device}'")
    elif device.type == "cpu":
        return _cpu  # host tensors hold plain 'cpu' (PyTorch: 'cpu:0' is 'cpu')
    return device


def move(tensor, device):
    """A copy of ``tensor`` on ``device`` (differentiable); a clear error if that backend is absent."""
    device = resolve(device)
    if device.type == "cuda" and device == tensor._device:
        return tensor
    out = Tensor._wrap(copy_array(tensor._data, device), tensor.dtype, device)
    if state.enabled and tensor._requires_grad:
        record(_to_device_op, (tensor,), {"source": tensor._device}, [out])
    return out
