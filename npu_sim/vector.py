"""The vector unit: its operation table (class for costing, numpy function for numerics).

Arithmetic on fp16 is done by numpy in fp16, i.e. each result is rounded to fp16 as the hardware's
fp16 lanes do; bf16 operands are widened to fp32 and the result rounded back to bf16.

An instruction runs in one of two forms. The *count* form walks ``count`` contiguous elements. The
*repeat* form is the hardware's own addressing (REFERENCE §2.2 "Vector unit"): ``repeat`` iterations of
8 blocks of 32 bytes, each operand with its own block stride and repeat stride (in 32-byte blocks), and a
lane mask (the first ``mask`` lanes of each repeat are active; the rest of the destination is left as it
was). A block stride of 0 reads one 32-byte block for all 8 blocks of a repeat, which together with
``brcb`` (one element per 32-byte block) broadcasts a per-row value across a row.

Compare and select (REFERENCE §3 lists ``vcmp``/``vsel``): ``vcmpv_<mode>`` compares two operands lane by lane
and ``vsel`` picks ``x`` where the mask is set, else ``y``. The hardware packs the mask one bit per lane; here a
mask is one element per lane (1 or 0 in the operands' type), so it follows the same repeat addressing as the
data (a UB footprint 8-32x the packed one; the timing is unaffected). NaN compares unordered as in IEEE 754:
only ``ne`` is true. Both are costed as binary instructions (ESTIMATE: the reference gives the formula, not the
class).
"""
from functools import lru_cache

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
    "vcmpv_lt": (2, "binary", lambda x, y, s: (x < y).astype(x.dtype)),
    "vcmpv_le": (2, "binary", lambda x, y, s: (x <= y).astype(x.dtype)),
    "vcmpv_gt": (2, "binary", lambda x, y, s: (x > y).astype(x.dtype)),
    "vcmpv_ge": (2, "binary", lambda x, y, s: (x >= y).astype(x.dtype)),
    "vcmpv_eq": (2, "binary", lambda x, y, s: (x == y).astype(x.dtype)),
    "vcmpv_ne": (2, "binary", lambda x, y, s: (x != y).astype(x.dtype)),
    "vsel": (3, "binary", lambda m, x, y, s: np.where(m != 0, x, y)),
    "vcadd": (1, "unary", None),
    "vcmax": (1, "unary", None),
    "vcmin": (1, "unary", None),
}

REDUCE = {"vcadd": np.sum, "vcmax": np.max, "vcmin": np.min}
BLOCKS_PER_REPEAT = 8
CONTIGUOUS = (1, 8)   # (block stride, repeat stride) of an operand read or written without gaps


def repeats(count, dtype, bytes_per_repeat=256):
    """Vector repeats needed for ``count`` elements: ceil(count * sizeof / 256)."""
    return -(-count * itemsize(dtype) // bytes_per_repeat)


def vector_cycles(config, op, count, dtype):
    """Occupancy of one vector instruction: head + repeats x cycles per repeat."""
    cls = OPS[op][1]
    per = config.vector_cycles_binary if cls == "binary" else config.vector_cycles_unary
    return config.vector_head + repeats(count, dtype, config.vector_bytes_per_repeat) * per


def repeat_cycles(config, op, repeat, instructions):
    """Occupancy of repeat-form instructions: one head per instruction plus the repeats' cycles."""
    cls = OPS[op][1] if op in OPS else "unary"
    per = config.vector_cycles_binary if cls == "binary" else config.vector_cycles_unary
    return instructions * config.vector_head + repeat * per


@lru_cache(maxsize=1024)
def repeat_offsets(repeat, strides, dtype, mask, bytes_per_repeat=256):
    """Element offsets a repeat-form operand touches: a (repeat, mask) array for (block, repeat) ``strides``
    (cached and shared: read-only)."""
    block = bytes_per_repeat // BLOCKS_PER_REPEAT // itemsize(dtype)
    blk, rep = strides
    blocks = np.arange(repeat)[:, None] * rep + np.arange(BLOCKS_PER_REPEAT)[None, :] * blk
    out = (blocks[:, :, None] * block + np.arange(block)).reshape(repeat, -1)[:, :mask]
    out.flags.writeable = False
    return out


def repeat_numerics(local, op, dst, srcs, dtype, offsets, scalar=None):
    """Apply ``op`` in repeat form; ``offsets`` = the destination's then each source's ``repeat_offsets``."""
    xs = [to_compute(local.view(s, dtype), dtype)[o] for s, o in zip(srcs, offsets[1:])]
    out_view = local.view(dst, dtype)
    if op in REDUCE:    # one result per repeat, written contiguously
        out_view[:len(offsets[1])] = from_compute(REDUCE[op](xs[0], axis=1), dtype)
        return
    if op == "vector_dup":
        out = np.full(offsets[0].shape, scalar, np.float32)
    else:
        with np.errstate(all="ignore"):
            out = OPS[op][2](*xs, scalar)
    out_view[offsets[0]] = from_compute(out, dtype)


def brcb_numerics(local, dst, src, repeat, dtype, bytes_per_repeat=256):
    """``brcb``: each of ``8 * repeat`` source elements fills one 32-byte block of the destination."""
    block = bytes_per_repeat // BLOCKS_PER_REPEAT // itemsize(dtype)
    n = repeat * BLOCKS_PER_REPEAT
    local.view(dst, dtype)[:n * block] = np.repeat(local.view(src, dtype)[:n], block)


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
