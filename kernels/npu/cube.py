"""GEMM-family kernels (matmul, linear, addmatmul, 2-D conv and its two backward maps) lowered to the simulator's cube.

Every product is ``npu_sim.kernels.gemm`` 's double-buffered schedule with tiles from ``tiler.gemm_tiles``,
spread over the chip's cores: operands are rounded to fp16 in GM, the cube multiplies fp16 fractals
exactly and accumulates in fp32 in L0C, and the epilogue (L0C->UB->GM) writes fp32 for float32
tensors or rounds to fp16 for float16 ones. float32 inputs therefore lose precision to fp16 as on the
910's cube. Batched products run one GEMM per batch element (a shared 2-D right operand folds the
batch into one GEMM).

GEMMs above ``SIM_MACS`` multiply-accumulates skip the instruction-by-instruction numerics (minutes of
simulation): the simulator times them in its validated coarse mode (cached per shape), and numpy
computes the same arithmetic the simulated cube does (fp16 operands, exact fp32 products, fp32
accumulation one ``bk``-deep k-step at a time), which the simulator documents as its cube numerics.
"""
from functools import lru_cache

import numpy as np

from kernels.cpu import conv as _cpu_conv
from npu_sim import Machine
from npu_sim.kernels.gemm import gemm_programs

from . import tiler
from ._common import CONFIG, Unsupported, sim_dtype
from .profiler import Cost, emit
from .vector import analytic_cost, vmap

SIM_MACS = 1 << 25


def gemm(a, b, op="matmul"):
    """``a @ b`` for 2-D float arrays on the cube; returns (result in a's dtype, Cost)."""
    out_dt = sim_dtype(op, a, b)
    (M, K), N = a.shape, b.shape[1]
    if 0 in (M, K, N):
        return np.zeros((M, N), a.dtype), Cost()
    bm, bn, k1, bk = tiler.gemm_tiles(M, K, N)
    if M * K * N > SIM_MACS:
        return _emulated(a, b, (bm, bn, k1, bk)).astype(a.dtype, copy=False), _timed(M, K, N, out_dt)
    m = Machine(CONFIG)
    ga, gb, gc = m.tensor(a, "fp16"), m.tensor(b, "fp16"), m.empty(M, N, out_dt)
    report = m.run(gemm_programs(m, ga, gb, gc, bm=bm, bn=bn, k1=k1, bk=bk), check_hazards=False)
    return m.read(gc), Cost.of(report)


