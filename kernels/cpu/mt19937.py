"""PyTorch's CPU random stream, reproduced on raw numpy arrays.

The engine is the 32-bit Mersenne Twister of PyTorch's ``CPUGeneratorImpl`` (``at::mt19937``: seeded
with the standard 1812433253 recurrence from the low 32 bits of the 64-bit seed, with a ``left``/``next``
counter pair that is part of the saved state), and every transform below consumes engine words in
exactly the order ATen's CPU kernels do:

* ``random()`` is one 32-bit word, ``random64()`` is two words, the first one in the high half.
* uniform floats use ``digits(T)`` low bits of a draw: float/half/bfloat16 compute in float32 from
  one 32-bit word (24 bits), double from a 64-bit draw (53 bits).
* ``random_(from, to)`` takes ``random() % range`` below a range of 2^28 and ``random64() % range`` from
  there on; ``randperm`` is Fisher-Yates with ``random() % (n - i)`` (inside-out with ``random64()`` for
  n >= 2^32 / 20); ``multinomial`` without replacement (or for one sample) is argmax / top-k of
  p / Exp(1), ties ordered as libstdc++'s partial_sort / nth_element + sort leave them.
* ``normal_`` on a contiguous tensor of >= 16 elements first fills uniforms, then Box-Muller's 16 at a
  time (8 pairs: ``data[j]`` and ``data[j + 8]``), then re-draws and re-transforms the last 16 when the
  size is not a multiple of 16. On x86 with AVX2, float32/half/bfloat16 go through the AVX2
  ``log256_ps``/``sincos256_ps`` polynomials (reproduced lane by lane below, including where GCC fuses
  ``a * b + c`` into an FMA); float64, and float32 on other CPUs, use libm (``log``/``cos``/``sin``
  or their float versions) and ``fma``. Smaller or non-contiguous tensors use the scalar double
  Box-Muller with one cached sample kept in the generator. See ``PROFILE`` for the build differences.

``bernoulli_(float p)`` on an Intel CPU is an exception: ATen gives that case to MKL (an MCG31 stream
seeded with one ``random()`` word); :func:`bernoulli_scalar_mkl` consumes the same single word but its
0/1 values are a model of MKL's that could not be checked against an Intel machine.

Nothing is compiled at import: numba is imported and the kernels are jitted (``cache=True``) the
first time one is needed. This module never imports ``framework``.
"""
import math

import numpy as np

__all__ = [
    "MT19937", "STATE_NBYTES", "DEFAULT_SEED",
    "uniform", "uniform_int_from_to", "uniform_int_full_range", "uniform_int", "normal",
    "bernoulli_tensor", "bernoulli_scalar", "bernoulli_scalar_mkl", "cpu_is_intel", "exponential", "cauchy",
    "geometric", "log_normal", "randperm", "multinomial", "topk_indices",
    "float32_to_bfloat16_bits", "bfloat16_bits_to_float32",
]

N = 624
M = 397
DEFAULT_SEED = 67280421310721
STATE_NBYTES = 5056     # sizeof(CPUGeneratorImplState) on x86-64
_M32 = 0xFFFFFFFF


# --------------------------------------------------------------------------------------------------
# numba, lazily
# --------------------------------------------------------------------------------------------------

# Kernels never call each other: numba would re-optimise a callee inside every caller, and cold compiles
# (once per install, then cached) would grow with each.
_JIT_NAMES = ("_mt_fill", "_units_f32", "_units_f64", "_bm16_f32", "_bm16_f32_generic", "_bm16_f64",
              "_normal_scalar", "_randperm", "_transform_double", "_mcg31_bernoulli")
_jitted = {}


def _kernel(name):
    """The jitted version of the module-level function ``name`` (numba is imported on first use)."""
    fn = _jitted.get(name)
    if fn is None:
        _setup_numba()
        fn = _jitted[name]
    return fn


def _setup_numba():
    if _jitted:
        return
    import numba
    from llvmlite import ir
    from numba.extending import intrinsic

    @intrinsic
    def fma(typingctx, a, b, c):
        # a * b + c with a single rounding (llvm.fma): what vfmadd and std::fma compute.
        if not (a == b == c and isinstance(a, numba.types.Float)):
            return None

        def codegen(context, builder, signature, args):
            return builder.fma(*args)
        return a(a, b, c), codegen

    @intrinsic
    def f32_bits(typingctx, x):
        # the bits of a float32 as int32, in registers (what _mm256_castps_si256 does)
        if x != numba.types.float32:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(32))
        return numba.types.int32(x), codegen

    @intrinsic
    def bits_f32(typingctx, x):
        if x != numba.types.int32:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.FloatType())
        return numba.types.float32(x), codegen

    @intrinsic
    def sqrt(typingctx, x):
        # llvm.sqrt (sqrtps): math.sqrt becomes a libm call kept for errno, which stops vectorisation
        if not isinstance(x, numba.types.Float):
            return None

        def codegen(context, builder, signature, args):
            fn = builder.module.declare_intrinsic("llvm.sqrt", [args[0].type])
            return builder.call(fn, args)
        return x(x), codegen

    g = globals()
    g["_fma"], g["_f32_bits"], g["_bits_f32"], g["_sqrt"] = fma, f32_bits, bits_f32, sqrt
    for name in _JIT_NAMES:
        _jitted[name] = numba.njit(cache=True, nogil=True)(g[name])


def _fma(a, b, c):  # replaced by LLVM intrinsics before anything is compiled
    raise RuntimeError("numba kernels are not set up")


_f32_bits = _bits_f32 = _sqrt = _fma


