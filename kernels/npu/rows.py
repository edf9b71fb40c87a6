"""Reductions and softmax as row programs on the simulated vector unit.

An op is first brought to rows: the reduced dims (softmax: ``dim``) are made the last ones and flattened, so
the input is a (rows, length) matrix in GM. When they are not already the trailing dims the host permutes the
array (a data rearrangement the chip would do with ``vtranspose``/``vnchwconv``); that pass is charged with an
analytic vector cost and the record then says ``model="sim+analytic"``.

Each core takes blocks of ``rb`` rows. A block's rows come into the UB one 64-element column block at a time
(``rb`` x 64 fp32, every tile row exactly one fp32 vector repeat; float16 comes in as fp16 and is widened by
``vconv``), and stay resident while the block is processed:

* reduction: an accumulator tile starts at the identity (``vector_dup``) and takes each column block with the
  elementwise op (vadd / vmax / vmin) in repeat form, the last block masked to the row's tail; one
  ``vcadd``/``vcmax``/``vcmin`` then leaves one value per row (``mean``: ``vdiv`` by the count);
* softmax: row max as above; ``brcb`` spreads each row's max over a 32-byte block, and ``vsub`` with a source
  block stride of 0 subtracts it from the whole row; ``vexp``; row sum; ``brcb`` again and ``vdiv``
  (log_softmax: ``vln`` of the sum and ``vsub``).

Two row blocks are in flight per core (MTE2 loads one while the vector unit works on the other and MTE3 writes
back a third); rows too long for that run single-buffered, and a row longer than the UB holds is refused.
"""
import numpy as np

from npu_sim import Machine
from npu_sim.kernels.launch import split_blocks

from ._common import CONFIG, Unsupported, sim_dtype
from .tiler import MIN_CORE_BYTES
from .profiler import Cost, emit
from .vector import analytic_cost

WIDTH = CONFIG.vector_bytes_per_repeat // 4        # fp32 lanes of one repeat: one column block
BROADCAST = [(1, 8), (1, 8), (0, 1)]              # dst, src, and a per-row value read as one 32-byte block
_REDUCE = {"sum": ("vadd", 0.0, "vcadd"), "max": ("vmax", -np.inf, "vcmax"), "min": ("vmin", np.inf, "vcmin")}


