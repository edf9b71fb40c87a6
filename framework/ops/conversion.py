"""Dtype and device conversion, copies: to, float/long/..., clone, contiguous, copy_, out= handling."""
import numpy as np

from .. import _dtype
from .._backends import array_module
from .._device import device as _device_cls, to_device
from .._tensor import Tensor
from .registry import commit_inplace, dispatch, register_op, tensor_method, write_array

__all__ = ["clone"]


def _cast_kernel_result(t, dtype):
    if dtype is _dtype.bfloat16:
        from .registry import to_bfloat16_bits
        return to_bfloat16_bits(t._values().astype(np.float32, copy=False))
    values = t._values()
    if dtype is _dtype.bool:
        return values != 0
    return values.astype(dtype.np)


_cast_op = register_op("_to_copy", lambda n, g: (g.to(n.attrs["src_dtype"]),), save_inputs=False)


def cast(t, dtype):
    """``t`` converted to ``dtype`` (a new tensor; differentiable between floating dtypes)."""
    if t.dtype is dtype:
        return t
    out = Tensor._wrap(_cast_kernel_result(t, dtype), dtype, t._device)
    from ..jit import slot
    if slot.tracer is not None:
        slot.tracer.cast(t, out)
    from ..autograd.grad_mode import state
    if state.enabled and t._requires_grad and dtype.is_floating_point:
        from .registry import record
        record(_cast_op, (t,), {"src_dtype": t.dtype}, [out])
    return out


def _parse_to_args(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    memory_format = kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments: unexpected {sorted(kwargs)}")
    for a in args:
        if isinstance(a, _dtype.dtype):
            dtype = a
        elif isinstance(a, (_device_cls, str, int)) and not isinstance(a, bool):
            device = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, bool):
            copy = a if dtype is not None else copy
        elif a is None:
            continue
        else:
            dtype = _dtype.to_dtype(a)
    return dtype, device, copy, memory_format


@tensor_method("to")
def to(self, *args, **kwargs):
    """Convert dtype and/or device: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``."""
    dtype, device, copy, memory_format = _parse_to_args(args, dict(kwargs))
    out = self
    if dtype is not None:
        dtype = _dtype.to_dtype(dtype)
        out = cast(out, dtype)
    if device is not None:
        device = to_device(device)
        if device != out._device:
            from .._devices import move
            out = move(out, device)
    if copy and out is self:
        out = self.clone()
    if memory_format is not None and getattr(memory_format, "name", "") == "channels_last":
        from .view_ops import _channels_last
        out = _channels_last(out)
    return out


def _converter(name, dtype):
    def convert(self, memory_format=None):
        return cast(self, dtype)
    convert.__name__ = name
    convert.__doc__ = f"``self.to({dtype})``."
    setattr(Tensor, name, convert)


for _name, _dt in (("float", _dtype.float32), ("double", _dtype.float64), ("half", _dtype.float16),
                   ("bfloat16", _dtype.bfloat16), ("long", _dtype.int64), ("int", _dtype.int32),
                   ("short", _dtype.int16), ("char", _dtype.int8), ("byte", _dtype.uint8), ("bool", _dtype.bool)):
    _converter(_name, _dt)


@tensor_method("cpu")
def cpu(self, memory_format=None):
    """A copy on the CPU (self if already there)."""
    return self.to("cpu")


@tensor_method("cuda")
def cuda(self, device=None, non_blocking=False, memory_format=None):
    """A copy on a CUDA device."""
    return self.to(_device_cls("cuda", device if isinstance(device, int) else 0) if not isinstance(
        device, (str, _device_cls)) else device)


@tensor_method("npu")
def npu(self, device=None):
    """A copy on the NPU simulator."""
    return self.to("npu")


@tensor_method("type_as")
def type_as(self, other):
    return cast(self, other.dtype)


_clone_op = register_op("clone", lambda n, g: (g,), save_inputs=False)


@tensor_method("clone")
def clone(input, *, memory_format=None):
    """A copy with its own memory, differentiable (``torch.clone``)."""
    out = dispatch(_clone_op, (input,))
    if memory_format is not None and getattr(memory_format, "name", "") == "channels_last":
        from .view_ops import _channels_last
        out = _channels_last(out)
    return out


@tensor_method("contiguous")
def contiguous(self, memory_format=None):
    """Self if already row-major contiguous, else a contiguous copy."""
    if memory_format is not None and getattr(memory_format, "name", "") == "channels_last":
        from .view_ops import _channels_last
        return _channels_last(self)
    if self._data.flags.c_contiguous:
        return self
    return clone(self)


@tensor_method("copy_")
def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, any dtype and device) into self."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' (position 1) must be Tensor, not {type(src).__name__}")
    from ._checks import broadcast_shapes
    if src._data.shape != self._data.shape and broadcast_shapes(src._data.shape, self._data.shape) != self._data.shape:
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                           f"{list(broadcast_shapes(src._data.shape, self._data.shape))}")
    if src._device != self._device:
        src = src.to(self._device)
    from ..autograd.grad_mode import state
    if state.enabled and (src._requires_grad or self._requires_grad):
        # a differentiable copy of src in self's dtype and shape; self then takes its place on the tape
        return commit_inplace(self, clone(src.to(self.dtype).expand(self._data.shape)))
    if array_module(self._data).may_share_memory(self._data, src._data):
        src = Tensor._wrap(src._data.copy(), src.dtype, src._device)
    write_array(self, src)
    self._vc.value += 1
    return self


def write_out(out, result):
    """Implement ``out=``: check the dtype can hold the result, resize if needed, copy, return ``out``."""
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"out= expected a tuple of {len(result)} tensors")
        return tuple(write_out(o, r) for o, r in zip(out, result))
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    from ..autograd.grad_mode import state
    if state.enabled and (out._requires_grad or result._requires_grad):
        raise RuntimeError("functions with out=... arguments don't support automatic differentiation, but one of "
                           "the arguments requires grad.")
    if not _dtype.can_cast(result.dtype, out.dtype):
        from .registry import _type_word
        raise RuntimeError(f"result type {_type_word(result.dtype)} can't be cast to the desired output type "
                           f"{_type_word(out.dtype)}")
    if out._data.shape != result._data.shape:
        if out._data.size != 0:
            import warnings
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out.shape)}, "
                          f"which does not match the required output shape {list(result.shape)}.", UserWarning)
        out._data = array_module(out._data).empty(result._data.shape, dtype=out.dtype.np)
    write_array(out, result)
    out._vc.value += 1
    return out