# --------------------------------------------------------------------------------------------------
# which ATen build to follow
# --------------------------------------------------------------------------------------------------
# ATen compiles its CPU kernels once per capability and picks one at run time. Two things differ:
#  * avx2_normal: NormalFill16<float> is AVX2 code (avx_mathfun.h) on x86 CPUs with AVX2+FMA (also
#    chosen on AVX-512 CPUs, normal_ is never dispatched to AVX-512); elsewhere it is the generic
#    scalar code (logf/cosf/sinf).
#  * fused: in builds with FMA hardware GCC contracts ``a * b + c`` (uniform_'s affine map, the
#    scalar normal's ``z * std + mean``, cauchy_) into one FMA; the x86 "default" build cannot.
# ATEN_CPU_CAPABILITY=default forces the generic x86 build, as it does in PyTorch.

def _detect_profile():
    import os
    import platform
    machine = platform.machine().lower()
    cap = os.environ.get("ATEN_CPU_CAPABILITY", "").strip().lower()
    if machine in ("x86_64", "amd64", "i386", "i686", "x86"):
        flags = set()
        try:
            with open("/proc/cpuinfo") as fh:
                for line in fh:
                    if line.startswith("flags"):
                        flags = set(line.split(":", 1)[1].split())
                        break
        except OSError:
            flags = {"avx2", "fma"}       # not Linux: assume a modern x86 CPU
        avx2 = "avx2" in flags and "fma" in flags and cap != "default"
        return {"avx2_normal": avx2, "fused": avx2}
    # aarch64 and others: generic normal code, compilers contract to the native FMA
    return {"avx2_normal": False, "fused": True}


PROFILE = _detect_profile()


# --------------------------------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------------------------------

def _mt_fill(mt, pos, out):
    """Fill ``out`` with tempered 32-bit words. ``pos`` = [left, next] as in at::mt19937.

    at::mt19937 draws one word per call and regenerates the state when ``--left`` reaches 0; here the
    ``left - 1`` words still due from the current state are tempered in one run, and the state is
    regenerated in three runs without index wrap-around, so the loops vectorise.
    """
    left = pos[0]
    nxt = pos[1]
    i = 0
    while i < out.shape[0]:
        if left == 1:
            for k in range(N - M):
                y = (np.int64(mt[k]) & 0x80000000) | (np.int64(mt[k + 1]) & 0x7FFFFFFF)
                mt[k] = np.uint32(np.int64(mt[k + M]) ^ (y >> 1) ^ ((np.int64(mt[k + 1]) & 1) * 0x9908B0DF))
            for k in range(N - M, N - 1):
                y = (np.int64(mt[k]) & 0x80000000) | (np.int64(mt[k + 1]) & 0x7FFFFFFF)
                mt[k] = np.uint32(np.int64(mt[k + M - N]) ^ (y >> 1) ^ ((np.int64(mt[k + 1]) & 1) * 0x9908B0DF))
            y = (np.int64(mt[N - 1]) & 0x80000000) | (np.int64(mt[0]) & 0x7FFFFFFF)
            mt[N - 1] = np.uint32(np.int64(mt[M - 1]) ^ (y >> 1) ^ ((np.int64(mt[0]) & 1) * 0x9908B0DF))
            left = N + 1
            nxt = 0
        k = min(left - 1, out.shape[0] - i)
        # slices indexed from 0: LLVM sees non-negative consecutive indices (no wrap-around selects)
        words = mt[nxt:nxt + k]
        dst = out[i:i + k]
        for j in range(k):
            y = np.int64(words[j])
            y ^= y >> 11
            y ^= (y << 7) & 0x9D2C5680
            y ^= (y << 15) & 0xEFC60000
            y ^= y >> 18
            dst[j] = np.uint32(y)
        nxt += k
        left -= k
        i += k
    pos[0] = left
    pos[1] = nxt


