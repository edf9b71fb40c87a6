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
from npu_sim.kernels.conv import ConvShape, conv_layer_programs, conv_programs
from npu_sim.kernels.gemm import gemm_programs

from . import tiler
from ._common import CONFIG, Unsupported, sim_dtype
from .profiler import Cost, emit
from .vector import analytic_cost, vmap

SIM_MACS = 1 << 25


def gemm(a, b, op="matmul"):
    """``a @ b`` for 2-D float arrays on the cube; returns (result in a's dtype, Cost)."""
    out, cost = gemm_batch(a[None], b[None], op)
    return out[0], cost


def gemm_batch(a, b, op="matmul"):
    """``a[g] @ b[g]`` for (G, M, K) and (G, K, N) float arrays as one launch on the cube; returns (result, Cost)."""
    out_dt = sim_dtype(op, a, b)
    (G, M, K), N = a.shape, b.shape[2]
    if 0 in (G, M, K, N):
        return np.zeros((G, M, N), a.dtype), Cost()
    bm, bn, k1, bk = tiler.gemm_tiles(M, K, N, G)
    if G * M * K * N > SIM_MACS:
        out = np.stack([_emulated(a[g], b[g], (bm, bn, k1, bk)) for g in range(G)])
        return out.astype(a.dtype, copy=False), _timed(G, M, K, N, out_dt)
    m = Machine(CONFIG)
    ga = [m.tensor(a[g], "fp16") for g in range(G)]
    gb = [m.tensor(b[g], "fp16") for g in range(G)]
    gc = [m.empty(M, N, out_dt) for _ in range(G)]
    one = G == 1      # a single product keeps the plain launch (round-robin tiles)
    report = m.run(gemm_programs(m, ga[0] if one else ga, gb[0] if one else gb, gc[0] if one else gc,
                                 bm=bm, bn=bn, k1=k1, bk=bk), check_hazards=False)
    return np.stack([m.read(c) for c in gc]), Cost.of(report)


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
def _timed(G, M, K, N, out_dt):
    bm, bn, k1, bk = tiler.gemm_tiles(M, K, N, G)
    m = Machine(CONFIG, numerics=False)
    a, b = [m.empty(M, K, "fp16")] * G, [m.empty(K, N, "fp16")] * G
    c = [m.empty(M, N, out_dt) for _ in range(G)]
    if G == 1:
        a, b, c = a[0], b[0], c[0]
    return Cost.of(m.run(gemm_programs(m, a, b, c, bm=bm, bn=bn, k1=k1, bk=bk, coarse=True)))


def _batched(a, b):
    """numpy ``matmul`` semantics (1-D operands, broadcast batch dims) over cube GEMMs, batches in one launch."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if b2.ndim == 2:
        out, cost = gemm(a2.reshape(-1, a2.shape[-1]), b2)
        out = out.reshape(a2.shape[:-1] + (b2.shape[1],))
    else:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        a3 = np.broadcast_to(a2, batch + a2.shape[-2:]).reshape((-1,) + a2.shape[-2:])
        b3 = np.broadcast_to(b2, batch + b2.shape[-2:]).reshape((-1,) + b2.shape[-2:])
        out, cost = gemm_batch(a3, b3)
        out = out.reshape(batch + out.shape[-2:])
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


# ---- convolution ------------------------------------------------------------------------------------------
# conv1d is conv2d with a unit height. Every (image, group) is one product of a batched cube GEMM, all in one
# launch. The forward pass expands patches on the chip: each feature map goes GM -> L1 once (NC1HWC0) and
# MTE1's img2col_cbuf_to_ca writes the patch blocks into L0A (npu_sim.kernels.conv.conv_programs), so the
# kh*kw-fold expansion costs L1->L0A bandwidth, not GM traffic. Convolutions above SIM_MACS are timed by the
# coarse layer model (conv_layer_programs, same img2col path; square kernels, equal strides and symmetric
# padding, no dilation) with numpy computing the cube's arithmetic. What neither covers (a feature map larger
# than half of L1 in the numeric path, other geometries above SIM_MACS) and both backward maps build the
# columns on the host (kernels.cpu.conv) and the cube GEMM loads them from GM: the expansion is then charged
# as GM->L1 traffic, an upper bound. conv_transpose's col2im adds the columns back into the input's shape in
# fp32, charged analytically as one vadd pass over the columns.

def _merged(groups, cg):
    """How many consecutive groups share one cube product: as many as fill one C0 (16) of input channels,
    since the cube pads each product's channels to 16 anyway (CANN's group extension)."""
    e = min(groups, max(1, 16 // cg))
    while groups % e:
        e -= 1
    return e


def _block_diagonal(w, groups, e):
    """(O, Cg, *k) weights of ``groups`` groups -> (O, e*Cg, *k) for ``groups // e``: merged groups block-diagonal."""
    o, cg = w.shape[:2]
    og = o // groups
    out = np.zeros((o, e * cg) + w.shape[2:], w.dtype)
    for g in range(groups):
        out[g * og:(g + 1) * og, g % e * cg:(g % e + 1) * cg] = w[g * og:(g + 1) * og]
    return out


