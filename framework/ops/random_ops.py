"""Random sampling ops: rand/randn/randint/randperm/normal/bernoulli/multinomial and the in-place samplers.

Each op draws from a :class:`framework.Generator` (the default one unless ``generator=`` is given) in the
exact order PyTorch's CPU kernels do, so seeded results are bit-identical to PyTorch on CPU. Elements
are visited in memory order of the tensor being written (PyTorch's TensorIterator order); results made
"like" another tensor keep its dimension order, as ``empty_like`` does.

On device "cuda" the draws run on the GPU from that device's Philox generator (``framework.cuda``,
``kernels/cuda/rng.py``): nothing is drawn on the host. Seeded CUDA results are deterministic but are not
PyTorch's CUDA streams (PyTorch's Philox splits its counter differently). Other devices (npu) are filled
through the CPU stream and copied there.
"""
import builtins
import operator
import warnings

import numpy as np

from kernels.cpu import mt19937 as _mt

from .. import _dtype
from .._creation import _finish
from .._device import to_device
from .._tensor import Tensor
from ..autograd.grad_mode import state as _grad_state
from ..jit import slot as _jit
from .._backends import kernel_for
from ..random import Generator
from ..random import _engine_of as _engine
from ._checks import broadcast_shapes, shape_arg
from .registry import tensor_method

__all__ = ["rand", "rand_like", "randn", "randn_like", "randint", "randint_like", "randperm", "normal",
           "bernoulli", "multinomial"]

_TYPE_WORD = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
              "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
_CPP_NAME = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
             "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
             "uint8": "unsigned char", "bool": "bool"}
_DIGITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}
_FLOAT_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e+38, "float32": 3.4028234663852886e+38,
              "float64": 1.7976931348623157e+308}
_INT_RANGE = {"bool": (0, 1), "uint8": (0, 255), "int8": (-128, 127), "int16": (-32768, 32767),
              "int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

def _uncaptured():
    if _jit.tracer is not None:
        _jit.tracer.graph_break("a random op graph mode does not capture (it records bernoulli_ with a float p, "
                                "uniform_, normal_ and the ops built on them, such as dropout, on CPU tensors)")


def _engine_of(generator):
    """The engine a draw uses; while graph mode captures, a draw it cannot record is a graph break."""
    _uncaptured()
    return _engine(generator)


# ----- cuda: draws on the device ----------------------------------------------------------------------

def _cuda_generator(generator, device):
    """``generator``, or the default generator of cuda ``device``; a CPU generator is PyTorch's error."""
    _uncaptured()
    if generator is None:
        from .. import cuda
        return cuda._generator(cuda.current_device() if device.index is None else device.index)
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a Generator, but got {type(generator).__name__}")
    if generator.device.type != "cuda":
        raise RuntimeError(f"Expected a 'cuda' device type for generator but found '{generator.device.type}'")
    return generator


def _cuda_draw(device, shape, dtype, kernel, *params, generator=None):
    """A ``dtype`` tensor of ``shape`` drawn on cuda ``device`` by ``kernels/cuda/rng.py``'s ``kernel``.

    Float kernels compute in float64 for float64 and in float32 otherwise; other dtypes are converted there.
    """
    seed, offset = _cuda_generator(generator, device)._engine.advance()
    if kernel == "rng_integers":
        compute = _dtype.int64
        array = kernel_for(device, kernel)(shape, seed, offset, *params)
    else:
        compute = _dtype.float64 if dtype is _dtype.float64 else _dtype.float32
        array = kernel_for(device, kernel)(shape, compute.np, seed, offset, *params)
    t = Tensor._wrap(array, compute, device)
    if dtype is compute:
        return t
    t = t.to(dtype)
    if kernel == "rng_uniform" and params[1] > params[0]:
        t = t.masked_fill(t >= params[1], params[0])  # rounding to a narrower float may reach the open end
    return t


def _cuda_new(device, shape, dtype, requires_grad, kernel, *params, generator=None):
    """A factory's result drawn on cuda ``device`` (see ``_cuda_draw``)."""
    t = _cuda_draw(device, shape, dtype, kernel, *params, generator=generator)
    return t.requires_grad_(True) if requires_grad else t


def _cuda_store(self, values):
    """Write ``values`` (same shape, on ``self``'s device) into ``self`` in place, as a fill does."""
    from .registry import write_array
    write_array(self, values)
    self._bump_version()
    return self


def _cuda_fill(self, generator, kernel, *params):
    """In-place fill of a cuda tensor by ``kernel`` (any layout: drawn contiguous, then stored)."""
    _check_inplace(self)
    if self._data.size == 0:
        return self
    return _cuda_store(self, _cuda_draw(self._device, tuple(self.shape), self.dtype, kernel, *params,
                                        generator=generator))


def _cuda_transform(self, generator, transform):
    """In-place fill with ``transform(u)`` of U[0, 1) samples ``u`` (computed on the device)."""
    _check_inplace(self)
    if self._data.size == 0:
        return self
    compute = _dtype.float64 if self.dtype is _dtype.float64 else _dtype.float32
    u = _cuda_draw(self._device, tuple(self.shape), compute, "rng_uniform", 0.0, 1.0, generator=generator)
    return _cuda_store(self, transform(u))


def _captured_fill(self, generator, op, method, *args):
    """While graph mode captures, a fill of a contiguous CPU tensor from ``kernels.cpu.mt19937.<method>``."""
    tracer = _jit.tracer
    if tracer is None or self._device.type != "cpu" or not self._data.flags.c_contiguous or self._data.size == 0:
        return None
    _check_inplace(self)
    return tracer.random_fill(self, _engine(generator), op, method, args)


def _not_implemented(kernel, dtype):
    return NotImplementedError(f'"{kernel}" not implemented for \'{_TYPE_WORD[dtype.name]}\'')


def _check_float(dtype, kernel):
    if not dtype.is_floating_point:
        raise _not_implemented(kernel, dtype)


def _size_from(args, size, op):
    if size is not None:
        if args:
            raise TypeError(f"{op}() got multiple values for argument 'size'")
        args = (size,)
    shape = shape_arg(args, op)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    return shape


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _resolve_dtype(dtype):
    return _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)