class MT19937:
    """at::mt19937 plus the two cached normal samples of ``CPUGeneratorImpl``.

    ``mt``: 624 uint32 words; ``pos``: int64 [left, next]; ``seed``: the 64-bit seed it was built from;
    ``normal_cache``: float64 [valid, value] (``next_double_normal_sample``), ``float_cache`` likewise for
    ``next_float_normal_sample`` (never used by CPU kernels, but part of the saved state).
    """

    __slots__ = ("mt", "pos", "seed", "seeded", "normal_cache", "float_cache")

    def __init__(self, seed=DEFAULT_SEED):
        self.mt = np.zeros(N, dtype=np.uint32)
        self.pos = np.zeros(2, dtype=np.int64)
        self.normal_cache = np.zeros(2, dtype=np.float64)
        self.float_cache = np.zeros(2, dtype=np.float32)
        self.manual_seed(seed)

    # -- seeding / state -------------------------------------------------------------------------
    def manual_seed(self, seed):
        seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self.seed = seed
        self.seeded = True
        x = seed & _M32
        mt = [0] * N
        mt[0] = x
        for j in range(1, N):
            x = (1812433253 * (x ^ (x >> 30)) + j) & _M32
            mt[j] = x
        self.mt[:] = mt
        self.pos[0] = 1
        self.pos[1] = 0
        self.normal_cache[:] = 0.0
        self.float_cache[:] = 0.0

    def clone(self):
        other = MT19937.__new__(MT19937)
        other.mt = self.mt.copy()
        other.pos = self.pos.copy()
        other.seed = self.seed
        other.seeded = self.seeded
        other.normal_cache = self.normal_cache.copy()
        other.float_cache = self.float_cache.copy()
        return other

    def copy_from(self, other):
        self.mt[:] = other.mt
        self.pos[:] = other.pos
        self.seed = other.seed
        self.seeded = other.seeded
        self.normal_cache[:] = other.normal_cache
        self.float_cache[:] = other.float_cache

    def get_state(self):
        """The 5056-byte layout of ``torch.get_rng_state()`` (CPUGeneratorImplState, x86-64)."""
        buf = bytearray(STATE_NBYTES)
        head = np.zeros(1, dtype=[("seed", "<u8"), ("left", "<i4"), ("seeded", "<i4"), ("next", "<u8")])
        head["seed"] = self.seed
        head["left"] = self.pos[0]
        head["seeded"] = 1 if self.seeded else 0
        head["next"] = self.pos[1]
        buf[0:24] = head.tobytes()
        buf[24:24 + 8 * N] = self.mt.astype("<u8").tobytes()
        off = 24 + 8 * N                                  # 5016: normal_x, normal_y, normal_rho
        valid = bool(self.normal_cache[0])
        buf[off:off + 24] = np.array([0.0, self.normal_cache[1] if valid else 0.0, 0.0], dtype="<f8").tobytes()
        buf[off + 24:off + 28] = np.array([1 if valid else 0], dtype="<i4").tobytes()
        fvalid = bool(self.float_cache[0])
        buf[5048:5052] = np.array([self.float_cache[1] if fvalid else 0.0], dtype="<f4").tobytes()
        buf[5052] = 1 if fvalid else 0
        return np.frombuffer(bytes(buf), dtype=np.uint8).copy()

    def set_state(self, data):
        """Load a state produced by :meth:`get_state` (or by torch). Raises ValueError on a bad state."""
        data = np.ascontiguousarray(data, dtype=np.uint8).reshape(-1)
        if data.size != STATE_NBYTES:
            raise ValueError(f"Expected a CPUGeneratorImplState of size {STATE_NBYTES} but found the input "
                             f"RNG state size to be {data.size}")
        raw = data.tobytes()
        seed = int(np.frombuffer(raw, "<u8", 1, 0)[0])
        left = int(np.frombuffer(raw, "<i4", 1, 8)[0])
        seeded = int(np.frombuffer(raw, "<i4", 1, 12)[0])
        nxt = int(np.frombuffer(raw, "<u8", 1, 16)[0]) & _M32
        words = np.frombuffer(raw, "<u8", N, 24)
        if not (seeded and 0 < left <= N and nxt <= N):
            raise ValueError("Invalid mt19937 state")
        normal_y = float(np.frombuffer(raw, "<f8", 1, 5024)[0])
        normal_valid = int(np.frombuffer(raw, "<i4", 1, 5040)[0])
        fval = float(np.frombuffer(raw, "<f4", 1, 5048)[0])
        fvalid = raw[5052]
        self.mt[:] = (words & _M32).astype(np.uint32)
        self.seed = seed
        self.seeded = True
        self.pos[0] = left
        self.pos[1] = nxt
        self.normal_cache[:] = (1.0, normal_y) if normal_valid else (0.0, 0.0)
        self.float_cache[:] = (1.0, fval) if fvalid else (0.0, 0.0)

    # -- raw draws -------------------------------------------------------------------------------
    def random(self, n):
        """``n`` draws of ``random()`` (uint32)."""
        out = np.empty(int(n), dtype=np.uint32)
        if out.size:
            _kernel("_mt_fill")(self.mt, self.pos, out)
        return out

    def random64(self, n):
        """``n`` draws of ``random64()`` (uint64, first word high)."""
        w = self.random(2 * int(n)).astype(np.uint64)
        return (w[0::2] << np.uint64(32)) | w[1::2]

    def random_one(self):
        return int(self.random(1)[0])


# --------------------------------------------------------------------------------------------------
# dtype helpers (raw arrays: bfloat16 is uint16 bit patterns)
# --------------------------------------------------------------------------------------------------

