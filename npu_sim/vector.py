"""The vector unit: its operation table (class for costing, numpy function for numerics).

Arithmetic on fp16 is done by numpy in fp16, i.e. each result is rounded to fp16 as the hardware's
fp16 lanes do; bf16 operands are widened to fp32 and the result rounded back to bf16.
"""
import numpy as np

from .dtypes import from_compute, itemsize, to_compute

# name -> (number of vector sources, cost class, function of (sources..., scalar))
OPS = {
    "vadd": (2, "binary", lambda x, y, s: x + y),
    "vsub": (2, "binary", lambda x, y, s: x - y),
    "vmul": (2, "binary", lambda x, y, s: x * y),
    "vdiv": (2, "binary", lambda x, y, s: x / y),
    "vmax": (2, "binary", lambda x, y, s: np.maximum(x, y)),
    "vmin": (2, "binary", lambda x, y, s: np.minimum(x, y)),
    "vand": (2, "binary", lambda x, y, s: x & y),
    "vor": (2, "binary", lambda x, y, s: x | y),
    "vadds": (1, "unary", lambda x, s: x + x.dtype.type(s)),
    "vmuls": (1, "unary", lambda x, s: x * x.dtype.type(s)),
    "vmaxs": (1, "unary", lambda x, s: np.maximum(x, x.dtype.type(s))),
    "vabs": (1, "unary", lambda x, s: np.abs(x)),
    "vexp": (1, "unary", lambda x, s: np.exp(x)),
    "vln": (1, "unary", lambda x, s: np.log(x)),
    "vsqrt": (1, "unary", lambda x, s: np.sqrt(x)),
    "vrelu": (1, "unary", lambda x, s: np.maximum(x, x.dtype.type(0))),
    "vrec": (1, "unary", lambda x, s: x.dtype.type(1) / x),
    "vector_dup": (0, "unary", None),
    "vconv": (1, "binary", None),
    "vcadd": (1, "unary", None),
    "vcmax": (1, "unary", None),
    "vcmin": (1, "unary", None),
}

REDUCE = {"vcadd": np.sum, "vcmax": np.max, "vcmin": np.min}


def repeats(count, dtype, bytes_per_repeat=256):
    """Vector repeats needed for ``count`` elements: ceil(count * sizeof / 256)."""
    return -(-count * itemsize(dtype) // bytes_per_repeat)


def vector_cycles(config, op, count, dtype):
    """Occupancy of one vector instruction: head + repeats x cycles per repeat."""
    cls = OPS[op][1]
    per = config.vector_cycles_binary if cls == "binary" else config.vector_cycles_unary
    return config.vector_head + repeats(count, dtype, config.vector_bytes_per_repeat) * per


def vector_numerics(local, op, dst, srcs, count, dtype, src_dtype=None, scalar=None):
    """Apply ``op`` to the first ``count`` elements of the source regions, writing ``dst``."""
    if op == "vector_dup":
        local.view(dst, dtype)[:count] = from_compute(np.full(count, scalar, np.float32), dtype)
        return
    if op == "vconv":
        x = to_compute(local.view(srcs[0], src_dtype)[:count], src_dtype)
        local.view(dst, dtype)[:count] = from_compute(x.astype(np.float32) if dtype == "bf16" else x, dtype)
        return
    xs = [to_compute(local.view(s, dtype)[:count], dtype) for s in srcs]
    if op in REDUCE:
        per = 256 // itemsize(dtype)   # one result per 256-byte repeat
        n = -(-count // per)
        x = xs[0]
        out = [REDUCE[op](x[i * per:(i + 1) * per]) for i in range(n)]
        local.view(dst, dtype)[:n] = from_compute(np.array(out, x.dtype), dtype)
        return
    fn = OPS[op][2]
    with np.errstate(all="ignore"):   # inf/nan follow IEEE as on the hardware, no Python warnings
        out = fn(*xs, scalar)
    local.view(dst, dtype)[:count] = from_compute(out, dtype)