def _dense_perm(array):
    """Dimension order of ``array`` from outermost to innermost in memory (PyTorch's iteration order)."""
    strides = array.strides
    nd = array.ndim
    if array.flags.c_contiguous or nd < 2:
        return None
    if any(st == 0 and sz > 1 for st, sz in zip(strides, array.shape)):
        return None
    perm = sorted(range(nd), key=lambda d: -abs(strides[d]))
    return None if perm == list(range(nd)) else perm


def _new_array(shape, dtype, perm=None):
    """An uninitialised array of ``shape``; with ``perm``, laid out densely in that dimension order."""
    if perm is None:
        return np.empty(shape, dtype=dtype.np)
    inner = np.empty([shape[d] for d in perm], dtype=dtype.np)
    return inner.transpose(np.argsort(perm))


def _ordered_view(array):
    """A view of ``array`` whose C order is PyTorch's visiting order; raises on self-overlapping memory."""
    if array.flags.c_contiguous:
        return array.reshape(-1) if array.ndim != 1 else array
    for st, sz in zip(array.strides, array.shape):
        if st == 0 and sz > 1:
            raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                               "single memory location. Please clone() the tensor before performing the operation.")
    perm = sorted(range(array.ndim), key=lambda d: -abs(array.strides[d]))
    return array.transpose(perm)


def _write(array, values):
    """Store ``values`` (flat, in visiting order) into ``array``."""
    view = _ordered_view(array)
    view[...] = values.reshape(view.shape)


def _is_contiguous(array):
    if array.flags.c_contiguous:
        return True
    expected = array.itemsize
    for size, stride in zip(reversed(array.shape), reversed(array.strides)):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


def _check_inplace(self):
    if _grad_state.enabled:
        if self._requires_grad and self.grad_fn is None and self._base is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        base = self._base
        if base is not None and base._requires_grad and base.grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")


def _inplace(self, fill):
    """Run ``fill(array)`` (writes ``array`` in place) on ``self``'s memory, or through a CPU copy."""
    _check_inplace(self)
    if self._data.size == 0:
        return self
    if self._device.type == "cpu":
        fill(self._data)
        self._bump_version()
        return self
    tmp = self.detach().cpu()
    arr = np.array(tmp._data, copy=True)
    fill(arr)
    self.copy_(Tensor._wrap(arr, self.dtype))
    return self


def _resize_out(out, shape, op):
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if _grad_state.enabled and out._requires_grad:
        raise RuntimeError("functions with out=... arguments don't support automatic differentiation, but one of "
                           "the arguments requires grad.")
    if tuple(out._data.shape) != tuple(shape):
        if out._data.size != 0:
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out.shape)}, "
                          f"which does not match the required output shape {list(shape)}.", UserWarning,
                          stacklevel=3)
        out._data = Tensor._wrap(np.empty(shape, dtype=out.dtype.np), out.dtype, out._device)._data
    return out


def _as_int(value, op, name):
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, builtins.bool) or not hasattr(value, "__index__"):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")
    return operator.index(value)


def _as_float(value, op, name):
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise TypeError(f"{op}(): argument '{name}' must be Number, not Tensor")
        value = value.item()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}(): argument '{name}' must be float, not {type(value).__name__}") from None