def float32_to_bfloat16_bits(values):
    """Round float32 to bfloat16 (nearest even, as c10::BFloat16(float)); returns uint16 bits."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    u = values.view(np.uint32)
    out = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(values)
    if nan.any():
        out[nan] = np.uint16(0x7FC0)
    return out


def bfloat16_bits_to_float32(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def _from_float32(values, kind):
    """float32 opmath results -> storage of ``kind`` ('float32', 'float16', 'bfloat16')."""
    if kind == "float32":
        return values
    if kind == "float16":
        return values.astype(np.float16)
    return float32_to_bfloat16_bits(values)


def _from_float64(values, kind):
    """double results -> storage of any dtype name, as static_cast<scalar_t>(double) does."""
    if kind == "float64":
        return values
    if kind == "float32":
        return values.astype(np.float32)
    if kind == "float16":
        # c10::Half(double) goes through float
        return values.astype(np.float32).astype(np.float16)
    if kind == "bfloat16":
        return float32_to_bfloat16_bits(values.astype(np.float32))
    if kind == "bool":
        return values != 0
    return _double_to_int(values, np.dtype(kind))


def _double_to_int(values, dt):
    # C++ float -> integer conversion truncates toward zero (out-of-range is UB; wrap like x86 would for
    # the values the kernels produce, which are always in range).
    return np.trunc(values).astype(np.int64).astype(dt)


_F32_DIV = np.float32(1.0 / (1 << 24))
_F64_DIV = 1.0 / (1 << 53)


def _uniform_f32_units(words):
    """uniform_real<float>(random(), 0, 1): low 24 bits / 2^24, in float32 (exact)."""
    return (words & np.uint32(0xFFFFFF)).astype(np.float32) * _F32_DIV


def _uniform_f64_units(r64):
    """uniform_real<double>(random64(), 0, 1): low 53 bits / 2^53 (exact)."""
    return (r64 & np.uint64((1 << 53) - 1)).astype(np.float64) * _F64_DIV


def _units_f32(words, out, scale, shift, affine, fused, to, frm):
    """``out`` = uniform_real<float>(random(), 0, 1) of ``words`` (low 24 bits / 2^24), then
    ``x * scale + shift`` (one FMA in ``fused`` builds) when ``affine``; a value equal to ``to`` becomes ``frm``."""
    for j in range(out.shape[0]):
        x = np.float32(np.int32(words[j] & 0xFFFFFF)) * _F32_DIV
        if affine:
            x = _fma(x, scale, shift) if fused else x * scale + shift
        out[j] = frm if x == to else x


def _units_f64(words, out, scale, shift, affine, fused, to, frm):
    """As :func:`_units_f32` in double: uniform_real<double>(random64(), 0, 1) from word pairs (first
    word high), low 53 bits / 2^53."""
    for j in range(out.shape[0]):
        r = ((np.int64(words[2 * j]) & 0x1FFFFF) << 32) | np.int64(words[2 * j + 1])
        x = np.float64(r) * _F64_DIV
        if affine:
            x = _fma(x, scale, shift) if fused else x * scale + shift
        out[j] = frm if x == to else x


# Bulk fills go a chunk at a time: draw the chunk's words, convert them, transform the values, while words
# and values are in cache; no temporary the size of the output is made.
_CHUNK = 1 << 15       # values per chunk; a multiple of 16, so chunks never split a Box-Muller block


def _fill_units(eng, out, scale, shift, affine=True, to=np.nan, frm=0.0, then=None, then_args=()):
    """Fill the float32 or float64 array ``out`` as :func:`_units_f32` / :func:`_units_f64` do (in draw
    order), calling ``then(block, *then_args)`` on the whole 16-blocks of each chunk once it is filled."""
    wide = out.dtype == np.float64
    per = 2 if wide else 1
    fill = _kernel("_mt_fill")
    units = _kernel("_units_f64" if wide else "_units_f32")
    fused = PROFILE["fused"]
    cast = out.dtype.type
    scale, shift, to, frm = cast(scale), cast(shift), cast(to), cast(frm)
    buf = np.empty(per * min(out.shape[0], _CHUNK), dtype=np.uint32)
    for s in range(0, out.shape[0], _CHUNK):
        chunk = out[s:s + _CHUNK]
        words = buf[:per * chunk.shape[0]]
        fill(eng.mt, eng.pos, words)
        units(words, chunk, scale, shift, affine, fused, to, frm)
        if then is not None:
            then(chunk[:chunk.shape[0] - chunk.shape[0] % 16], *then_args)


# --------------------------------------------------------------------------------------------------
# uniform_ / rand
# --------------------------------------------------------------------------------------------------

def _out_array(out, n, np_dtype):
    if out is None:
        return np.empty(n, dtype=np_dtype)
    if out.shape != (n,) or out.dtype != np_dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a contiguous 1-D {np.dtype(np_dtype).name} array of {n} elements")
    return out


def _stored(values, out):
    """``values``, or ``out`` (checked by :func:`_out_array`) holding a copy of them."""
    if out is None:
        return values
    _out_array(out, values.shape[0], values.dtype)[...] = values
    return out


def uniform(eng, n, kind, low=0.0, high=1.0, out=None):
    """``n`` values of ``uniform_(low, high)`` for a floating dtype name; returns the storage array.

    ``out``: a contiguous 1-D storage array of ``n`` elements to fill instead of a new one.
    """
    n = int(n)
    if kind == "float64":
        lo, hi = float(low), float(high)
        v = _out_array(out, n, np.float64)
        _fill_units(eng, v, hi - lo, lo, not (lo == 0.0 and hi == 1.0), hi, lo)
        return v
    lo32, hi32 = np.float32(low), np.float32(high)
    affine = not (lo32 == 0 and hi32 == 1)
    if kind == "float32":
        v = _out_array(out, n, np.float32)
        _fill_units(eng, v, hi32 - lo32, lo32, affine, hi32, lo32)
        return v
    # half / bfloat16: the `to` -> `from` check compares stored values, after rounding
    v = np.empty(n, dtype=np.float32)
    _fill_units(eng, v, hi32 - lo32, lo32, affine)
    v = _from_float32(v, kind)
    to_s = _from_float64(np.array([float(high)]), kind)[0]
    from_s = _from_float64(np.array([float(low)]), kind)[0]
    if n:
        v[v == to_s] = from_s      # a value rounded up to `to` becomes `from`
    return _stored(v, out)


# --------------------------------------------------------------------------------------------------
# random_ / randint
# --------------------------------------------------------------------------------------------------

def _int64_to_storage(v, kind):
    """static_cast<scalar_t>(int64) for every dtype name (``v`` is an int64 array)."""
    if kind in ("float64", "float32"):
        return v.astype(np.dtype(kind))
    if kind == "float16":
        return v.astype(np.float32).astype(np.float16)
    if kind == "bfloat16":
        return float32_to_bfloat16_bits(v.astype(np.float32))
    if kind == "bool":
        return v != 0
    return v.astype(np.dtype(kind))


def uniform_int_from_to(eng, n, range_, base, kind):
    """``random_(from, to)``: (draw % range) + base, one 32-bit draw per value unless range >= 2^28."""
    n = int(n)
    range_ = int(range_)
    if range_ >= (1 << 28):
        # uint64 arithmetic wrapping like C++, then reinterpreted as int64
        draws = eng.random64(n)
        v = ((draws % np.uint64(range_)) + np.uint64(base & 0xFFFFFFFFFFFFFFFF)).view(np.int64)
    else:
        # base + (w % range) < to <= INT64_MAX, so plain int64 arithmetic gives the same values
        v = (eng.random(n) % np.uint32(range_)).astype(np.int64)
        v += base
    return _int64_to_storage(v, kind)


def uniform_int_full_range(eng, n, kind):
    """``random_(int64 min, None)``: the whole 64-bit draw reinterpreted as int64."""
    return _int64_to_storage(eng.random64(int(n)).view(np.int64), kind)


_RANDOM_MOD = {
    "bool": None, "uint8": 1 << 8, "int8": 1 << 7, "int16": 1 << 15, "int32": 1 << 31, "int64": 1 << 63,
    "float16": (1 << 11) + 1, "bfloat16": (1 << 8) + 1, "float32": (1 << 24) + 1, "float64": (1 << 53) + 1,
}


def uniform_int(eng, n, kind):
    """``random_()`` with no bounds: [0, 2^digits] for floats, [0, max] for integers."""
    n = int(n)
    if kind in ("float64", "int64"):
        draws = eng.random64(n)
    else:
        draws = eng.random(n).astype(np.uint64)
    if kind == "bool":
        return (draws & np.uint64(1)).astype(np.bool_)
    v = (draws % np.uint64(_RANDOM_MOD[kind])).view(np.int64)
    return _int64_to_storage(v, kind)


# --------------------------------------------------------------------------------------------------
# normal_
# --------------------------------------------------------------------------------------------------

# avx_mathfun.h constants (float literals rounded to float32, or raw bit patterns)
_f = np.float32
_ONE = _f(1.0)
_HALF = _f(0.5)
_MIN_NORM = np.array([0x00800000], dtype=np.int32).view(np.float32)[0]
_SQRTHF = _f(0.707106781186547524)
_LP0 = _f(7.0376836292E-2)
_LP1 = _f(-1.1514610310E-1)
_LP2 = _f(1.1676998740E-1)
_LP3 = _f(-1.2420140846E-1)
_LP4 = _f(1.4249322787E-1)
_LP5 = _f(-1.6668057665E-1)
_LP6 = _f(2.0000714765E-1)
_LP7 = _f(-2.4999993993E-1)
_LP8 = _f(3.3333331174E-1)
_LQ1 = _f(-2.12194440e-4)
_LQ2 = _f(0.693359375)
_DP1 = _f(-0.78515625)
_DP2 = _f(-2.4187564849853515625e-4)
_DP3 = _f(-3.77489497744594108e-8)
_SC0 = _f(-1.9515295891E-4)
_SC1 = _f(8.3321608736E-3)
_SC2 = _f(-1.6666654611E-1)
_CC0 = _f(2.443315711809948E-005)
_CC1 = _f(-1.388731625493765E-003)
_CC2 = _f(4.166664568298827E-002)
_FOPI = _f(1.27323954473516)
_TWO_PI_F = _f(2.0 * math.pi)
_MINUS_TWO_F = _f(-2.0)
_TWO_PI = 2.0 * math.pi
_ZERO_F = _f(0.0)


def _bm16_f32(data, mean, std):
    """In-place Box-Muller on each block of 16 float32 values, as NormalFill16<float> (AVX2) does.

    Lane j pairs u1 = 1 - data[j] (radius) with u2 = data[j + 8] (angle). log and sincos are the
    cephes-style polynomials of avx_mathfun.h evaluated in float32; the ``_fma`` calls sit where GCC
    contracts ``mul`` + ``add`` of those intrinsics (-mfma, -ffp-contract=fast). The 8 lanes compile
    to AVX2 vectors, as in ATen (bit casts in registers, llvm.sqrt, indices LLVM sees as consecutive).
    """
    for block in range(data.shape[0] // 16):
        base = 16 * block
        for j in range(8):
            # ---- log256_ps(1 - u) ----
            x = _ONE - data[base + j]
            invalid = x <= _ZERO_F
            if x < _MIN_NORM:
                x = _MIN_NORM
            bits = _f32_bits(x)
            imm0 = (bits >> 23) & 0x1FF
            x = _bits_f32(np.int32((bits & ~0x7F800000) | 0x3F000000))
            e = np.float32(imm0 - 127)
            e = e + _ONE
            if x < _SQRTHF:
                tmp = x
                x = x - _ONE
                e = e - _ONE
                x = x + tmp
            else:
                x = x - _ONE
                e = e - _ZERO_F
                x = x + _ZERO_F
            z = x * x
            y = _fma(_LP0, x, _LP1)
            y = _fma(y, x, _LP2)
            y = _fma(y, x, _LP3)
            y = _fma(y, x, _LP4)
            y = _fma(y, x, _LP5)
            y = _fma(y, x, _LP6)
            y = _fma(y, x, _LP7)
            y = _fma(y, x, _LP8)
            y = y * x
            y = _fma(y, z, e * _LQ1)
            y = _fma(-z, _HALF, y)
            x = x + y
            x = _fma(e, _LQ2, x)
            if invalid:
                x = np.float32(np.nan)
            radius = _sqrt(_MINUS_TWO_F * x)
            # ---- sincos256_ps(2*pi*u2) ----
            theta = _TWO_PI_F * data[base + j + 8]
            tbits = _f32_bits(theta)
            sign_sin = tbits & np.int32(-2147483648)
            xa = _bits_f32(np.int32(tbits & 0x7FFFFFFF))
            yq = xa * _FOPI
            imm2 = np.int32(yq) if yq < 2147483648.0 else np.int32(-2147483648)
            imm2 = (imm2 + 1) & ~1
            yq = np.float32(imm2)
            swap_sin = (imm2 & 4) << 29
            poly_sin = (imm2 & 2) == 0
            xa = _fma(yq, _DP1, xa)
            xa = _fma(yq, _DP2, xa)
            xa = _fma(yq, _DP3, xa)
            sign_cos = (~(imm2 - 2) & 4) << 29
            sign_sin = sign_sin ^ swap_sin
            z = xa * xa
            yc = _fma(_CC0, z, _CC1)
            yc = _fma(yc, z, _CC2)
            yc = yc * z
            yc = _fma(yc, z, -(z * _HALF))
            yc = yc + _ONE
            ys = _fma(_SC0, z, _SC1)
            ys = _fma(ys, z, _SC2)
            ys = ys * z
            ys = _fma(ys, xa, xa)
            if poly_sin:
                ysin2 = ys
                ysin1 = _ZERO_F
            else:
                ysin2 = _ZERO_F
                ysin1 = yc
            ys = ys - ysin2
            yc = yc - ysin1
            sin_t = _bits_f32(np.int32(_f32_bits(ysin1 + ysin2) ^ sign_sin))
            cos_t = _bits_f32(np.int32(_f32_bits(yc + ys) ^ sign_cos))
            n1 = radius * cos_t
            n2 = radius * sin_t
            data[base + j] = _fma(n1, std, mean)
            data[base + j + 8] = _fma(n2, std, mean)


def _bm16_f32_generic(data, mean, std):
    """In-place Box-Muller on blocks of 16 float32 values: the generic NormalFill16<float> (no AVX2)."""
    for block in range(data.shape[0] // 16):
        base = 16 * block
        for j in range(8):
            u1 = _ONE - data[base + j]
            u2 = data[base + j + 8]
            radius = math.sqrt(_MINUS_TWO_F * math.log(u1))
            theta = np.float32(_TWO_PI * np.float64(u2))
            data[base + j] = _fma(radius * math.cos(theta), std, mean)
            data[base + j + 8] = _fma(radius * math.sin(theta), std, mean)


def _bm16_f64(data, mean, std):
    """In-place Box-Muller on blocks of 16 doubles: NormalFill16<double> (scalar libm)."""
    for block in range(data.shape[0] // 16):
        base = 16 * block
        for j in range(8):
            u1 = 1.0 - data[base + j]
            u2 = data[base + j + 8]
            radius = math.sqrt(-2.0 * math.log(u1))
            theta = _TWO_PI * u2
            data[base + j] = _fma(radius * math.cos(theta), std, mean)
            data[base + j + 8] = _fma(radius * math.sin(theta), std, mean)


def _normal_scalar(u, out, mean, std, cache, fused):
    """at::normal_distribution<double> per element, with the generator's cached second sample."""
    p = 0
    for k in range(out.shape[0]):
        if cache[0] != 0.0:
            val = cache[1]
            cache[0] = 0.0
        else:
            u1 = u[p]
            u2 = u[p + 1]
            p += 2
            r = math.sqrt(-2.0 * math.log1p(-u2))
            theta = _TWO_PI * u1
            cache[1] = r * math.sin(theta)
            cache[0] = 1.0
            val = r * math.cos(theta)
        out[k] = _fma(val, std, mean) if fused else val * std + mean


