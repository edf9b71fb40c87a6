"""The cube unit: fractal counts (its cost) and the numerics of ``mmad``.

Products of fp16/bf16 inputs are exact in fp32 and accumulate in fp32; int8 accumulates in int32,
exactly. The cube computes on whole (padded) fractals, as the hardware does.
"""
import numpy as np

from .dtypes import itemsize, to_compute
from .fractal import c0_of, ceil_to, from_layout, to_layout

ACCUMULATOR = {"fp16": "fp32", "bf16": "fp32", "fp32": "fp32", "int8": "int32"}


def fractal_count(m, k, n, dtype, k0_bytes=32):
    """Fractals one ``mmad`` of m x k x n costs: ceil(m/16) * ceil(k/k0) * ceil(n/16)."""
    k0 = k0_bytes // itemsize(dtype)
    return -(-m // 16) * -(-k // k0) * -(-n // 16)


def accumulator_of(dtype):
    """Accumulator element type for cube inputs of ``dtype``."""
    try:
        return ACCUMULATOR[dtype]
    except KeyError:
        raise ValueError(f"the cube takes fp16/bf16/fp32/int8 inputs, not {dtype!r}") from None


def mmad_numerics(local, c, a, b, m, k, n, dtype, accumulate):
    """C (NZ tile, L0C) = [C +] A (ZZ tile, L0A) @ B (ZN tile, L0B) over whole fractals.

    Operands are ``program.Tile``s; data sits in each tile's own fractal geometry, so an edge block
    smaller than the tile occupies its top-left corner (loads zero the rest).
    """
    k0 = c0_of(dtype)
    mp, kp, np_ = ceil_to(m, 16), ceil_to(k, k0), ceil_to(n, 16)
    acc = accumulator_of(dtype)
    acc_np = np.int32 if acc == "int32" else np.float32
    ar, ac = ceil_to(a.rows, 16), ceil_to(a.cols, k0)
    br, bc = ceil_to(b.rows, k0), ceil_to(b.cols, 16)
    cr, cc = ceil_to(c.rows, 16), ceil_to(c.cols, 16)
    a_dense = from_layout(local.view(a.region, dtype)[:ar * ac], "ZZ", ar, ac, k0)[:mp, :kp]
    b_dense = from_layout(local.view(b.region, dtype)[:br * bc], "ZN", br, bc, k0)[:kp, :np_]
    prod = to_compute(a_dense, dtype).astype(acc_np) @ to_compute(b_dense, dtype).astype(acc_np)
    c_flat = local.view(c.region, acc)[:cr * cc]
    dense = from_layout(c_flat, "NZ", cr, cc, 16).copy()
    if accumulate:
        dense[:mp, :np_] += prod
    else:
        dense[:mp, :np_] = prod
    c_flat[:] = to_layout(dense, "NZ", 16)