def _fmt(x):
    """A double the way c10 prints it in error messages (integers without '.0')."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(float(x))


# --------------------------------------------------------------------------------------------------
# in-place samplers (Tensor methods)
# --------------------------------------------------------------------------------------------------

def _uniform_values(eng, n, dtype, low, high):
    return _mt.uniform(eng, n, dtype.name, low, high)


def _check_uniform(dtype, low, high):
    if not dtype.is_floating_point:
        raise _not_implemented("check_uniform_bounds", dtype)
    mx = _FLOAT_MAX[dtype.name]
    cpp = _CPP_NAME[dtype.name]
    if not (-mx <= low <= mx):
        raise RuntimeError(f"from is out of bounds for {cpp}")
    if not (-mx <= high <= mx):
        raise RuntimeError(f"to is out of bounds for {cpp}")
    if not low <= high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={_fmt(low)} > "
                           f"to={_fmt(high)}")
    if not (high - low) <= mx:
        word = {"float32": "float", "float64": "double", "float16": "Half", "bfloat16": "BFloat16"}[dtype.name]
        raise RuntimeError(f"uniform_ expects to-from <= std::numeric_limits<{word}>::max(), but found "
                           f"to={_fmt(high)} and from={_fmt(low)} which result in to-from to exceed the limit")


@tensor_method("uniform_")
def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kwargs):
    """Fill with samples of U[from, to) (in place)."""
    if "from" in kwargs:
        from_ = kwargs.pop("from")
    if kwargs:
        raise TypeError(f"uniform_() got an unexpected keyword argument '{next(iter(kwargs))}'")
    low = _as_float(from_, "uniform_", "from")
    high = _as_float(to, "uniform_", "to")
    _check_uniform(self.dtype, low, high)
    if self._device.type == "cuda":
        return _cuda_fill(self, generator, "rng_uniform", low, high)
    if _jit.tracer is not None:
        captured = _captured_fill(self, generator, "uniform_", "uniform", self.dtype.name, low, high)
        if captured is not None:
            return captured
    eng = _engine_of(generator)

    def fill(a):
        if a.flags.c_contiguous:    # straight into the tensor's memory
            _mt.uniform(eng, a.size, self.dtype.name, low, high, out=a.reshape(-1))
        else:
            _write(a, _uniform_values(eng, a.size, self.dtype, low, high))
    return _inplace(self, fill)


def _normal_fill(eng, array, dtype, mean, std):
    if array.flags.c_contiguous:    # straight into the tensor's memory
        _mt.normal(eng, array.size, dtype.name, mean, std, out=array.reshape(-1))
        return
    values = _mt.normal(eng, array.size, dtype.name, mean, std, contiguous=_is_contiguous(array))
    _write(array, values)


@tensor_method("normal_")
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with samples of N(mean, std^2) (in place)."""
    mean = _as_float(mean, "normal_", "mean")
    std = _as_float(std, "normal_", "std")
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    _check_float(self.dtype, "normal_kernel_cpu")
    if self._device.type == "cuda":
        return _cuda_fill(self, generator, "rng_normal", mean, std)
    if _jit.tracer is not None:
        captured = _captured_fill(self, generator, "normal_", "normal", self.dtype.name, mean, std)
        if captured is not None:
            return captured
    eng = _engine_of(generator)
    return _inplace(self, lambda a: _normal_fill(eng, a, self.dtype, mean, std))


def _cast_round_trip(value, dtype):
    """static_cast<int64_t>(static_cast<scalar_t>(value)) for a floating dtype."""
    if dtype.name == "float64":
        return int(np.float64(value))
    f = np.float32(value)
    if dtype.name == "float16":
        f = np.float32(np.float16(f))
    elif dtype.name == "bfloat16":
        f = _mt.bfloat16_bits_to_float32(_mt.float32_to_bfloat16_bits(np.array([f])))[0]
    if not np.isfinite(f):
        return value
    return int(f)


def _update_from(value, dtype):
    plus = _cast_round_trip(value + 1, dtype)
    if plus < value:
        m = abs(value + 1)
        n = 0
        while m > 1:
            m >>= 1
            n += 1
        value = plus + (1 << (n - _DIGITS[dtype.name] + 1))
    return value


def _update_to(value, dtype):
    minus = _cast_round_trip(value - 1, dtype)
    if minus >= value:
        m = abs(value - 1)
        n = 0
        while m > 1:
            m >>= 1
            n += 1
        value = minus - (1 << (n - _DIGITS[dtype.name] + 1))
    return value


def _check_from_to(lo, to_inc, dtype):
    name = dtype.name
    cpp = _CPP_NAME[name]
    if dtype.is_floating_point:
        mx = _FLOAT_MAX[name]
        if not -mx <= lo <= mx:
            raise RuntimeError(f"from is out of bounds for {cpp}")
        if not -mx <= to_inc <= mx:
            raise RuntimeError(f"to - 1 is out of bounds for {cpp}")
        digits = _DIGITS[name]
        for val, label in ((lo, "from"), (to_inc, "to - 1")):
            if val < -(1 << digits) or val > (1 << digits):
                warnings.warn(f"{label} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision limitations "
                              f"{cpp} can support discrete uniform distribution only within this range. This warning "
                              "will become an error in version 1.7 release, please fix the code in advance",
                              UserWarning, stacklevel=4)
    else:
        mn, mx = _INT_RANGE[name]
        if not mn <= lo <= mx:
            raise RuntimeError(f"from is out of bounds for {cpp}")
        if not mn <= to_inc <= mx:
            raise RuntimeError(f"to - 1 is out of bounds for {cpp}")


_INT64_MIN = -(1 << 63)


def _random_drawer(eng, n, dtype, lo, hi, bounded):
    """Validate ``random_``'s bounds and return a function drawing its ``n`` values in visiting order."""
    lo, span = _random_range(dtype, lo, hi, bounded)
    if span is None:
        return lambda: _mt.uniform_int(eng, n, dtype.name)
    if span == 0:
        return lambda: _mt.uniform_int_full_range(eng, n, dtype.name)
    return lambda: _mt.uniform_int_from_to(eng, n, span, lo, dtype.name)


def _random_range(dtype, lo, hi, bounded):
    """Validate ``random_``'s bounds: ``(lo, span)`` for values lo + [0, span); span None is the default
    range of ``random_()``, 0 all 64-bit values."""
    if not bounded:
        return lo, None
    if hi is not None:
        if not lo < hi:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} >= to={hi}")
        if dtype.is_floating_point:
            lo = _update_from(lo, dtype)
            hi = _update_to(hi, dtype)
            if not lo < hi:
                raise RuntimeError(f"random_ expects 'from' casted to dtype to be less than 'to' casted to dtype, "
                                   f"but got from={lo} >= to={hi}")
        _check_from_to(lo, hi - 1, dtype)
        return lo, hi - lo
    if lo != _INT64_MIN:
        if dtype.is_floating_point:
            to_inc = min(1 << _DIGITS[dtype.name], (1 << 63) - 1)
            lo = _update_from(lo, dtype)
            if not lo < to_inc:
                raise RuntimeError(f"random_ expects 'from' casted to dtype to be less than or equal to 'to_inc' "
                                   f"casted to dtype, but got from={lo} > to_inc={to_inc}")
        else:
            to_inc = _INT_RANGE[dtype.name][1]
        _check_from_to(lo, to_inc, dtype)
        return lo, to_inc - lo + 1
    return lo, 0