def _conv_check(op, x, w, padding):
    sim_dtype(op, x, w)
    if len(padding) > 2:
        raise Unsupported(f"'{op}' on npu runs 1-D and 2-D convolutions (the cube's img2col is 2-D), got "
                          f"{len(padding)} spatial dims")


def _plane(stride, padding, dilation):
    """2-D geometry (a unit height in front for 1-D): stride, (low, high) padding pairs, dilation."""
    lead = 2 - len(padding)
    return (1,) * lead + tuple(stride), ((0, 0),) * lead + tuple(map(tuple, padding)), (1,) * lead + tuple(dilation)


def _as_plane(t):
    return t[:, :, None] if t.ndim == 3 else t


def _by_group(t, groups):
    """(N, O, *L) -> (groups, O / groups, N * L)."""
    return np.moveaxis(t, 0, 1).reshape(groups, t.shape[1] // groups, -1)


def _columns(x, kernel, stride, padding, dilation, groups, out=None):
    """Host im2col per group: (groups, C/groups * K, N * L) in float32, and the output size."""
    return _cpu_conv._columns(x.astype(np.float32, copy=False), kernel, stride, padding, dilation, groups, out)


def _weight_groups(w, groups):
    """(O, C/groups, *k) -> (groups, C/groups * K, O/groups): each group's weights as a GEMM's right operand."""
    return w.reshape(groups, w.shape[0] // groups, -1).transpose(0, 2, 1)


@lru_cache(maxsize=128)
def _timed_layer(cin, cout, h, w, k, stride, pad, batch):
    m = Machine(CONFIG, numerics=False)
    programs, _ = conv_layer_programs(m, ConvShape("conv", cin, cout, h, w, k, stride, pad), batch)
    return Cost.of(m.run(programs))


def _conv_on_chip(x, w, stride, padding, dilation, groups, out_dt):
    """The forward conv with img2col in MTE1 as (result (N, O, Ho, Wo), Cost), or None where it does not apply."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho = (h + sum(padding[0]) - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + sum(padding[1]) - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    macs = n * ho * wo * o * cg * kh * kw
    if macs <= SIM_MACS:
        if -(-cg // 16) * h * wd * 16 * 2 > CONFIG.l1_bytes // 2:
            return None
        m = Machine(CONFIG)
        try:
            programs, read = conv_programs(m, x, w, stride, padding, dilation, groups, out_dt)
        except ValueError:          # no tiling fits next to the resident feature map
            return None
        report = m.run(programs, check_hazards=False)
        return read(), Cost.of(report)
    square = kh == kw and stride[0] == stride[1] and len({*padding[0], *padding[1]}) == 1 and dilation == (1, 1)
    if not square:
        return None
    cols, _ = _columns(x, (kh, kw), stride, padding, dilation, groups)
    wg = _weight_groups(w.astype(np.float32), groups)
    tiles = tiler.gemm_tiles(cols.shape[2], cols.shape[1], wg.shape[2], groups)
    res = np.stack([_emulated(cols[g].T, wg[g], tiles) for g in range(groups)])   # (G, N*L, O/G)
    res = res.reshape(groups, n, ho, wo, o // groups).transpose(1, 0, 4, 2, 3).reshape(n, o, ho, wo)
    return res, _timed_layer(cg, o // groups, h, wd, kh, stride[0], padding[0][0], n * groups)


def _conv(x, w, stride, padding, dilation, groups, out=None):
    """Cross-correlation (1-D or 2-D, any groups) on the cube: img2col in MTE1, one batched GEMM launch."""
    _conv_check("conv", x, w, padding)
    e = _merged(groups, w.shape[1])
    w, groups = _block_diagonal(w, groups, e), groups // e
    spatial = x.shape[2:]
    st, pad, dil = _plane(stride, padding, dilation)
    x4, w4 = _as_plane(x), _as_plane(w)
    out_dt = "fp16" if x.dtype == np.float16 else "fp32"
    done = None if out is not None else _conv_on_chip(x4, w4, st, pad, dil, groups, out_dt)
    if done is None:
        cols, size = _columns(x4, w4.shape[2:], st, pad, dil, groups, None if out is None else (1,) * (4 - x.ndim) + tuple(out))
        res, cost = gemm_batch(cols.transpose(0, 2, 1).astype(x.dtype, copy=False),
                               _weight_groups(w4, groups).astype(x.dtype, copy=False), "conv")
        res = res.reshape((groups, x.shape[0]) + size + (w.shape[0] // groups,))
        done = np.moveaxis(res, -1, 2).reshape((x.shape[0], w.shape[0]) + size), cost
    res, cost = done
    res = res.reshape(res.shape[:2] + res.shape[2:][-len(spatial):])
    return emit("conv", np.ascontiguousarray(res.astype(x.dtype, copy=False)), cost)


def _conv_transpose(g, w, stride, padding, dilation, groups, size):
    """conv's input gradient: per group ``w_g.T @ g_g`` on the cube (one launch) gives the columns, col2im adds
    them into (N, C, *size)."""
    _conv_check("conv_transpose", g, w, padding)
    e = _merged(groups, w.shape[1])
    w, groups = _block_diagonal(w, groups, e), groups // e
    n, out = g.shape[0], g.shape[2:]
    cols, cost = gemm_batch(_weight_groups(w, groups).astype(np.float32),
                            _by_group(g, groups).astype(np.float32), "conv_transpose")
    cols = cols.reshape(-1, n, int(np.prod(out)))
    res = _cpu_conv._plane_scatter(cols, (n, w.shape[1] * groups) + tuple(size), w.shape[2:], stride, padding,
                                   dilation, out)
    cost = cost + analytic_cost(("vadd",), cols.size, res.size, "fp32", 4)
    return emit("conv_transpose", res.astype(g.dtype, copy=False), cost)


def _conv_weight(x, g, stride, padding, dilation, groups, kernel):
    """conv's weight gradient: per group ``g_g @ cols_g.T`` on the cube (one launch), K = N*Ho*Wo."""
    _conv_check("conv_weight", x, g, padding)
    cg = x.shape[1] // groups
    e = _merged(groups, cg)
    cols, _ = _columns(x, kernel, stride, padding, dilation, groups // e, g.shape[2:])
    res, cost = gemm_batch(_by_group(g, groups // e), cols.transpose(0, 2, 1).astype(x.dtype, copy=False),
                           "conv_weight")
    res = res.reshape((g.shape[1], e * cg) + tuple(kernel))
    og = g.shape[1] // groups     # each group's block of the merged product's block-diagonal result
    res = np.concatenate([res[k * og:(k + 1) * og, k % e * cg:(k % e + 1) * cg] for k in range(groups)])
    return emit("conv_weight", res, cost)


KERNELS = {"matmul": _matmul, "linear": _linear, "addmatmul": _addmatmul, "conv": _conv,
           "conv_transpose": _conv_transpose, "conv_weight": _conv_weight}