def _row_budget(kind, rows, per_row, fixed, row_bytes):
    """(rows per block, buffered halves) so that ``halves`` x rows x ``per_row`` bytes plus the per-row ``fixed``
    temporaries fit the UB, with the rows spread over the cores (each reading at least ``MIN_CORE_BYTES`` of
    ``row_bytes``-long rows); Unsupported when not even one row fits."""
    budget = CONFIG.ub_bytes - 16 * CONFIG.align_ub     # alignment slack of the allocations
    spread = max(-(-rows // CONFIG.num_cores), MIN_CORE_BYTES // row_bytes)
    for halves in (2, 1):
        rb = budget // (halves * per_row + fixed)
        if rb >= 1:
            return min(rb, CONFIG.vector_max_repeat, spread), halves
    raise Unsupported(f"'{kind}' on npu keeps a row in the {CONFIG.ub_bytes}-byte UB; a row of "
                      f"{per_row // 4} elements does not fit")


def _reduce_into(p, kind, acc, blocks, rbt, last_mask):
    """Fold the column-block tiles ``blocks`` into ``acc`` with ``kind``'s elementwise op; the last one is masked."""
    op = _REDUCE[kind][0]
    for c, blk in enumerate(blocks):
        p.vector_repeat(op, acc, acc, blk, repeat=rbt, mask=last_mask if c == len(blocks) - 1 else WIDTH)


def _reduce_program(kind, x, scale=None, out_dt=None):
    """One value per row of 2-D ``x`` (kind: sum, max, min; ``scale``: divide by it); returns (values, Cost).

    The row block's column blocks stream through the UB in groups of ``g``, so any row length works; the
    accumulator keeps the block's partial results between groups. ``out_dt``: the values' element type (default
    the input's; "fp32" keeps a float16 input's partial results for a second pass unrounded).
    """
    dt = sim_dtype(kind, x)
    out_dt = out_dt or dt
    rows, length = x.shape
    fp16 = dt == "fp16"
    ncb = -(-length // WIDTH)
    tail = length - (ncb - 1) * WIDTH
    col_bytes = WIDTH * (4 + 2 * fp16)
    rb, halves = _row_budget(kind, rows, col_bytes, WIDTH * 4 + 2 * 8 * (4 + 2 * fp16) + 4, length * x.itemsize)
    g = max(1, min(ncb, (CONFIG.ub_bytes - 16 * CONFIG.align_ub - rb * (WIDTH * 4 + 100)) // (halves * rb * col_bytes)))
    m = Machine(CONFIG)
    gx, gout = m.tensor(x, dt), m.empty(1, rows, out_dt)
    programs = []
    for starts in split_blocks(list(range(0, rows, rb)), CONFIG.num_cores):
        p = m.program()
        X = [p.alloc_tile("UB", g * rb, WIDTH, "fp32") for _ in range(halves)]
        stage = [p.alloc_tile("UB", g * rb, WIDTH, "fp16") for _ in range(halves)] if fp16 else X
        acc = p.alloc_tile("UB", rb, WIDTH, "fp32")
        red = [p.alloc_tile("UB", 1, rb, "fp32") for _ in range(2)]
        red16 = [p.alloc_tile("UB", 1, rb, "fp16") for _ in range(2)] if out_dt == "fp16" else red
        div = p.alloc_tile("UB", 1, rb, "fp32") if scale else None
        if scale:
            p.vector("vector_dup", div, count=rb, scalar=float(scale))
        t = 0
        for b, r0 in enumerate(starts):
            rbt, qb = min(rb, rows - r0), b % 2
            p.vector("vector_dup", acc, count=rbt * WIDTH, scalar=_REDUCE[kind][1])
            for c0 in range(0, ncb, g):
                q, nb = t % halves, min(g, ncb - c0)
                if t >= halves:
                    p.wait_flag("V", "MTE2", q)          # half q folded in (WAR)
                for c in range(nb):
                    col = (c0 + c) * WIDTH
                    p.copy_gm_to_ubuf(stage[q].row_block(c * rb, rbt), gx, r0, col, rbt, min(WIDTH, length - col))
                p.set_flag("MTE2", "V", q)
                p.wait_flag("MTE2", "V", q)
                if fp16:
                    p.vector("vconv", X[q], stage[q], count=nb * rb * WIDTH)
                _reduce_into(p, kind, acc, [X[q].row_block(c * rb, rbt) for c in range(nb)], rbt,
                             tail if c0 + nb == ncb else WIDTH)
                p.set_flag("V", "MTE2", q)
                t += 1
            if b >= 2:
                p.wait_flag("MTE3", "V", qb)             # results of block b-2 written back (WAR)
            p.vector_repeat(_REDUCE[kind][2], red[qb], acc, repeat=rbt)
            if scale:
                p.vector("vdiv", red[qb], red[qb], div, count=rbt)
            if out_dt == "fp16":
                p.vector("vconv", red16[qb], red[qb], count=rbt)
            p.set_flag("V", "MTE3", qb)
            p.wait_flag("V", "MTE3", qb)
            p.copy_ubuf_to_gm(gout, red16[qb]._replace(cols=rbt), 0, r0)
            p.set_flag("MTE3", "V", qb)
        programs.append(p)
    report = m.run(programs, check_hazards=False)
    return m.read(gout)[0].astype(np.float16 if out_dt == "fp16" else np.float32, copy=False), Cost.of(report)


def _softmax_program(kind, x):
    """softmax or log_softmax of each row of 2-D ``x``, rows resident in the UB; returns (values, Cost)."""
    dt = sim_dtype(kind, x)
    rows, length = x.shape
    fp16 = dt == "fp16"
    ncb = -(-length // WIDTH)
    tail = length - (ncb - 1) * WIDTH
    temps = 2 if kind == "log_softmax" else 1
    rb, halves = _row_budget(kind, rows, ncb * WIDTH * (4 + 2 * fp16), temps * WIDTH * 4 + 8 * 4 + 32 + 4,
                             length * x.itemsize)
    m = Machine(CONFIG)
    gx, gout = m.tensor(x, dt), m.empty(rows, length, dt)
    programs = []
    for starts in split_blocks(list(range(0, rows, rb)), CONFIG.num_cores):
        p = m.program()
        X = [p.alloc_tile("UB", ncb * rb, WIDTH, "fp32") for _ in range(halves)]
        stage = [p.alloc_tile("UB", ncb * rb, WIDTH, "fp16") for _ in range(halves)] if fp16 else X
        acc = p.alloc_tile("UB", rb, WIDTH, "fp32")
        tmp = p.alloc_tile("UB", rb, WIDTH, "fp32") if kind == "log_softmax" else None
        red = p.alloc_tile("UB", 1, -(-rb // 8) * 8, "fp32")
        bc = p.alloc_tile("UB", -(-rb // 8) * 8, 8, "fp32")
        for t, r0 in enumerate(starts):
            q, rbt = t % halves, min(rb, rows - r0)
            blocks = [X[q].row_block(c * rb, rbt) for c in range(ncb)]
            if t >= halves:
                p.wait_flag("MTE3", "MTE2", q)          # half q written back (WAR on its tiles)
            for c in range(ncb):
                p.copy_gm_to_ubuf(stage[q].row_block(c * rb, rbt), gx, r0, c * WIDTH, rbt,
                                  min(WIDTH, length - c * WIDTH))
            p.set_flag("MTE2", "V", q)
            p.wait_flag("MTE2", "V", q)
            if fp16:
                p.vector("vconv", X[q], stage[q], count=ncb * rb * WIDTH)
            p.vector("vector_dup", acc, count=rbt * WIDTH, scalar=-np.inf)
            _reduce_into(p, "max", acc, blocks, rbt, tail)
            p.vector_repeat("vcmax", red, acc, repeat=rbt)
            p.brcb(bc, red, repeat=-(-rbt // 8))
            for blk in blocks:
                p.vector_repeat("vsub", blk, blk, bc, repeat=rbt, strides=BROADCAST)
            p.vector("vector_dup", acc, count=rbt * WIDTH, scalar=0.0)
            if kind == "softmax":
                p.vector("vexp", X[q], X[q], count=ncb * rb * WIDTH)
                _reduce_into(p, "sum", acc, blocks, rbt, tail)
                p.vector_repeat("vcadd", red, acc, repeat=rbt)
            else:
                for c, blk in enumerate(blocks):
                    p.vector("vexp", tmp, blk, count=rbt * WIDTH)
                    _reduce_into(p, "sum", acc, [tmp], rbt, tail if c == ncb - 1 else WIDTH)
                p.vector_repeat("vcadd", red, acc, repeat=rbt)
                p.vector("vln", red, red, count=rbt)
            p.brcb(bc, red, repeat=-(-rbt // 8))
            for blk in blocks:
                p.vector_repeat("vdiv" if kind == "softmax" else "vsub", blk, blk, bc, repeat=rbt, strides=BROADCAST)
            if fp16:
                p.vector("vconv", stage[q], X[q], count=ncb * rb * WIDTH)
            p.set_flag("V", "MTE3", q)
            p.wait_flag("V", "MTE3", q)
            for c in range(ncb):
                p.copy_ubuf_to_gm(gout, stage[q].row_block(c * rb, rbt), r0, c * WIDTH)
            p.set_flag("MTE3", "MTE2", q)
        programs.append(p)
    report = m.run(programs, check_hazards=False)
    return m.read(gout).astype(x.dtype, copy=False), Cost.of(report)


def _as_rows(name, x, dims):
    """(rows matrix, kept shape, Cost of the host permutation) with the reduced ``dims`` last and flattened."""
    sim_dtype(name, x)
    dims = tuple(range(x.ndim)) if dims is None else tuple(d % max(x.ndim, 1) for d in dims)
    keep = [d for d in range(x.ndim) if d not in dims]
    kept_shape = tuple(x.shape[d] for d in keep)
    length = int(np.prod([x.shape[d] for d in dims], dtype=np.int64))
    order = keep + sorted(dims)
    cost = Cost()
    if order != sorted(order) and x.size:
        x = np.transpose(x, order)
        cost = analytic_cost(("vtranspose",), x.size, x.size, sim_dtype(name, x), x.itemsize)
    return np.ascontiguousarray(x).reshape(int(np.prod(kept_shape, dtype=np.int64)), length), kept_shape, cost


def _keep(out, x, dims, keepdim):
    if not keepdim:
        return out
    dims = range(x.ndim) if dims is None else [d % x.ndim for d in dims]
    return out.reshape(tuple(1 if d in dims else s for d, s in enumerate(x.shape)))


def _reduction(name, kind, x, dims, keepdim, mean=False):
    rows, kept_shape, cost = _as_rows(name, x, dims)
    if rows.size == 0:    # nothing to read: the identity (sum), 0/0 (mean)
        with np.errstate(all="ignore"):
            out = np.full(rows.shape[0], np.nan if mean else 0, x.dtype)
        return emit(name, _keep(out.reshape(kept_shape), x, dims, keepdim), cost)
    count, n = rows.shape[1], rows.shape[0]
    split = min(CONFIG.num_cores // n, count * x.itemsize // MIN_CORE_BYTES)
    if split >= 2:     # too few rows to fill the cores: each row's segments first, then the fp32 partial results
        seg = -(-count // split // WIDTH) * WIDTH
        # the identity in the last segment's tail stands for the lane mask the hardware would apply there
        rows = np.pad(rows, ((0, 0), (0, split * seg - count)), constant_values=_REDUCE[kind][1])
        partial, c = _reduce_program(kind, rows.reshape(n * split, seg), out_dt="fp32")
        cost = cost + c
        rows = partial.reshape(n, split)
    out, c = _reduce_program(kind, rows, count if mean else None, sim_dtype(name, x))
    return emit(name, _keep(out.reshape(kept_shape), x, dims, keepdim), cost + c)


def _sum(x, dims, keepdim, dtype=None):
    """``sum`` over ``dims`` as a row program (vadd over column blocks, vcadd), fp32 accumulation."""
    if dtype is not None and np.dtype(dtype) != x.dtype:
        raise Unsupported(f"'sum' on npu accumulates in the input's dtype, got dtype={np.dtype(dtype)}")
    return _reduction("sum", "sum", x, dims, keepdim)


def _mean(x, dims, keepdim):
    """``mean`` over ``dims``: the ``sum`` row program, then vdiv by the count."""
    return _reduction("mean", "sum", x, dims, keepdim, mean=True)


def _amax(x, dims, keepdim):
    """``amax`` over ``dims`` as a row program (vmax over column blocks, vcmax); NaN propagates."""
    return _reduction("amax", "max", x, dims, keepdim)


def _amin(x, dims, keepdim):
    """``amin`` over ``dims`` as a row program (vmin over column blocks, vcmin); NaN propagates."""
    return _reduction("amin", "min", x, dims, keepdim)


def _softmax_kernel(name):
    def kernel(x, dim):
        if x.size == 0:
            return emit(name, x.copy(), Cost())
        rows, _, cost = _as_rows(name, x, (dim,))
        out, c = _softmax_program(name, rows)
        cost = cost + cost      # a permuted input is permuted back
        moved = np.moveaxis(x, dim, -1).shape
        return emit(name, np.ascontiguousarray(np.moveaxis(out.reshape(moved), -1, dim)), cost + c)
    kernel.__name__ = name
    kernel.__doc__ = f"``{name}`` along ``dim`` as a row program (vcmax, brcb, vsub, vexp, vcadd, ...) in fp32 lanes."
    return kernel


KERNELS = {"sum": _sum, "mean": _mean, "amax": _amax, "amin": _amin,
           "softmax": _softmax_kernel("softmax"), "log_softmax": _softmax_kernel("log_softmax")}