@tensor_method("random_")
def random_(self, *args, generator=None, **kwargs):
    """Fill with integers: ``random_()``, ``random_(to)`` -> [0, to), ``random_(from, to)`` -> [from, to)."""
    lo = kwargs.pop("from", None)
    hi = kwargs.pop("to", None)
    has_to = "to" in kwargs or hi is not None
    if kwargs:
        raise TypeError(f"random_() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if len(args) > 2:
        raise TypeError(f"random_() takes from 0 to 2 positional arguments but {len(args)} were given")
    if len(args) == 2:
        lo, hi = args
        has_to = True
    elif len(args) == 1:
        if has_to:
            lo = args[0]
        else:
            lo, hi, has_to = 0, args[0], True
    bounded = lo is not None or has_to
    lo = 0 if lo is None else _as_int(lo, "random_", "from")
    hi = None if hi is None else _as_int(hi, "random_", "to")
    if self._device.type == "cuda":
        lo, span = _random_range(self.dtype, lo, hi, bounded)
        if span is None:  # random_(): [0, 2^mantissa] for floating dtypes, [0, max] for integers
            span = (1 << _DIGITS[self.dtype.name]) + 1 if self.dtype.is_floating_point else \
                _INT_RANGE[self.dtype.name][1] + 1
        return _cuda_fill(self, generator, "rng_integers", lo, span)
    draw = _random_drawer(_engine_of(generator), self._data.size, self.dtype, lo, hi, bounded)
    return _inplace(self, lambda a: _write(a, draw()))


@tensor_method("exponential_")
def exponential_(self, lambd=1.0, *, generator=None):
    """Fill with samples of Exp(lambd) (in place)."""
    lam = _as_float(lambd, "exponential_", "lambd")
    if not lam > 0.0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_fmt(lam)}")
    if not self.dtype.is_floating_point:
        raise RuntimeError("Exponential distribution is a continuous probability distribution. dtype must be a "
                           f"floating point but you specified {_TYPE_WORD[self.dtype.name]}")
    if self._device.type == "cuda":
        return _cuda_transform(self, generator, lambda u: (-u).log1p() / -lam)
    eng = _engine_of(generator)
    return _inplace(self, lambda a: _write(a, _mt.exponential(eng, a.size, lam, self.dtype.name)))


@tensor_method("cauchy_")
def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fill with samples of Cauchy(median, sigma) (in place)."""
    median = _as_float(median, "cauchy_", "median")
    sigma = _as_float(sigma, "cauchy_", "sigma")
    if not sigma > 0.0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_fmt(sigma)}")
    if not self.dtype.is_floating_point:
        raise RuntimeError("Cauchy distribution is a continuous probability distribution. dtype must be a floating "
                           f"point but you specified {_TYPE_WORD[self.dtype.name]}")
    if self._device.type == "cuda":
        return _cuda_transform(self, generator, lambda u: ((u - 0.5) * np.pi).tan() * sigma + median)
    eng = _engine_of(generator)
    return _inplace(self, lambda a: _write(a, _mt.cauchy(eng, a.size, median, sigma, self.dtype.name)))


@tensor_method("log_normal_")
def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fill with samples of exp(N(mean, std^2)) (in place)."""
    mean = _as_float(mean, "log_normal_", "mean")
    std = _as_float(std, "log_normal_", "std")
    if not std > 0.0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_fmt(std)}")
    _check_float(self.dtype, "log_normal_cpu")
    if self._device.type == "cuda":
        _check_inplace(self)
        if self._data.size == 0:
            return self
        z = _cuda_draw(self._device, tuple(self.shape), self.dtype, "rng_normal", mean, std, generator=generator)
        return _cuda_store(self, z.exp())
    eng = _engine_of(generator)
    return _inplace(self, lambda a: _write(a, _mt.log_normal(eng, a.size, mean, std, self.dtype.name)))


@tensor_method("geometric_")
def geometric_(self, p, *, generator=None):
    """Fill with samples of Geometric(p) on {1, 2, ...} (in place)."""
    p = _as_float(p, "geometric_", "p")
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_fmt(p)}")
    if self.dtype is _dtype.bool:
        raise _not_implemented("geometric_cpu", self.dtype)
    if self._device.type == "cuda":
        # k >= 1 failures-until-success count: floor(log(1 - u) / log(1 - p)) + 1, u in [0, 1)
        return _cuda_transform(self, generator, lambda u: ((-u).log1p() / float(np.log1p(-p))).floor() + 1)
    eng = _engine_of(generator)
    return _inplace(self, lambda a: _write(a, _mt.geometric(eng, a.size, p, self.dtype.name)))


def _p_array(p, shape):
    """A probability tensor's values broadcast to ``shape`` (bfloat16 as raw bits), for bernoulli_."""
    data = p._data if p._device.type == "cpu" else p.detach().cpu()._data
    try:
        return np.broadcast_to(data, shape)
    except ValueError:
        raise RuntimeError(f"The expanded size of the tensor ({shape[-1] if shape else 1}) must match the existing "
                           f"size ({p.shape[-1] if p.ndim else 1}) at non-singleton dimension "
                           f"{len(shape) - 1}.  Target sizes: {list(shape)}.  Tensor sizes: {list(p.shape)}") from None


