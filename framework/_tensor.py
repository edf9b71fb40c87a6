"""Tensor: a backend array plus dtype, device and autograd metadata.

Ops attach themselves as methods from ``framework/ops`` (``tensor_method``); this file keeps the
attributes, conversions and autograd entry points that are not ops.
"""
import numpy as np

from . import _dtype
from ._device import cpu as _cpu
from .autograd.grad_mode import state
from .jit import slot as _jit

__all__ = ["Tensor", "Size"]


class Size(tuple):
    """The shape of a tensor: a tuple of ints (``torch.Size``)."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))


class VersionCounter:
    """Shared by a tensor and its views; bumped by every in-place write."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor:
    """A multi-dimensional array with autograd, as ``torch.Tensor``."""

    __slots__ = ("_data", "dtype", "_device", "_requires_grad", "_grad", "grad_fn", "_vc", "_base", "_view_fn",
                 "_out_index", "_accumulator", "_retains_grad", "__dict__", "__weakref__")
    __array_priority__ = 1000  # numpy defers binary operators to us

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        if cls is Tensor or args or kwargs:
            from ._creation import _legacy_constructor
            _legacy_constructor(self, *args, **kwargs)
        return self

    def __init__(self, *args, **kwargs):
        pass

    @classmethod
    def _wrap(cls, array, dtype=None, device=None, requires_grad=False):
        """A tensor around ``array`` without copying (dtype inferred when None)."""
        self = object.__new__(cls)
        if device is not None and device.type == "cuda" and type(array) is np.ndarray:
            # framework code builds small constants (scalars, masks, eyes) with numpy: they go to the GPU here
            from ._backends import copy_array
            array = copy_array(array, device)
        self._data = array
        self.dtype = _dtype.from_numpy(array.dtype) if dtype is None else dtype
        self._device = _cpu if device is None else device
        self._requires_grad = requires_grad
        self._grad = None
        self.grad_fn = None
        self._vc = VersionCounter()
        self._base = None
        self._view_fn = None
        self._out_index = 0
        self._accumulator = None
        self._retains_grad = False
        return self

    def _init_from(self, other):
        """Fill an uninitialised ``self`` (from ``__new__``) with ``other``'s state."""
        for name in Tensor.__slots__[:-2]:
            object.__setattr__(self, name, getattr(other, name))

    # ----- basic attributes -------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        """The shape, or the size of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._wrap_dim(dim)]

    @property
    def device(self):
        return self._device

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        """Number of dimensions."""
        return self._data.ndim

    ndimension = dim

    def numel(self):
        """Number of elements."""
        return self._data.size

    nelement = numel

    def element_size(self):
        return self.dtype.itemsize

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.dtype.itemsize * self._data.size

    def stride(self, dim=None):
        """Strides in elements (``torch.Tensor.stride``)."""
        item = self._data.itemsize
        strides = tuple(s // item for s in self._data.strides)
        if self._data.size == 0 or self._data.ndim == 0:
            strides = _contiguous_strides(self._data.shape) if self._data.size == 0 else ()
        return strides if dim is None else strides[self._wrap_dim(dim)]

    def storage_offset(self):
        """Offset of the first element from the start of the base's storage, in elements."""
        if self._base is None:
            return 0
        from ._backends import data_pointer
        start = data_pointer(self._data)
        origin = _storage_start(self._base._data)
        return (start - origin) // self._data.itemsize

    def data_ptr(self):
        from ._backends import data_pointer
        return data_pointer(self._data) if self._data.size else 0

    def is_contiguous(self, memory_format=None):
        """Whether the elements are laid out densely in row-major order."""
        if memory_format is not None and getattr(memory_format, "name", "") == "channels_last":
            return self._data.ndim == 4 and self.permute(0, 2, 3, 1).is_contiguous()
        if self._data.flags.c_contiguous:
            return True
        expected = 1
        for size, stride in zip(reversed(self._data.shape), reversed(self.stride())):
            if size != 1 and stride != expected:
                return False
            expected *= size
        return True

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    @property
    def is_cpu(self):
        return self._device.type == "cpu"

    @property
    def is_npu(self):
        return self._device.type == "npu"

    @property
    def is_sparse(self):
        return False

    @property
    def is_quantized(self):
        return False

    @property
    def is_meta(self):
        return False

    @property
    def layout(self):
        from . import strided
        return strided

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return False

    def is_signed(self):
        return self.dtype.is_signed

    def get_device(self):
        return -1 if self._device.type == "cpu" else (self._device.index or 0)

    def _wrap_dim(self, dim, ndim=None):
        ndim = self._data.ndim if ndim is None else ndim
        from .ops._checks import wrap_dim
        return wrap_dim(dim, ndim)

    # ----- autograd attributes ----------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        """Set whether autograd records operations on this (leaf) tensor; returns self."""
        if not isinstance(requires_grad, bool):
            requires_grad = bool(requires_grad)
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and state.enabled:
            import warnings
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                          "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                          "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.",
                          UserWarning, stacklevel=2)
        if _jit.tracer is not None:
            _jit.tracer.grad_read(self)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"assigned grad has data of a different size: expected {list(self.shape)}, "
                                   f"got {list(value.shape)}")
            if value.dtype is not self.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: expected {self.dtype}, "
                                   f"got {value.dtype}")
        self._grad = value
        if _jit.tracer is not None:
            _jit.tracer.grad_written(self)

    @grad.deleter
    def grad(self):
        self._grad = None
        if _jit.tracer is not None:
            _jit.tracer.grad_written(self)

    @property
    def retains_grad(self):
        return self._retains_grad

    @property
    def _version(self):
        return self._vc.value

    def _bump_version(self):
        self._vc.value += 1

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data, self.dtype, self._device = value._data, value.dtype, value._device
        self._vc = value._vc

    def detach(self):
        """A new tensor sharing this one's memory, cut from the graph."""
        out = Tensor._wrap(self._data, self.dtype, self._device)
        out._vc = self._vc  # shares memory and version, but is not an autograd view
        return out

    def detach_(self):
        """Cut this tensor from the graph in place."""
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        from .autograd.engine import retain
        retain(self)
        self._retains_grad = True

    def register_hook(self, hook):
        """Register ``hook(grad) -> grad|None`` called with this tensor's gradient during backward."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.engine import leaf_edge
        node, index = leaf_edge(self)
        return node.add_pre_hook(index, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Register ``hook(tensor)`` run after ``.grad`` of this leaf has been accumulated."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        from .autograd.engine import leaf_edge
        return leaf_edge(self)[0].register_hook(hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (``torch.Tensor.backward``)."""
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # ----- conversions to Python and numpy ----------------------------------------------------
    def _values(self):
        """The values as a numpy array of the compute dtype (bfloat16 widened to float32)."""
        if self.dtype is _dtype.bfloat16:
            from ._backends import bfloat16_to_float32
            return bfloat16_to_float32(self._data)
        return self._data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        if _jit.tracer is not None:
            _jit.tracer.graph_break("Tensor.item() reads a tensor's value into Python")
        return self._values().reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        if _jit.tracer is not None:
            _jit.tracer.graph_break("Tensor.tolist() reads a tensor's values into Python")
        return self._values().tolist()

    def numpy(self, force=False):
        """A numpy array sharing this tensor's memory (``torch.Tensor.numpy``)."""
        if self._requires_grad and state.enabled and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        if force and self._device.type != "cpu":
            return self.detach().cpu().numpy(force=True)  # PyTorch: force=True copies to host memory
        if self._device.type != "cpu":
            raise TypeError(f"can't convert {self._device.type}:{self._device.index or 0} device type tensor to "
                            "numpy. Use Tensor.cpu() to copy the tensor to host memory first.")
        if self.dtype is _dtype.bfloat16:
            raise TypeError("Got unsupported ScalarType BFloat16")
        if _jit.tracer is not None:
            _jit.tracer.graph_break("Tensor.numpy() hands a tensor's memory to numpy")
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self.detach()._values() if self._device.type == "cpu" else self.cpu()._values()
        return arr.astype(dtype) if dtype is not None else arr

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def _scalar_check(self, kind):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous" if self._data.size
                               else "Boolean value of Tensor with no values is ambiguous")
        if _jit.tracer is not None:
            _jit.tracer.graph_break("bool(tensor) (an `if` or `while` on a tensor's value)")
        return bool(self._values().reshape(()).item())

    def __float__(self):
        self._scalar_check("float")
        return float(self.item())

    def __int__(self):
        self._scalar_check("int")
        return int(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __hash__(self):
        return id(self)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __repr__(self):
        from ._formatting import tensor_repr
        tracer = _jit.tracer
        if tracer is None:
            return tensor_repr(self)
        tracer.graph_break("printing a tensor (repr/str) reads its values")
        _jit.tracer = None  # formatting reads values through item(): one break is enough
        try:
            return tensor_repr(self)
        finally:
            _jit.tracer = tracer

    __str__ = __repr__

    def type(self, dtype=None, non_blocking=False):
        """Without arguments the legacy type string ('torch.FloatTensor'); with a dtype, a converted tensor."""
        if dtype is None:
            from .ops.registry import _type_word
            return f"torch.{_type_word(self.dtype)}Tensor"
        if isinstance(dtype, str):
            names = {f"torch.{w}Tensor": n for n, w in [("float32", "Float"), ("float64", "Double"),
                     ("float16", "Half"), ("bfloat16", "BFloat16"), ("int64", "Long"), ("int32", "Int"),
                     ("int16", "Short"), ("int8", "Char"), ("uint8", "Byte"), ("bool", "Bool")]}
            if dtype not in names:
                raise ValueError(f"invalid type: '{dtype}'")
            dtype = names[dtype]
        return self.to(_dtype.to_dtype(dtype))

    def __reduce_ex__(self, protocol):
        from .serialization import _rebuild_tensor
        host = self._data if self._device.type == "cpu" else self.detach().cpu()._data
        return (_rebuild_tensor, (np.array(host), self.dtype.name, str(self._device), self._requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.  If you were attempting to deepcopy a module, this may be "
                               "because of a torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        if id(self) in memo:
            return memo[id(self)]
        out = type(self).__new__(type(self)) if type(self) is not Tensor else object.__new__(Tensor)
        Tensor._init_from(out, Tensor._wrap(self._data.copy(), self.dtype, self._device, self._requires_grad))
        if self._grad is not None:
            out._grad = self._grad.__deepcopy__(memo)
        if hasattr(self, "__dict__"):
            import copy
            out.__dict__.update(copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = out
        return out


def _contiguous_strides(shape):
    strides, step = [], 1
    for s in reversed(shape):
        strides.append(step)
        step *= max(s, 1)
    return tuple(reversed(strides))


def _storage_start(array):
    from ._backends import array_module, data_pointer
    kind = array_module(array).ndarray
    while isinstance(array.base, kind):
        array = array.base
    return data_pointer(array)