def normal(eng, n, kind, mean=0.0, std=1.0, contiguous=True, out=None):
    """``n`` values of ``normal_(mean, std)`` for a floating dtype name (storage array, fill order).

    ``out``: a contiguous 1-D storage array of ``n`` elements to fill instead of a new one.
    """
    n = int(n)
    mean = float(mean)
    std = float(std)
    if n >= 16 and contiguous:
        # NormalFill16: uniforms for every element (half / bfloat16: for the whole 16-blocks only, they
        # go 16 at a time through a float32 buffer), Box-Muller on each whole block, then, when n is not
        # a multiple of 16, 16 fresh uniforms transformed into the last 16 places. Blocks are independent,
        # so transforming each chunk as soon as it is drawn gives ATen's values.
        if kind == "float64":
            data = _out_array(out, n, np.float64)
            bm, args, ndraw = _kernel("_bm16_f64"), (mean, std), n
        else:
            data = _out_array(out, n, np.float32) if kind == "float32" else np.empty(n, dtype=np.float32)
            bm = _kernel("_bm16_f32" if PROFILE["avx2_normal"] else "_bm16_f32_generic")
            args, ndraw = (np.float32(mean), np.float32(std)), n if kind == "float32" else n - n % 16
        _fill_units(eng, data[:ndraw], 1.0, 0.0, False, then=bm, then_args=args)
        if n % 16:
            _fill_units(eng, data[n - 16:], 1.0, 0.0, False, then=bm, then_args=args)
        if kind in ("float32", "float64"):
            return data
        return _stored(_from_float32(data, kind), out)
    # scalar path: double Box-Muller, one cached sample
    need = n - (1 if eng.normal_cache[0] != 0.0 else 0)
    pairs = (max(need, 0) + 1) // 2
    u = _uniform_f64_units(eng.random64(2 * pairs))
    z = np.empty(n, dtype=np.float64)
    if n:
        _kernel("_normal_scalar")(u, z, mean, std, eng.normal_cache, PROFILE["fused"])
    return _stored(_from_float64(z, kind), out)