def _bernoulli_tensor_fill(eng, array, dtype, p):
    if not p.dtype.is_floating_point:
        raise _not_implemented("bernoulli_tensor_cpu_p_", p.dtype)
    probs = _p_array(p, array.shape)
    values = probs if p.dtype is not _dtype.bfloat16 else _mt.bfloat16_bits_to_float32(probs)
    if values.size and not (np.all(values >= 0) and np.all(values <= 1)):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message "
                           "be improved?  If so, please report an enhancement request to PyTorch.)")
    view = _ordered_view(array)
    if array.flags.c_contiguous:
        ordered = probs.reshape(-1)
    else:
        perm = sorted(range(array.ndim), key=lambda d: -abs(array.strides[d]))
        ordered = probs.transpose(perm).reshape(-1)
    out = _mt.bernoulli_tensor(eng, ordered, dtype.name)
    view[...] = out.reshape(view.shape)


def _bernoulli_scalar_values(eng, n, p, dtype):
    if _mt.cpu_is_intel():
        return _mt.bernoulli_scalar_mkl(eng, n, p, dtype.name)
    return _mt.bernoulli_scalar(eng, n, p, dtype.name)


@tensor_method("bernoulli_")
def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 samples, 1 with probability ``p`` (a float or a broadcastable tensor)."""
    if isinstance(p, Tensor):
        if self._device.type == "cuda":
            _check_inplace(self)
            return _cuda_store(self, _cuda_bernoulli(self._device, tuple(self.shape), p, generator))
        eng = _engine_of(generator)
        return _inplace(self, lambda a: _bernoulli_tensor_fill(eng, a, self.dtype, p))
    p = _as_float(p, "bernoulli_", "p")
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}")
    if self._device.type == "cuda":
        return _cuda_fill(self, generator, "rng_bernoulli", p)
    if _jit.tracer is not None:
        method = "bernoulli_scalar_mkl" if _mt.cpu_is_intel() else "bernoulli_scalar"
        captured = _captured_fill(self, generator, "bernoulli_", method, p, self.dtype.name)
        if captured is not None:
            return captured
    eng = _engine_of(generator)
    return _inplace(self, lambda a: _write(a, _bernoulli_scalar_values(eng, a.size, p, self.dtype)))


# --------------------------------------------------------------------------------------------------
# factories
# --------------------------------------------------------------------------------------------------

def _check_layout(layout):
    if layout is not None and getattr(layout, "name", "strided") != "strided":
        raise NotImplementedError(f"layout={layout} is not supported")


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False, **kwargs):
    """Samples of U[0, 1) with the given size."""
    return _sampled("rand", size, kwargs, generator, out, dtype, layout, device, requires_grad,
                    fill=uniform_, dtype_check="check_uniform_bounds", cuda_kernel="rng_uniform",
                    host=lambda eng, n, dtype: _uniform_values(eng, n, dtype, 0.0, 1.0))


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, **kwargs):
    """Samples of N(0, 1) with the given size."""
    return _sampled("randn", size, kwargs, generator, out, dtype, layout, device, requires_grad,
                    fill=normal_, dtype_check="normal_kernel_cpu", cuda_kernel="rng_normal",
                    host=lambda eng, n, dtype: _mt.normal(eng, n, dtype.name, 0.0, 1.0))


def _sampled(op, size, kwargs, generator, out, dtype, layout, device, requires_grad, *, fill, dtype_check,
             cuda_kernel, host):
    """A new tensor of standard uniform or normal samples (``rand`` / ``randn``), or ``out`` filled in place."""
    shape = _size_from(size, kwargs.pop("size", None), op)
    _no_extra(kwargs, op)
    _check_layout(layout)
    if out is not None:
        _resize_out(out, shape, op)
        return fill(out, 0.0, 1.0, generator=generator)
    dtype = _resolve_dtype(dtype)
    _check_float(dtype, dtype_check)
    if to_device(device).type == "cuda":
        return _cuda_new(to_device(device), shape, dtype, requires_grad, cuda_kernel, 0.0, 1.0, generator=generator)
    array = host(_engine_of(generator), _numel(shape), dtype).reshape(shape)
    return _finish(array, dtype, device, requires_grad)


def _no_extra(kwargs, op):
    if kwargs:
        raise TypeError(f"{op}() got an unexpected keyword argument '{next(iter(kwargs))}'")


def _like(input, dtype, device, memory_format, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    dtype = input.dtype if dtype is None else _dtype.to_dtype(dtype)
    device = input.device if device is None else to_device(device)
    name = getattr(memory_format, "name", "preserve_format")
    perm = _dense_perm(input._data) if name == "preserve_format" else None
    if name == "channels_last" and input.ndim == 4:
        perm = [0, 2, 3, 1]
    return dtype, device, _new_array(tuple(input.shape), dtype, perm)


def rand_like(input, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None, pin_memory=False):
    """U[0, 1) samples shaped like ``input``."""
    dtype, device, array = _like(input, dtype, device, memory_format, "rand_like")
    _check_float(dtype, "check_uniform_bounds")
    if device.type == "cuda":
        return _cuda_new(device, array.shape, dtype, requires_grad, "rng_uniform", 0.0, 1.0, generator=generator)
    eng = _engine_of(generator)
    if array.size:
        _write(array, _uniform_values(eng, array.size, dtype, 0.0, 1.0))
    return _finish(array, dtype, device, requires_grad)


def randn_like(input, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None, pin_memory=False):
    """N(0, 1) samples shaped like ``input``."""
    dtype, device, array = _like(input, dtype, device, memory_format, "randn_like")
    _check_float(dtype, "normal_kernel_cpu")
    if device.type == "cuda":
        return _cuda_new(device, array.shape, dtype, requires_grad, "rng_normal", 0.0, 1.0, generator=generator)
    eng = _engine_of(generator)
    if array.size:
        _normal_fill(eng, array, dtype, 0.0, 1.0)
    return _finish(array, dtype, device, requires_grad)


def _parse_randint(args, kwargs, op):
    low = kwargs.pop("low", None)
    high = kwargs.pop("high", None)
    size = kwargs.pop("size", None)
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if len(args) == 2:
        if low is not None or high is not None:
            raise TypeError(f"{op}() got multiple values for argument 'low'")
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        elif low is None:
            low = args[0]
        else:
            raise TypeError(f"{op}() got multiple values for argument 'low'")
    elif len(args) > 2:
        raise TypeError(f"{op}() received an invalid combination of arguments - got {len(args)} positional "
                        "arguments before size")
    if high is None or (size is None and op == "randint"):
        raise TypeError(f"{op}() received an invalid combination of arguments - expected (int high, tuple of ints "
                        "size) or (int low, int high, tuple of ints size)")
    low = 0 if low is None else _as_int(low, op, "low")
    high = _as_int(high, op, "high")
    return low, high, size


def randint(*args, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
            pin_memory=False, **kwargs):
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    low, high, size = _parse_randint(args, kwargs, "randint")
    _no_extra(kwargs, "randint")
    _check_layout(layout)
    shape = _size_from((), size, "randint")
    if out is not None:
        _resize_out(out, shape, "randint")
        return random_(out, low, high, generator=generator)
    dtype = _dtype.int64 if dtype is None else _dtype.to_dtype(dtype)
    if requires_grad and not dtype.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    if to_device(device).type == "cuda":
        low, span = _random_range(dtype, low, high, True)
        return _cuda_new(to_device(device), shape, dtype, requires_grad, "rng_integers", low, span,
                         generator=generator)
    array = np.empty(shape, dtype=dtype.np)
    t = Tensor._wrap(array, dtype)
    random_(t, low, high, generator=generator)
    return _finish(t._data, dtype, device, requires_grad)


def randint_like(input, *args, generator=None, dtype=None, layout=None, device=None, requires_grad=False,
                 memory_format=None, pin_memory=False, **kwargs):
    """Integers uniform on [low, high) shaped like ``input``: ``randint_like(x, high)`` or ``(x, low, high)``."""
    low = kwargs.pop("low", None)
    high = kwargs.pop("high", None)
    _no_extra(kwargs, "randint_like")
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError("randint_like() takes from 2 to 3 positional arguments")
    if high is None:
        raise TypeError("randint_like() missing required argument 'high'")
    low = 0 if low is None else _as_int(low, "randint_like", "low")
    high = _as_int(high, "randint_like", "high")
    dtype, device, array = _like(input, dtype, device, memory_format, "randint_like")
    if requires_grad and not dtype.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    if device.type == "cuda":
        low, span = _random_range(dtype, low, high, True)
        return _cuda_new(device, array.shape, dtype, requires_grad, "rng_integers", low, span, generator=generator)
    t = Tensor._wrap(array, dtype)
    random_(t, low, high, generator=generator)
    return _finish(t._data, dtype, device, requires_grad)


_RANDPERM_LIMIT = {"float16": ((1 << 11) + 1, "2049", "Half"), "float32": ((1 << 24) + 1, "2^24+1", "Float"),
                   "float64": ((1 << 53) + 1, "2^53+1", "Double")}
_INT_C_NAME = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t"}


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
    """A random permutation of 0..n-1."""
    n = _as_int(n, "randperm", "n")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    _check_layout(layout)
    if out is not None:
        dtype = out.dtype
    dtype = _dtype.int64 if dtype is None else _dtype.to_dtype(dtype)
    if dtype is _dtype.bool:
        raise _not_implemented("randperm", dtype)
    if requires_grad and not dtype.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    if dtype.name in _INT_C_NAME:
        mn, mx = _INT_RANGE[dtype.name]
        if (n - 1 if n > 0 else n) > mx:
            raise RuntimeError(f"value cannot be converted to type {_INT_C_NAME[dtype.name]} without overflow")
    elif dtype.name in _RANDPERM_LIMIT:
        limit, text, word = _RANDPERM_LIMIT[dtype.name]
        if n > limit:
            raise RuntimeError(f"n cannot be greater than {text} for {word} type.")
    target = out._device if out is not None else to_device(device)
    if target.type == "cuda":
        # argsort of 64 random bits per position: a uniform permutation (ties have probability ~n^2 / 2^65)
        keys = _cuda_draw(target, (n,), _dtype.int64, "rng_integers", 0, 0, generator=generator)
        perm = keys.argsort().to(dtype)
        if out is not None:
            return _cuda_store(_resize_out(out, (n,), "randperm"), perm)
        return perm.requires_grad_(True) if requires_grad else perm
    eng = _engine_of(generator)
    perm = _mt.randperm(eng, n)
    if dtype is _dtype.bfloat16:
        values = _mt.float32_to_bfloat16_bits(perm.astype(np.float32))
    elif dtype is _dtype.float16:
        values = perm.astype(np.float32).astype(np.float16)
    else:
        values = perm.astype(dtype.np)
    if out is not None:
        _resize_out(out, (n,), "randperm")
        out._data[...] = values
        out._bump_version()
        return out
    return _finish(values, dtype, device, requires_grad)


# --------------------------------------------------------------------------------------------------
# normal / bernoulli / multinomial
# --------------------------------------------------------------------------------------------------

def _float_values(t):
    data = t._data if t._device.type == "cpu" else t.detach().cpu()._data
    if t.dtype is _dtype.bfloat16:
        return _mt.bfloat16_bits_to_float32(data)
    return data


def _store(values, dtype):
    """Round float values (float32/float64 compute) to ``dtype``'s storage."""
    if dtype is _dtype.bfloat16:
        return _mt.float32_to_bfloat16_bits(values.astype(np.float32))
    return values.astype(dtype.np, copy=False)


