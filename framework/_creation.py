"""Tensor creation: tensor, as_tensor, from_numpy, zeros/ones/full/empty(+_like), arange, linspace, eye, ..."""
import builtins
import math

import numpy as np

from . import _dtype
from ._backends import TABLES, array_module, float32_to_bfloat16
from ._device import to_device
from ._devices import resolve
from ._tensor import Tensor
from .ops._checks import shape_arg

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "scalar_tensor", "zeros", "ones", "full", "empty",
           "zeros_like", "ones_like", "full_like", "empty_like", "arange", "range", "linspace", "logspace", "eye",
           "empty_strided", "frombuffer", "complex"]


def _storage_array(values, dtype):
    """``values`` as a numpy array stored the way ``dtype`` is stored (bfloat16 as rounded bits)."""
    if dtype is _dtype.bfloat16:
        from kernels.cpu.bfloat16 import float32_to_bfloat16_bits
        return float32_to_bfloat16_bits(np.asarray(values, dtype=np.float32))
    if dtype is _dtype.bool:
        return np.asarray(values).astype(np.bool_) if np.asarray(values).dtype != np.bool_ else np.asarray(values)
    return np.asarray(values, dtype=dtype.np)


def _host_full(shape, value, dtype):
    # zeros come from calloc'd pages the OS maps lazily: much faster than writing a large buffer
    if value == 0 and not math.copysign(1.0, value) < 0:
        return np.zeros(shape, dtype)
    return np.full(shape, value, dtype)


# the allocation kernels of backends whose arrays live in host memory (cpu, npu)
_HOST_ALLOCATION = {"alloc_full": _host_full, "alloc_arange": lambda n, dtype: np.arange(n, dtype=dtype),
                    "alloc_eye": lambda n, m, dtype: np.eye(n, m, dtype=dtype)}


def _target(device):
    """The device a factory builds on, concrete (cuda with its index), after PyTorch's errors for an absent one."""
    return resolve(to_device(device))


def _allocate(device, kernel, *args):
    """A new array made in ``device``'s memory by its backend's allocation ``kernel`` (numpy in host memory)."""
    table = TABLES[device.type]
    return (table.get(kernel) or _HOST_ALLOCATION[kernel])(*args)


def _store(values, dtype):
    """``values`` (an array on any device) stored the way ``dtype`` is stored, on the same device."""
    if dtype is _dtype.bfloat16:
        return float32_to_bfloat16(values.astype(np.float32))
    return values.astype(dtype.np, copy=False)


def _finish(array, dtype, device, requires_grad):
    """A tensor around ``array`` on ``device`` (a host array for a GPU is copied there)."""
    out = Tensor._wrap(array, dtype, _target(device))
    if requires_grad:
        out.requires_grad_(True)
    return out


def _infer_dtype(data, array):
    """PyTorch's dtype for data given as Python values or an ndarray."""
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return _dtype.from_numpy(array.dtype)
    kind = array.dtype.kind
    if kind == "f":
        return _dtype.get_default_dtype() if not _holds_tensors(data) else _dtype.from_numpy(array.dtype)
    if kind in "iu":
        return _dtype.int64 if not _holds_tensors(data) else _dtype.from_numpy(array.dtype)
    if kind == "b":
        return _dtype.bool
    if kind == "c":
        raise NotImplementedError("complex tensors are not supported")
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _holds_tensors(data):
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return isinstance(data, Tensor)


def _to_array(data):
    if isinstance(data, Tensor):
        return data.detach()._values()
    if isinstance(data, (list, tuple)) and _holds_tensors(data):
        return np.array([_to_array(d) for d in data])
    try:
        array = np.asarray(data)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"could not build a tensor from {type(data).__name__}: {exc}") from None
    if array.dtype == object:
        bad = _first_non_number(data)
        raise TypeError(f"new(): invalid data type '{type(bad).__name__}'" if bad is not None else
                        "expected sequence of equal-length lists")
    if array.dtype.kind in "US":
        raise TypeError("new(): invalid data type 'str'")
    return array