# --------------------------------------------------------------------------------------------------
# bernoulli_, exponential_
# --------------------------------------------------------------------------------------------------

def bernoulli_tensor(eng, p, kind):
    """``self.bernoulli_(p_tensor)``: ``p`` is the broadcast probability array in fill order.

    float64 p: uniform double (random64) < p; other float p: uniform float (random) < float(p).
    Returns the storage array of dtype name ``kind``.
    """
    p = np.asarray(p)
    n = p.size
    flat = p.reshape(-1)
    if flat.dtype == np.float64:
        hit = _uniform_f64_units(eng.random64(n)) < flat
    else:
        if flat.dtype == np.uint16:        # bfloat16 bits
            flat = bfloat16_bits_to_float32(flat)
        hit = _uniform_f32_units(eng.random(n)) < flat.astype(np.float32)
    return _bool_to_storage(hit, kind)


def bernoulli_scalar(eng, n, p, kind):
    """``self.bernoulli_(p_float)`` (ATen's default kernel: uniform double < p per element)."""
    hit = _uniform_f64_units(eng.random64(int(n))) < float(p)
    return _bool_to_storage(hit, kind)


def _bool_to_storage(hit, kind):
    if kind == "bool":
        return hit
    if kind == "bfloat16":
        return np.where(hit, np.uint16(0x3F80), np.uint16(0))
    return hit.astype(np.dtype(kind))


_T_EXPONENTIAL, _T_CAUCHY, _T_GEOMETRIC, _T_EXP = 0, 1, 2, 3


def _transform_double(u, out, mode, a, b, fused):
    """Per-element double transforms of ATen's CPU kernels (libm, FMA where GCC contracts)."""
    for i in range(u.shape[0]):
        v = u[i]
        if mode == 0:      # exponential: -1/lambda * log1p(-u)
            out[i] = (-1.0 / a) * math.log1p(-v)
        elif mode == 1:    # cauchy (double): median + sigma * tan(pi * (u - 0.5))
            t = math.tan(math.pi * (v - 0.5))
            out[i] = _fma(b, t, a) if fused else a + b * t
        elif mode == 2:    # geometric: ceil(log(u) / log1p(-p))
            out[i] = math.ceil(math.log(v) / math.log1p(-a))
        else:              # log-normal: exp of a normal sample
            out[i] = math.exp(v)