def _compute_np(*dtypes):
    """numpy type an elementwise op on these dtypes computes in (half/bfloat16 in float32)."""
    return np.float64 if any(d is _dtype.float64 for d in dtypes) else np.float32


def _widen(values, dtype, ct):
    """Storage values of ``dtype`` as ``ct`` compute values."""
    if dtype is _dtype.bfloat16:
        values = _mt.bfloat16_bits_to_float32(values)
    return np.asarray(values).astype(ct)


def _check_std_tensor(std):
    vals = _float_values(std)
    if vals.size and not np.all(vals >= 0):
        raise RuntimeError("normal expects all elements of std >= 0.0")


def normal(mean, std=None, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
           pin_memory=False, requires_grad=False):
    """Normal samples: ``normal(mean_t, std_t)``, ``normal(mean_t, std=1.)``, ``normal(mean, std_t)`` or
    ``normal(mean, std, size)``."""
    mean_t = isinstance(mean, Tensor)
    std_t = isinstance(std, Tensor)
    if (mean_t or std_t) and size is None and (mean if mean_t else std)._device.type == "cuda":
        return _cuda_normal(mean, std, generator, out)
    eng = None if not mean_t and not std_t and to_device(device).type == "cuda" else _engine_of(generator)
    if not mean_t and not std_t:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments - got (float, float), but "
                            "expected one of: (Tensor mean, Tensor std), (Tensor mean, float std), "
                            "(float mean, Tensor std), (float mean, float std, tuple of ints size)")
        std = 1.0 if std is None else std
        m = _as_float(mean, "normal", "mean")
        s = _as_float(std, "normal", "std")
        if not s >= 0.0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(s)}")
        shape = _size_from((), size, "normal")
        if out is not None:
            _resize_out(out, shape, "normal")
            return normal_(out, m, s, generator=generator)
        dtype = _resolve_dtype(dtype)
        _check_float(dtype, "normal_kernel_cpu")
        if eng is None:
            return _cuda_new(to_device(device), shape, dtype, requires_grad, "rng_normal", m, s, generator=generator)
        array = _mt.normal(eng, _numel(shape), dtype.name, m, s).reshape(shape)
        return _finish(array, dtype, device, requires_grad)
    if size is not None:
        raise TypeError("normal() received an invalid combination of arguments - size is only accepted with float "
                        "mean and std")
    if mean_t and not std_t:
        # output = empty_like(mean).normal_(0, std); output.add_(mean)
        s = 1.0 if std is None else _as_float(std, "normal", "std")
        if not s >= 0.0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(s)}")
        odtype = mean.dtype
        _check_float(odtype, "normal_kernel_cpu")
        shape = tuple(mean.shape)
        z = _mt.normal(eng, _numel(shape), odtype.name, 0.0, s).reshape(shape)
        ct = _compute_np(odtype)
        result = _store(_widen(z, odtype, ct) + _float_values(mean).astype(ct), odtype)
        dev = mean.device
    else:
        # output = empty(shape, like mean).normal_(0, 1); output.mul_(std).add_(mean)
        if std is None:
            raise TypeError("normal() missing required argument 'std'")
        _check_std_tensor(std)
        if mean_t:
            odtype = mean.dtype
            shape = broadcast_shapes(tuple(mean.shape), tuple(std.shape), "normal")
            mean_dtype, mean_vals = mean.dtype, _float_values(mean)
            dev = mean.device
        else:
            odtype = std.dtype
            shape = tuple(std.shape)
            # the float mean becomes a 0-dim tensor of the output dtype first
            mean_dtype = odtype
            mean_vals = _widen(_store(np.array(_as_float(mean, "normal", "mean")), odtype), odtype, np.float64)
            dev = std.device
        _check_float(odtype, "normal_kernel_cpu")
        z = _mt.normal(eng, _numel(shape), odtype.name, 0.0, 1.0).reshape(shape)
        ct = _compute_np(odtype, std.dtype)
        prod = _store(_widen(z, odtype, ct) * _float_values(std).astype(ct), odtype)
        ct = _compute_np(odtype, mean_dtype)
        result = _store(_widen(prod, odtype, ct) + np.asarray(mean_vals).astype(ct), odtype)
    result = np.ascontiguousarray(result)
    if out is not None:
        _resize_out(out, result.shape, "normal")
        t = Tensor._wrap(result, odtype)
        from .registry import write_array
        write_array(out, t)
        out._bump_version()
        return out
    return _finish(result, odtype, dev, False)