def _first_non_number(data):
    if isinstance(data, (list, tuple)):
        for d in data:
            bad = _first_non_number(d)
            if bad is not None:
                return bad
        return None
    return None if isinstance(data, (builtins.int, builtins.float, builtins.bool, np.generic, Tensor)) else data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (nested lists, scalars, ndarrays or tensors)."""
    if isinstance(data, Tensor):
        import warnings
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach() or "
                      "sourceTensor.clone().detach().requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
    array = _to_array(data)
    dtype = _infer_dtype(data, array) if dtype is None else _dtype.to_dtype(dtype)
    if isinstance(data, Tensor) and data.dtype is _dtype.bfloat16 and dtype is _dtype.bfloat16:
        stored = data._data.copy()
    else:
        stored = _storage_array(array, dtype)
        if stored is array or np.shares_memory(stored, array):
            stored = stored.copy()
    return _finish(stored, dtype, device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory with a tensor or ndarray when dtype and device allow."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    if isinstance(data, np.ndarray) and (dtype is None or _dtype.to_dtype(dtype).np == data.dtype) \
            and to_device(device).type == "cpu" and data.dtype != np.uint16:
        return Tensor._wrap(data, _dtype.from_numpy(data.dtype))
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """``obj`` as a tensor, sharing memory where possible unless ``copy=True``."""
    out = tensor(obj, dtype=dtype, device=device) if copy else as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        out.requires_grad_(True)
    return out


def from_numpy(ndarray):
    """A tensor sharing memory with ``ndarray`` (``torch.from_numpy``)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if any(s < 0 for s in ndarray.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors with negative "
                         "strides are not currently supported. (You can probably work around this by making a copy "
                         "of your array  with array.copy().) ")
    return Tensor._wrap(ndarray, _dtype.from_numpy(ndarray.dtype))


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over a Python buffer (shares memory)."""
    dtype = _dtype.to_dtype(dtype)
    array = np.frombuffer(buffer, dtype=dtype.np, count=count, offset=offset)
    return _finish(array, dtype, None, requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return full((), s, dtype=dtype or _dtype.get_default_dtype(), device=device, requires_grad=requires_grad)


def _out_or(result, out):
    if out is None:
        return result
    from .ops.conversion import write_out
    return write_out(out, result)


def _filled(size, value, dtype, device, requires_grad, name):
    shape = shape_arg(size, name)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    dtype = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    device = _target(device)
    if dtype is _dtype.bfloat16:
        array = _allocate(device, "alloc_full", shape, _storage_array(value, dtype).item(), np.uint16)
    else:
        array = _allocate(device, "alloc_full", shape, value, dtype.np)
    return _finish(array, dtype, device, requires_grad)


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """A tensor of zeros of the given size."""
    return _out_or(_filled(size, 0, dtype, device, requires_grad, "zeros"), out)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """A tensor of ones of the given size."""
    return _out_or(_filled(size, 1, dtype, device, requires_grad, "ones"), out)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None):
    """An uninitialised tensor of the given size (here: zero-filled, which is one valid 'uninitialised')."""
    return _out_or(_filled(size, 0, dtype, device, requires_grad, "empty"), out)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    out = empty(size, dtype=dtype, device=device, requires_grad=requires_grad)
    return out


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False):
    """A tensor of ``size`` filled with ``fill_value``; dtype inferred from the value when not given."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = _dtype.result_type(fill_value)
    return _out_or(_filled((size,) if isinstance(size, (tuple, list)) else (size,), fill_value, dtype, device,
                           requires_grad, "full"), out)


def _like(input, dtype, device):
    return (input.dtype if dtype is None else _dtype.to_dtype(dtype),
            input.device if device is None else device)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(input, dtype, device)
    return _filled(input.shape, 0, dtype, device, requires_grad, "zeros_like")


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(input, dtype, device)
    return _filled(input.shape, 1, dtype, device, requires_grad, "ones_like")


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(input, dtype, device)
    return _filled(input.shape, 0, dtype, device, requires_grad, "empty_like")


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(input, dtype, device)
    return _filled(input.shape, fill_value, dtype, device, requires_grad, "full_like")