def _transform(u, mode, a=0.0, b=0.0):
    out = np.empty(u.shape[0], dtype=np.float64)
    if out.size:
        _kernel("_transform_double")(u, out, mode, float(a), float(b), PROFILE["fused"])
    return out


def exponential(eng, n, lam, kind):
    """``exponential_(lambd)``: -1/lambd * log1p(-u) in double, u a uniform double."""
    u = _uniform_f64_units(eng.random64(int(n)))
    return _from_float64(_transform(u, _T_EXPONENTIAL, lam), kind)


def cauchy(eng, n, median, sigma, kind):
    """``cauchy_(median, sigma)`` (ATen computes in double for every dtype)."""
    u = _uniform_f64_units(eng.random64(int(n)))
    return _from_float64(_transform(u, _T_CAUCHY, median, sigma), kind)


def geometric(eng, n, p, kind):
    """``geometric_(p)``: ceil(log(u) / log1p(-p)) in double."""
    u = _uniform_f64_units(eng.random64(int(n)))
    return _from_float64(_transform(u, _T_GEOMETRIC, p), kind)


def log_normal(eng, n, mean, std, kind):
    """``log_normal_(mean, std)``: exp of the scalar (cached) double normal sampler, per element."""
    n = int(n)
    need = n - (1 if eng.normal_cache[0] != 0.0 else 0)
    pairs = (max(need, 0) + 1) // 2
    u = _uniform_f64_units(eng.random64(2 * pairs))
    z = np.empty(n, dtype=np.float64)
    if n:
        _kernel("_normal_scalar")(u, z, float(mean), float(std), eng.normal_cache, PROFILE["fused"])
    return _from_float64(_transform(z, _T_EXP), kind)


# --------------------------------------------------------------------------------------------------
# bernoulli_(float p) on Intel CPUs: ATen hands the work to MKL (VSL_BRNG_MCG31 seeded with one
# random() draw, viRngBernoulli ICDF). Best-effort model of that path, selected by cpu_is_intel().
# --------------------------------------------------------------------------------------------------

_MCG31_A = 1132489760
_MCG31_M = 0x7FFFFFFF


def _mcg31_bernoulli(x0, p, out):
    # x_{k+1} = a x_k mod (2^31 - 1); the k-th uniform is x_k / (2^31 - 1), starting with the seed state
    x = np.int64(x0)
    for i in range(out.shape[0]):
        out[i] = (x / 2147483647.0) < p
        x = (x * 1132489760) % 0x7FFFFFFF


_INTEL = []


def cpu_is_intel():
    """Whether ATen would take its MKL path for bernoulli_(float) (cpuinfo vendor == Intel)."""
    if not _INTEL:
        vendor = ""
        try:
            with open("/proc/cpuinfo") as fh:
                for line in fh:
                    if line.startswith("vendor_id"):
                        vendor = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        _INTEL.append(vendor == "GenuineIntel")
    return _INTEL[0]


def bernoulli_scalar_mkl(eng, n, p, kind):
    """MKL-path model: consumes exactly one 32-bit word, like ATen on Intel CPUs.

    vslNewStream(VSL_BRNG_MCG31, seed) starts at x_0 = seed mod (2^31 - 1) (1 if that is 0) and
    viRngBernoulli(ICDF) gives 1 where u < p (as oneMKL's open device implementation does). ATen's
    per-thread chunks use skip-ahead, so the result is one sequential stream. Not checked on Intel.
    """
    seed = eng.random_one()
    x0 = seed % _MCG31_M
    if x0 == 0:
        x0 = 1
    hit = np.empty(int(n), dtype=np.bool_)
    if hit.size:
        _kernel("_mcg31_bernoulli")(x0, float(p), hit)
    return _bool_to_storage(hit, kind)


# --------------------------------------------------------------------------------------------------
# randperm
# --------------------------------------------------------------------------------------------------

_RANDPERM_SMALL = 0xFFFFFFFF // 20


def _randperm(out, draws, small):
    n = out.shape[0]
    if small:
        for i in range(n):
            out[i] = i
        for i in range(n - 1):
            z = np.int64(draws[i] % np.uint64(n - i))
            t = out[i]
            out[i] = out[z + i]
            out[z + i] = t
    else:
        for i in range(n):
            z = np.int64(draws[i] % np.uint64(i + 1))
            out[i] = out[z]
            out[z] = i


def randperm(eng, n):
    """torch.randperm(n) as int64: Fisher-Yates with random() % (n - i) for n < 2^32/20, else the
    inside-out variant with random64() % (i + 1)."""
    n = int(n)
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out
    small = n < _RANDPERM_SMALL
    if small:
        draws = eng.random(n - 1).astype(np.uint64)
    else:
        draws = eng.random64(n)
    _kernel("_randperm")(out, draws, small)
    return out


# --------------------------------------------------------------------------------------------------
# multinomial
# --------------------------------------------------------------------------------------------------

# ATen's CPU topk selects with libstdc++'s std::partial_sort (k * 64 <= n) or std::nth_element followed
# by std::sort of the first k - 1; the comparator looks at values only, so equal values come out in
# whatever order those algorithms leave them. The helpers below follow the same steps (heap select,
# median-of-three introselect, introsort with a final insertion sort) on a list of (value, index) pairs,
# so ties land where PyTorch puts them. They run only when ties reach the top k.

def _gt(a, b):
    return a[0] > b[0]