def _cuda_normal(mean, std, generator, out):
    """normal() with a tensor mean and/or std on cuda: N(0, 1) drawn on the device, then scaled and shifted."""
    mean_t, std_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    if std is None and not mean_t:
        raise TypeError("normal() missing required argument 'std'")
    if std_t:
        _check_std_tensor(std)
    else:
        std = 1.0 if std is None else _as_float(std, "normal", "std")
        if not std >= 0.0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    ref = mean if mean_t else std
    _check_float(ref.dtype, "normal_kernel_cuda")
    shape = broadcast_shapes(tuple(mean.shape), tuple(std.shape), "normal") if mean_t and std_t \
        else tuple(ref.shape)
    z = _cuda_draw(ref._device, shape, ref.dtype, "rng_normal", 0.0, 1.0, generator=generator)
    result = (z * std + mean).to(ref.dtype)
    if out is not None:
        return _cuda_store(_resize_out(out, shape, "normal"), result)
    return result


def _cuda_bernoulli(device, shape, p, generator):
    """0/1 (bool) samples with probabilities ``p`` (a float tensor broadcast to ``shape``), drawn on cuda."""
    if not p.dtype.is_floating_point:
        raise _not_implemented("bernoulli_tensor_cuda_p_", p.dtype)
    probs = p.detach().to(device)
    if probs.numel() and bool(((probs < 0) | (probs > 1)).any()):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    probs = probs.expand(shape)
    u = _cuda_draw(device, shape, _dtype.float64, "rng_uniform", 0.0, 1.0, generator=generator)
    return u < probs