def _number(v, name):
    if isinstance(v, Tensor):
        return v.item()
    if isinstance(v, (builtins.bool, np.bool_)):
        return builtins.int(v)
    if not isinstance(v, (builtins.int, builtins.float, np.number)):
        raise TypeError(f"arange(): argument '{name}' must be Number, not {type(v).__name__}")
    return v


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False,
           pin_memory=False):
    """Values from ``start`` to ``end`` (exclusive) in steps of ``step``."""
    if end is None:
        start, end = 0, start
    start, end, step = _number(start, "start"), _number(end, "end"), _number(step, "step")
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = _dtype.result_type(start, end, step)
    dtype = _dtype.to_dtype(dtype)
    n = math.ceil((end - start) / step)
    device = _target(device)
    # PyTorch computes start + i * step in double (or int64), then casts
    wide = dtype.is_floating_point or any(isinstance(v, builtins.float) for v in (start, end, step))
    values = start + _allocate(device, "alloc_arange", n, np.float64 if wide else np.int64) * step
    return _out_or(_finish(_store(values, dtype), dtype, device, requires_grad), out)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated inclusive arange (``torch.range``)."""
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    dtype = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    device = _target(device)
    values = start + _allocate(device, "alloc_arange", n, np.float64) * step
    return _finish(_store(values, dtype), dtype, device, requires_grad)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    start, end = _number(start, "start"), _number(end, "end")
    if not isinstance(steps, builtins.int) or steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    dtype = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    device = _target(device)
    if steps == 1:
        values = _allocate(device, "alloc_full", (1,), start, np.float64)
    else:
        # PyTorch fills the first half from start and the second half from end (symmetric rounding)
        step = (end - start) / (steps - 1)
        idx = _allocate(device, "alloc_arange", steps, np.float64)
        half = steps // 2
        values = start + step * idx
        values[half:] = end - step * (steps - 1 - idx[half:])
    if not dtype.is_floating_point and dtype is not _dtype.bool:
        values = array_module(values).trunc(values)
    return _out_or(_finish(_store(values, dtype), dtype, device, requires_grad), out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    """``base ** linspace(start, end, steps)``."""
    dtype = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    device = _target(device)
    exps = linspace(start, end, steps, dtype=_dtype.float64, device=device)._data
    values = float(base) ** exps
    if not dtype.is_floating_point:
        values = array_module(values).trunc(values)
    return _out_or(_finish(_store(values, dtype), dtype, device, requires_grad), out)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """A 2-D tensor with ones on the diagonal."""
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"n must be greater or equal to 0, got {n if n < 0 else m}")
    dtype = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    device = _target(device)
    values = _allocate(device, "alloc_eye", n, n if m is None else m, np.float64)
    return _out_or(_finish(_store(values, dtype), dtype, device, requires_grad), out)


def complex(real, imag, *, out=None):
    raise NotImplementedError("complex tensors are not supported")


def _legacy_constructor(self, *args, **kwargs):
    """``torch.Tensor(...)``: sizes make an uninitialised float tensor, a sequence makes a float tensor."""
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"Tensor(): unexpected keyword arguments {sorted(kwargs)}")
    if not args:
        made = zeros(0, device=device)
    elif len(args) == 1 and isinstance(args[0], Tensor):
        made = args[0].detach()
    elif all(isinstance(a, builtins.int) and not isinstance(a, builtins.bool) for a in args) or (
            len(args) == 1 and type(args[0]).__name__ == "Size"):
        made = zeros(*args, dtype=_dtype.float32, device=device)
    else:
        made = tensor(args[0], dtype=_dtype.get_default_dtype(), device=device)
    Tensor._init_from(self, made)


def _new_like(self, dtype, device):
    return (self.dtype if dtype is None else _dtype.to_dtype(dtype), self.device if device is None else device)


def _new_zeros(self, *size, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """Zeros of ``size`` with this tensor's dtype and device unless given (``Tensor.new_zeros``)."""
    dtype, device = _new_like(self, dtype, device)
    return _filled(size, 0, dtype, device, requires_grad, "new_zeros")


def _new_ones(self, *size, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """Ones of ``size`` with this tensor's dtype and device unless given (``Tensor.new_ones``)."""
    dtype, device = _new_like(self, dtype, device)
    return _filled(size, 1, dtype, device, requires_grad, "new_ones")


def _new_empty(self, *size, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """An uninitialised (zero-filled) tensor of ``size`` like this one (``Tensor.new_empty``)."""
    dtype, device = _new_like(self, dtype, device)
    return _filled(size, 0, dtype, device, requires_grad, "new_empty")


def _new_full(self, size, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              pin_memory=False):
    """``fill_value`` in ``size`` with this tensor's dtype and device unless given (``Tensor.new_full``)."""
    dtype, device = _new_like(self, dtype, device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled((size,), fill_value, dtype, device, requires_grad, "new_full")


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """A copy of ``data`` with this tensor's dtype and device unless given (``Tensor.new_tensor``)."""
    dtype, device = _new_like(self, dtype, device)
    return tensor(data.detach() if isinstance(data, Tensor) else data, dtype=dtype, device=device,
                  requires_grad=requires_grad)


for _name, _fn in (("new_zeros", _new_zeros), ("new_ones", _new_ones), ("new_empty", _new_empty),
                   ("new_full", _new_full), ("new_tensor", _new_tensor)):
    _fn.__name__ = _name
    setattr(Tensor, _name, _fn)