def _push_up(v, first, hole, top, item):
    parent = (hole - 1) // 2
    while hole > top and _gt(v[first + parent], item):
        v[first + hole] = v[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    v[first + hole] = item


def _sift(v, first, hole, length, item):
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if _gt(v[first + child], v[first + child - 1]):
            child -= 1
        v[first + hole] = v[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        v[first + hole] = v[first + child - 1]
        hole = child - 1
    _push_up(v, first, hole, top, item)


def _make_heap(v, first, last):
    length = last - first
    if length < 2:
        return
    parent = (length - 2) // 2
    while True:
        _sift(v, first, parent, length, v[first + parent])
        if parent == 0:
            return
        parent -= 1


def _pop_to(v, first, last, result):
    item = v[result]
    v[result] = v[first]
    _sift(v, first, 0, last - first, item)


def _heap_select(v, first, middle, last):
    _make_heap(v, first, middle)
    for i in range(middle, last):
        if _gt(v[i], v[first]):
            _pop_to(v, first, middle, i)


def _sort_heap(v, first, last):
    while last - first > 1:
        last -= 1
        _pop_to(v, first, last, last)


def _partial_sort(v, first, middle, last):
    _heap_select(v, first, middle, last)
    _sort_heap(v, first, middle)


def _median_to_first(v, result, a, b, c):
    if _gt(v[a], v[b]):
        if _gt(v[b], v[c]):
            pick = b
        elif _gt(v[a], v[c]):
            pick = c
        else:
            pick = a
    elif _gt(v[a], v[c]):
        pick = a
    elif _gt(v[b], v[c]):
        pick = c
    else:
        pick = b
    v[result], v[pick] = v[pick], v[result]


def _partition_pivot(v, first, last):
    mid = first + (last - first) // 2
    _median_to_first(v, first, first + 1, mid, last - 1)
    lo, hi, pivot = first + 1, last, first
    while True:
        while _gt(v[lo], v[pivot]):
            lo += 1
        hi -= 1
        while _gt(v[pivot], v[hi]):
            hi -= 1
        if not lo < hi:
            return lo
        v[lo], v[hi] = v[hi], v[lo]
        lo += 1


def _linear_insert(v, pos):
    item = v[pos]
    j = pos - 1
    while _gt(item, v[j]):
        v[j + 1] = v[j]
        j -= 1
    v[j + 1] = item


def _insertion_sort(v, first, last):
    if first == last:
        return
    for i in range(first + 1, last):
        if _gt(v[i], v[first]):
            item = v[i]
            v[first + 1:i + 1] = v[first:i]
            v[first] = item
        else:
            _linear_insert(v, i)


def _log2_floor(n):
    return n.bit_length() - 1


def _nth_element(v, first, nth, last):
    depth = 2 * _log2_floor(last - first) if last > first else 0
    while last - first > 3:
        if depth == 0:
            _heap_select(v, first, nth + 1, last)
            v[first], v[nth] = v[nth], v[first]
            return
        depth -= 1
        cut = _partition_pivot(v, first, last)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(v, first, last)


def _introsort(v, first, last, depth):
    while last - first > 16:
        if depth == 0:
            _partial_sort(v, first, last, last)
            return
        depth -= 1
        cut = _partition_pivot(v, first, last)
        _introsort(v, cut, last, depth)
        last = cut


def _sort(v, first, last):
    if last - first < 2:
        return
    _introsort(v, first, last, 2 * _log2_floor(last - first))
    if last - first > 16:
        _insertion_sort(v, first, first + 16)
        for i in range(first + 16, last):
            _linear_insert(v, i)
    else:
        _insertion_sort(v, first, last)


def _topk_stl(values, k):
    """Indices of the k largest ``values`` in the order ATen's CPU topk (sorted=True) returns them."""
    v = [(float(x), i) for i, x in enumerate(values.tolist())]
    n = len(v)
    if k * 64 <= n:
        _partial_sort(v, 0, k, n)
    else:
        _nth_element(v, 0, k - 1, n)
        _sort(v, 0, k - 1)
    return [i for _, i in v[:k]]


def topk_indices(values, k):
    """``torch.topk(values, k).indices`` for a 1-D array without NaN, ties placed as ATen places them."""
    order = np.argsort(-values.astype(np.float64), kind="stable")
    ranked = values[order]
    m = min(k + 1, values.shape[0])
    if m > 1 and np.any(ranked[:m - 1] == ranked[1:m]):
        return np.array(_topk_stl(values, k), dtype=np.int64)
    return order[:k].astype(np.int64)


def multinomial(eng, probs, num_samples, replacement, kind):
    """torch.multinomial on a 2-D (rows, categories) float array (bfloat16 as float32 values).

    ``kind`` is the probability dtype name. Returns int64 (rows, num_samples). Without replacement (or
    for a single sample) it is argmax/topk of p / q with q ~ Exp(1) drawn in ``kind`` precision;
    with replacement it is inverse-CDF sampling with one uniform double per sample.
    Argument checking is the caller's job.
    """
    probs = np.asarray(probs)
    rows, ncat = probs.shape
    num_samples = int(num_samples)
    if not replacement or num_samples == 1:
        q = exponential(eng, rows * ncat, 1.0, kind)
        if kind == "bfloat16":
            qv = bfloat16_bits_to_float32(q).reshape(rows, ncat)
            ratio = bfloat16_bits_to_float32(float32_to_bfloat16_bits(probs.astype(np.float32) / qv))
        else:
            qv = q.reshape(rows, ncat)
            ratio = probs / qv
        if num_samples == 1:
            return np.argmax(ratio, axis=1).astype(np.int64).reshape(rows, 1)
        return np.stack([topk_indices(ratio[i], num_samples) for i in range(rows)])
    acc = np.float64 if kind == "float64" else np.float32
    out = np.empty((rows, num_samples), dtype=np.int64)
    for i in range(rows):
        cum = np.cumsum(probs[i].astype(acc), dtype=acc)
        total = cum[-1]
        cum = cum / total
        cum[-1] = 1
        u = _uniform_f64_units(eng.random64(num_samples))
        out[i] = np.searchsorted(cum.astype(np.float64), u, side="left")
    return out