def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 samples with probabilities ``input`` (or the float ``p``), shaped like ``input``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if out is not None:
        _resize_out(out, tuple(input.shape), "bernoulli")
        return bernoulli_(out, input if p is None else p, generator=generator)
    if input._device.type == "cuda":
        shape = tuple(input.shape)
        if p is None:
            return _cuda_bernoulli(input._device, shape, input, generator).to(input.dtype)
        pv = _as_float(p, "bernoulli", "p")
        if not 0 <= pv <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(pv)}")
        return _cuda_draw(input._device, shape, input.dtype, "rng_bernoulli", pv, generator=generator)
    eng = _engine_of(generator)
    dtype, device, array = _like(input, None, None, None, "bernoulli")
    if array.size:
        if p is None:
            _bernoulli_tensor_fill(eng, array, dtype, input)
        else:
            pv = _as_float(p, "bernoulli", "p")
            if not 0 <= pv <= 1:
                raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(pv)}")
            _write(array, _bernoulli_scalar_values(eng, array.size, pv, dtype))
    return _finish(array, dtype, device, False)


tensor_method("bernoulli")(bernoulli)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices sampled from the rows of ``input`` (non-negative weights), with or without replacement."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    num_samples = _as_int(num_samples, "multinomial", "num_samples")
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{_TYPE_WORD[input.dtype.name]}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    ncat = input.shape[-1]
    if not replacement and num_samples > ncat:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if ncat > (1 << 24):
        raise RuntimeError("number of categories cannot exceed 2^24")
    rows = 1 if input.ndim == 1 else input.shape[0]
    shape = (num_samples,) if input.ndim == 1 else (rows, num_samples)
    probs = _float_values(input).reshape(rows, ncat)
    if rows * num_samples == 0:
        result = np.empty(shape, dtype=np.int64)
    else:
        if not replacement or num_samples == 1:
            if not (np.all(probs >= 0) and np.all(probs < np.inf)):
                raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
            if np.any(probs.sum(axis=1, dtype=np.float64) == 0):
                raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        else:
            if not np.all(probs >= 0):
                raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
            if not np.all(np.isfinite(probs)):
                raise RuntimeError("invalid multinomial distribution (encountering probability entry = infinity "
                                   "or NaN)")
            if np.any(probs.sum(axis=1, dtype=np.float64) <= 0):
                raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if input._device.type == "cuda":
            return _cuda_multinomial(input, probs, num_samples, replacement, generator, out, shape)
        eng = _engine_of(generator)
        result = _mt.multinomial(eng, probs, num_samples, replacement, input.dtype.name).reshape(shape)
    if out is not None:
        _resize_out(out, shape, "multinomial")
        out._data[...] = result
        out._bump_version()
        return out
    return _finish(result, _dtype.int64, input.device, False)


tensor_method("multinomial")(multinomial)


def _cuda_multinomial(input, host_probs, num_samples, replacement, generator, out, shape):
    """multinomial on cuda (``host_probs``: the validated rows, read only for checks).

    With replacement: inverse CDF (a search of U[0, 1) draws in each row's cumulative sums). Without: the
    ``num_samples`` smallest keys E / p, E ~ Exp(1), which is sampling without replacement in proportion to p.
    """
    if not replacement and np.any((host_probs > 0).sum(axis=1) < num_samples):
        raise RuntimeError("invalid multinomial distribution (with replacement=False, not enough non-negative "
                           "category to sample)")
    from .sorting import searchsorted
    device = input._device
    rows, ncat = host_probs.shape
    p = input.detach().reshape(rows, ncat).to(_dtype.float64)
    if replacement:
        cdf = p.cumsum(1)
        cdf = cdf / cdf[:, ncat - 1:]
        u = _cuda_draw(device, (rows, num_samples), _dtype.float64, "rng_uniform", 0.0, 1.0, generator=generator)
        result = searchsorted(cdf, u, right=True).clamp(max=ncat - 1)
    else:
        u = _cuda_draw(device, (rows, ncat), _dtype.float64, "rng_uniform", 0.0, 1.0, generator=generator)
        keys = (-u).log1p().neg() / p  # p == 0 gives +inf (or nan when E == 0): never among the first picks
        keys = keys.nan_to_num(nan=float("inf"))
        result = keys.argsort(dim=1)[:, :num_samples].contiguous()
    result = result.reshape(shape)
    if out is not None:
        return _cuda_store(_resize_out(out, shape, "multinomial"), result)
    return result
