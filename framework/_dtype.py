"""Dtypes, PyTorch's type promotion and the default float dtype."""
import builtins

import numpy as np

__all__ = [
    "dtype", "float16", "half", "bfloat16", "float32", "float", "float64", "double",
    "int8", "uint8", "int16", "short", "int32", "int", "int64", "long", "bool",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type",
    "can_cast", "is_floating_point", "finfo", "iinfo",
]


class dtype:
    """A tensor element type, e.g. ``framework.float32``."""

    __slots__ = ("name", "np", "compute_np", "is_floating_point", "is_signed", "itemsize", "_kind_rank")

    def __init__(self, name, storage, compute, kind_rank):
        self.name = name
        self.np = np.dtype(storage)          # what the backing array holds
        self.compute_np = np.dtype(compute)  # what kernels compute in (bfloat16 -> float32)
        self.is_floating_point = kind_rank == 2
        self.is_signed = name not in ("uint8", "bool")
        self.itemsize = 2 if name == "bfloat16" else self.np.itemsize
        self._kind_rank = kind_rank          # 0 bool, 1 integer, 2 floating

    @property
    def is_complex(self):
        return False

    def to_real(self):
        return self

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))


float16 = half = dtype("float16", np.float16, np.float16, 2)
bfloat16 = dtype("bfloat16", np.uint16, np.float32, 2)
float32 = float = dtype("float32", np.float32, np.float32, 2)
float64 = double = dtype("float64", np.float64, np.float64, 2)
int8 = dtype("int8", np.int8, np.int8, 1)
uint8 = dtype("uint8", np.uint8, np.uint8, 1)
int16 = short = dtype("int16", np.int16, np.int16, 1)
int32 = int = dtype("int32", np.int32, np.int32, 1)
int64 = long = dtype("int64", np.int64, np.int64, 1)
bool = dtype("bool", np.bool_, np.bool_, 0)
bool_ = bool

ALL = (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
_BY_NAME = {d.name: d for d in ALL}
_BY_NUMPY = {d.np: d for d in ALL if d is not bfloat16}


def _by_name(name):
    return _BY_NAME[name]


def from_numpy(np_dtype):
    """The framework dtype stored as ``np_dtype`` (uint16 arrays are refused: no uint16 tensors)."""
    found = _BY_NUMPY.get(np_dtype)  # an array's dtype hashes directly: skip np.dtype() on the hot path
    if found is None:
        found = _BY_NUMPY.get(np.dtype(np_dtype))
    if found is None:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).name}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.")
    return found


def to_dtype(value):
    """Normalise a dtype argument (framework dtype, numpy dtype, Python type) to a framework dtype."""
    if isinstance(value, dtype):
        return value
    if value is builtins.float:
        return get_default_dtype()
    if value is builtins.int:
        return int64
    if value is builtins.bool:
        return bool
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        return from_numpy(np.dtype(value))
    except (TypeError, ValueError):
        raise TypeError(f"expected a torch.dtype, but got {value!r} of type {type(value).__name__}") from None


_default = [float32]


def get_default_dtype():
    """The dtype of float tensors made from Python floats (``torch.get_default_dtype``)."""
    return _default[0]


def set_default_dtype(d):
    """Set the default floating dtype (float32 or float64, as PyTorch allows)."""
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


# PyTorch's promotion lattice: bool < integers < floats; inside a kind, the usual widening,
# except that uint8 with a signed int goes to the next signed type wide enough, and
# float16 with bfloat16 goes to float32.
_INT_ORDER = {uint8: 0, int8: 1, int16: 2, int32: 3, int64: 4}
_FLOAT_ORDER = {float16: 0, bfloat16: 0, float32: 1, float64: 2}


def promote_types(a, b):
    """The smallest dtype both ``a`` and ``b`` convert to safely (``torch.promote_types``)."""
    if a is b:
        return a
    if a._kind_rank != b._kind_rank:
        return a if a._kind_rank > b._kind_rank else b
    if a._kind_rank == 2:
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if _FLOAT_ORDER[a] >= _FLOAT_ORDER[b] else b
    if uint8 in (a, b):
        other = b if a is uint8 else a
        return int16 if other is int8 else other
    return a if _INT_ORDER[a] >= _INT_ORDER[b] else b


def scalar_kind(value):
    """0 for bool, 1 for int, 2 for float: the kind of a Python scalar operand."""
    if isinstance(value, (builtins.bool, np.bool_)):
        return 0
    if isinstance(value, (builtins.int, np.integer)):
        return 1
    if isinstance(value, (builtins.float, np.floating)):
        return 2
    if isinstance(value, complex):
        raise NotImplementedError("complex numbers are not supported")
    raise TypeError(f"expected a number, got {type(value).__name__}")


_KIND_DEFAULT = {0: lambda: bool, 1: lambda: int64, 2: get_default_dtype}


def result_type(*operands):
    """PyTorch's result dtype for tensors and weakly typed Python scalars.

    Dimensioned tensors win over zero-dim tensors, which win over Python scalars, unless a lower
    category has a higher kind (bool < int < float).
    """
    dims = zero = scalars = None
    for op in operands:
        d = getattr(op, "dtype", None)
        if isinstance(d, dtype):
            if op.ndim:
                dims = d if dims is None else promote_types(dims, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        else:
            k = scalar_kind(op)
            scalars = k if scalars is None else max(scalars, k)
    out = dims
    if zero is not None:
        if out is None or zero._kind_rank > out._kind_rank:
            out = zero
    if scalars is not None:
        if out is None:
            out = _KIND_DEFAULT[scalars]()
        elif scalars > out._kind_rank:
            out = _KIND_DEFAULT[scalars]()
    return out


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` -> ``to`` in in-place ops."""
    return from_._kind_rank <= to._kind_rank


def is_floating_point(t):
    return t.dtype.is_floating_point


class finfo:
    """Machine limits of a floating dtype (``torch.finfo``)."""

    def __init__(self, type=None):
        type = get_default_dtype() if type is None else to_dtype(type)
        if not type.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type, got {type}")
        if type is bfloat16:
            self.bits, self.eps, self.max = 16, 0.0078125, 3.3895313892515355e+38
            self.min, self.tiny, self.resolution = -self.max, 1.1754943508222875e-38, 0.01
        else:
            info = np.finfo(type.np)
            self.bits, self.eps, self.max, self.min = info.bits, builtins.float(info.eps), builtins.float(info.max), builtins.float(info.min)
            self.tiny, self.resolution = builtins.float(info.tiny), builtins.float(info.resolution)
        self.smallest_normal = self.tiny
        self.dtype = type.name


class iinfo:
    """Machine limits of an integer dtype (``torch.iinfo``)."""

    def __init__(self, type):
        type = to_dtype(type)
        if type.is_floating_point:
            raise TypeError(f"torch.iinfo() requires an integer input type, got {type}")
        info = np.iinfo(type.np) if type is not bool else np.iinfo(np.uint8)
        self.bits, self.min, self.max = info.bits, builtins.int(info.min), builtins.int(info.max)
        self.dtype = type.name