def _emulated(a, b, tiles):
    """The simulated cube's arithmetic, tile by tile: fp16 operands zero-padded to whole fractals, fp32
    products of each ``bk``-deep k-step added into an fp32 accumulator in the same order as the program."""
    bm, bn, _, bk = tiles
    a = a.astype(np.float16).astype(np.float32)
    b = b.astype(np.float16).astype(np.float32)
    (M, K), N = a.shape, b.shape[1]
    out = np.empty((M, N), np.float32)
    for i in range(0, M, bm):
        for j in range(0, N, bn):
            m, n = min(bm, M - i), min(bn, N - j)
            acc = None
            for k in range(0, K, bk):
                step = min(bk, K - k)
                pa = np.zeros((-(-m // 16) * 16, -(-step // 16) * 16), np.float32)
                pb = np.zeros((pa.shape[1], -(-n // 16) * 16), np.float32)
                pa[:m, :step], pb[:step, :n] = a[i:i + m, k:k + step], b[k:k + step, j:j + n]
                prod = pa @ pb
                acc = prod if acc is None else acc + prod
            out[i:i + m, j:j + n] = acc[:m, :n]
    return out


@lru_cache(maxsize=256)
def _timed(M, K, N, out_dt):
    bm, bn, k1, bk = tiler.gemm_tiles(M, K, N)
    m = Machine(CONFIG, numerics=False)
    a, b, c = m.empty(M, K, "fp16"), m.empty(K, N, "fp16"), m.empty(M, N, out_dt)
    return Cost.of(m.run(gemm_programs(m, a, b, c, bm=bm, bn=bn, k1=k1, bk=bk, coarse=True)))


def _batched(a, b):
    """numpy ``matmul`` semantics (1-D operands, broadcast batch dims) over 2-D cube GEMMs."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if b2.ndim == 2:
        out, cost = gemm(a2.reshape(-1, a2.shape[-1]), b2)
        out = out.reshape(a2.shape[:-1] + (b2.shape[1],))
    else:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        a3 = np.broadcast_to(a2, batch + a2.shape[-2:])
        b3 = np.broadcast_to(b2, batch + b2.shape[-2:])
        out = np.empty(batch + (a2.shape[-2], b2.shape[-1]), a.dtype)
        cost = Cost()
        for idx in np.ndindex(*batch):
            out[idx], c = gemm(a3[idx], b3[idx])
            cost = cost + c
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out, cost


def _matmul(a, b):
    """``a @ b`` with numpy's matmul rules, on the cube."""
    return emit("matmul", *_batched(a, b))


def _linear(x, w):
    """``x @ w.T`` over the last dim of ``x``, one cube GEMM."""
    out, cost = gemm(x.reshape(-1, x.shape[-1]), w.T, "linear")
    return emit("linear", out.reshape(x.shape[:-1] + (w.shape[0],)), cost)


def _addmatmul(input, a, b, beta, alpha):
    """``beta * input + alpha * (a @ b)``: the product on the cube, scaling and sum on the vector unit."""
    out, cost = _batched(a, b)
    if alpha != 1:
        out, c = vmap("vmuls", [out], alpha)
        cost = cost + c
    if beta != 0:
        bias = input
        if beta != 1:
            bias, c = vmap("vmuls", [np.ascontiguousarray(input)], beta)
            cost = cost + c
        out, c = vmap("vadd", [out, np.broadcast_to(bias.astype(out.dtype, copy=False), out.shape)])
        cost = cost + c
    return emit("addmatmul", out, cost)


# ---- convolution: img2col on the host, the GEMM on the cube ----------------------------------------------
# The columns (C*kh*kw, N*Ho*Wo) are built on the host (kernels.cpu.conv's im2col) and the cube GEMM loads
# them from GM, so the kh*kw-fold expansion is charged as GM->L1 (MTE2) traffic of the expanded matrix: an
# upper bound on the chip's MTE1 img2col, which expands L1->L0A from the un-expanded feature map
# (npu_sim.kernels.conv). conv_transpose's col2im adds the GEMM's columns back into the input's shape:
# numpy does the adds in fp32, charged analytically as one vadd pass over the columns.

def _conv_check(op, x, w, padding, groups):
    sim_dtype(op, x, w)
    if len(padding) != 2:
        raise Unsupported(f"'{op}' on npu runs 2-D convolutions only, got {len(padding)} spatial dim(s)")
    if groups != 1:
        raise Unsupported(f"'{op}' on npu runs groups=1 only, got groups={groups}")


def _columns(x, kernel, stride, padding, dilation, out=None):
    cols, out = _cpu_conv._columns(x.astype(np.float32, copy=False), kernel, stride, padding, dilation, 1, out)
    return cols[0], out


def _conv(x, w, stride, padding, dilation, groups, out=None):
    """2-D cross-correlation (groups=1): ``cols.T @ w.T`` on the cube, M = N*Ho*Wo, K = C*kh*kw, N = O."""
    _conv_check("conv", x, w, padding, groups)
    cols, out = _columns(x, w.shape[2:], stride, padding, dilation, out)
    res, cost = gemm(cols.T.astype(x.dtype, copy=False), w.reshape(w.shape[0], -1).T, "conv")
    res = res.reshape((x.shape[0],) + out + (w.shape[0],)).transpose(0, 3, 1, 2)
    return emit("conv", np.ascontiguousarray(res), cost)


def _conv_transpose(g, w, stride, padding, dilation, groups, size):
    """conv's input gradient: ``w.T @ g`` on the cube gives the columns, col2im adds them into (N, C, *size)."""
    _conv_check("conv_transpose", g, w, padding, groups)
    o, c = w.shape[:2]
    n, out = g.shape[0], g.shape[2:]
    g2 = np.moveaxis(g, 1, 0).reshape(o, -1).astype(np.float32)
    cols, cost = gemm(w.reshape(o, -1).T.astype(np.float32), g2, "conv_transpose")
    cols = cols.reshape(cols.shape[0], n, -1)
    res = _cpu_conv._plane_scatter(cols, (n, c) + tuple(size), w.shape[2:], stride, padding, dilation, out)
    cost = cost + analytic_cost(("vadd",), cols.size, res.size, "fp32", 4)
    return emit("conv_transpose", res.astype(g.dtype, copy=False), cost)


def _conv_weight(x, g, stride, padding, dilation, groups, kernel):
    """conv's weight gradient: ``g @ cols.T`` on the cube, K = N*Ho*Wo."""
    _conv_check("conv_weight", x, g, padding, groups)
    cols, _ = _columns(x, kernel, stride, padding, dilation, g.shape[2:])
    g2 = np.moveaxis(g, 1, 0).reshape(g.shape[1], -1)
    res, cost = gemm(g2, cols.T.astype(x.dtype, copy=False), "conv_weight")
    return emit("conv_weight", res.reshape((g.shape[1], x.shape[1]) + tuple(kernel)), cost)


KERNELS = {"matmul": _matmul, "linear": _linear, "addmatmul": _addmatmul, "conv": _conv,
           "conv_transpose": _conv_transpose, "conv_weight": _conv_weight}
