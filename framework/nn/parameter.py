"""``Parameter`` (a leaf tensor a Module registers as learnable) and ``Buffer`` (a tensor it registers as state)."""
from .. import _dtype
from .._tensor import Tensor

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]


class Parameter(Tensor):
    """A tensor that a Module registers as a parameter when assigned as an attribute (``torch.nn.Parameter``)."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from .._creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not {type(data).__name__}")
        self = object.__new__(cls)
        Tensor._init_from(self, data.detach())
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = bool(requires_grad)
        return self

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        import numpy as np
        host = self._data if self._device.type == "cpu" else self.detach().cpu()._data
        return (_rebuild_parameter, (np.array(host), self.dtype.name, str(self._device), self._requires_grad,
                                     dict(self.__dict__)))


def _rebuild_parameter(array, dtype_name, device, requires_grad, state):
    data = Tensor._wrap(array, getattr(_dtype, dtype_name))
    if device != "cpu":
        data = data.to(device)
    param = Parameter(data, requires_grad)
    param.__dict__.update(state)
    return param


class _BufferMeta(type):
    # Buffer(...) returns a plain Tensor marked as a buffer; isinstance recognises the mark.
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and getattr(obj, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    """Marks a tensor to be registered as a (persistent or not) buffer when assigned to a Module (``nn.Buffer``)."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            from .._creation import empty
            data = empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t


class _Unmaterialized:
    """Stands in for the array of a tensor whose shape is not known yet: any use raises PyTorch's ValueError."""

    def _fail(self, *args, **kwargs):
        raise ValueError("Attempted to use an uninitialized parameter. This error happens when you are using a "
                         "`LazyModule` or explicitly manipulating `torch.nn.parameter.UninitializedParameter` "
                         "objects. When using LazyModules Call `forward` with a dummy batch to initialize the "
                         "parameters before calling torch functions")

    def __getattr__(self, name):
        self._fail()

    __array__ = __len__ = __getitem__ = __iter__ = _fail


class _UninitializedMixin:
    """Shape-less tensor state; ``materialize(shape)`` allocates it and turns it into ``cls_to_become``."""

    cls_to_become = None

    def _init_uninitialized(self, requires_grad, device, dtype):
        from .._creation import empty
        Tensor._init_from(self, empty(0, device=device, dtype=dtype))
        self._data = _Unmaterialized()
        self._requires_grad = requires_grad

    def materialize(self, shape, device=None, dtype=None):
        """Allocate storage of ``shape`` (uninitialised values) and become a normal Parameter/Tensor."""
        from .._creation import empty
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        real = empty(shape, device=device or self._device, dtype=dtype or self.dtype)
        self._data, self.dtype, self._device = real._data, real.dtype, real._device
        self.__class__ = self.cls_to_become

    def to(self, *args, **kwargs):
        """Record the dtype/device the storage will get when materialised; returns self."""
        from .._device import to_device
        from ..ops.conversion import _parse_to_args
        dtype, device, _, _ = _parse_to_args(args, dict(kwargs))
        if dtype is not None:
            self.dtype = _dtype.to_dtype(dtype)
        if device is not None:
            self._device = to_device(device)
        return self

    def detach(self):
        return type(self)(requires_grad=False, device=self._device, dtype=self.dtype)

    def __repr__(self):
        return f"<{type(self).__name__}>"

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (type(self), (self._requires_grad, str(self._device), self.dtype))

    def __deepcopy__(self, memo):
        return type(self)(self._requires_grad, self._device, self.dtype)


class UninitializedParameter(_UninitializedMixin, Parameter):
    """A parameter whose shape a lazy module fixes on its first forward call."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        self = object.__new__(cls)
        self._init_uninitialized(requires_grad, device, dtype)
        return self


class UninitializedBuffer(_UninitializedMixin, Tensor):
    """A buffer whose shape a lazy module fixes on its first forward call."""

    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None):
        self = object.__new__(cls)
        self._init_uninitialized(requires_grad, device, dtype)
        return self
