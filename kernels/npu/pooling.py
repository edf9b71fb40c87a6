"""Pooling and argmax as window programs on the simulated vector unit (compare/select for the indices).

Layout: the planes (n, c) go into the lanes. The host rearranges an (N, C, H, W) float32 array into a cell-major
GM matrix of (H+pads) x (W+pads) cells by N*C planes, with the padding filled (-inf for max, 0 for sums), as
CANN's TransData to a channels-last format would; that pass and the way back are charged as analytic
``vtranspose`` passes, so the records say ``model="sim+analytic"``. A core takes 64 planes (one fp32 repeat per
cell) and a band of rows into the UB; for a fixed window offset (i, j) and output row, the output cells of the
row are the repeats of one instruction, each reading its input cell with a repeat stride of ``stride`` cells.

* ``max_pool``: per window cell in row-major order ``vcmpv_gt`` (larger) and ``vcmpv_ne`` (NaN, x != x) make a
  mask (OR = ``vmax`` of 0/1 masks); ``vsel`` takes the value and, from a table of flat input indices spread by
  ``brcb`` and read with a block stride of 0, the index. That is the CPU kernel's rule: the first maximum, the
  last NaN, a window of -inf points at its first cell inside the input. Indices leave as int32 (``vconv``; the
  vector unit has no int64 lanes) and are widened to int64 on the host.
* ``avg_pool``: ``vadd`` of the window cells in row-major order from 0, then ``vdiv`` by a per-cell divisor
  table (PyTorch's divisor rules, computed on the host as a constant assist tensor): equal to the CPU kernel.
* ``avg_pool_backward``, ``pool_scatter``: bands of input rows; each window offset's share (``vdiv`` by the
  divisor; for ``pool_scatter`` the gradient where ``vcmpv_eq`` finds the cell's index, else 0 by ``vsel``) is
  added into its cells in the CPU kernel's order. ``pool_scatter`` carries no window geometry: the lowering takes
  the stride that keeps the offsets (index minus stride x output position) in the narrowest range and runs every
  offset in that range, so any indices (adaptive windows too) scatter correctly; the indices are read on the
  host to pick that range when the program is built (data-dependent scalar loads are not modelled). Its sum is
  fp32 in window order (the CPU sums in float64): equal when at most two windows share a cell.
* ``argmax``: the max program over one window spanning the reduced dim (rows in the lanes), NaN rule "first".

1-D pooling runs as 2-D with a unit height; 3-D and dtypes other than float32 raise Unsupported.
"""
import numpy as np

from kernels.cpu.pooling import _divisor
from npu_sim import Machine
from npu_sim.kernels.launch import split_blocks

from ._common import CONFIG, Unsupported
from .profiler import Cost, emit
from .vector import analytic_cost

LANES = CONFIG.vector_bytes_per_repeat // 4         # fp32 planes per cell: one repeat
CELL = (1, 8)                                       # consecutive cells, one repeat each
TABLE_BYTES = 4 + CONFIG.vector_bytes_per_repeat // 8   # a per-cell table entry, raw and spread by brcb
MIN_BAND_CELLS = 64                                 # below this a band's GM latency outweighs another core


def _check(name, x, nd):
    if x.dtype != np.float32:
        raise Unsupported(f"'{name}' on npu runs in fp32 lanes and takes float32 tensors, got {x.dtype}")
    if nd not in (1, 2):
        raise Unsupported(f"'{name}' on npu takes 1-D or 2-D pooling, got {nd}-D windows")


def _planes2d(x, nd):
    """(N*C, H, W) view of an (N, C, *spatial) array, 1-D as a unit height."""
    p = x.shape[0] * x.shape[1]
    return x.reshape((p, 1) + x.shape[2:]) if nd == 1 else x.reshape((p,) + x.shape[2:])


def _geometry(nd, *pairs):
    """Per-argument 2-D versions of window tuples (1-D gains a unit leading entry, given in ``pairs``)."""
    return [tuple(v) if nd == 2 else (unit,) + tuple(v) for v, unit in pairs]


def _to_cells(planes, pad, fill):
    """Host TransData: (P, H, W) -> padded cell-major (Hp*Wp, P) float32, with its analytic cost."""
    padded = np.pad(planes, ((0, 0), pad[0], pad[1]), constant_values=fill)
    cells = np.ascontiguousarray(padded.reshape(planes.shape[0], -1).T)
    return cells, analytic_cost(("vtranspose",), cells.size, cells.size, "fp32", 4)


def _from_cells(cells, shape):
    """Host TransData back: (cells, P) -> (P, *cells shape), with its analytic cost."""
    out = np.ascontiguousarray(cells.T).reshape(shape)
    return out, analytic_cost(("vtranspose",), cells.size, cells.size, "fp32", 4)


def _pad8(n):
    return -(-n // 8) * 8


def _band(name, total, per_row, fixed, groups, row_cells):
    """Rows per band: two halves of ``per_row(rows)`` bytes plus ``fixed`` fit the UB, and the bands spread over
    the cores, each at least ``MIN_BAND_CELLS`` cells of ``row_cells``; Unsupported when one row does not fit."""
    budget = CONFIG.ub_bytes - 32 * CONFIG.align_ub - fixed
    fit = max((r for r in range(1, total + 1) if 2 * per_row(r) <= budget), default=0)
    if not fit:
        raise Unsupported(f"'{name}' on npu keeps a band of rows in the {CONFIG.ub_bytes}-byte UB; "
                          f"one row of this {row_cells}-cell-wide plane does not fit")
    want = -(-total // -(-CONFIG.num_cores // groups))
    return min(fit, max(want, -(-MIN_BAND_CELLS // row_cells)))


def _run(m, items, alloc, load, compute, store, shared=lambda p: {}):
    """One program per core over its ``items``: MTE2 loads, V computes, MTE3 stores, two halves in flight."""
    programs = []
    for share in split_blocks(items, CONFIG.num_cores):
        p = m.program()
        common = shared(p)
        halves = [dict(alloc(p), **common) for _ in range(2)]
        for it, item in enumerate(share):
            q, tiles = it % 2, halves[it % 2]
            if it >= 2:
                p.wait_flag("V", "MTE2", q)        # half q's inputs consumed (WAR)
            load(p, tiles, item)
            p.set_flag("MTE2", "V", q)
            p.wait_flag("MTE2", "V", q)
            if it >= 2:
                p.wait_flag("MTE3", "V", q)        # half q's outputs written back (WAR)
            compute(p, tiles, item)
            p.set_flag("V", "MTE2", q)
            p.set_flag("V", "MTE3", q)
            p.wait_flag("V", "MTE3", q)
            store(p, tiles, item)
            p.set_flag("MTE3", "V", q)
        programs.append(p)
    return m.run(programs, check_hazards=False)


def _from(tile, cell):
    """``tile`` from row ``cell`` to its end (a repeat operand starting at that cell)."""
    return tile.row_block(cell, tile.rows - cell)


def _spread(p, dst, raw, n):
    """``brcb``: ``n`` per-cell table entries each fill one 32-byte block of ``dst``."""
    p.brcb(dst, raw, repeat=-(-n // 8))


# ---- max (values and indices) -------------------------------------------------------------------------
def _max_program(name, cells, first_index, flat_index, geo, nan_first):
    """Window max over cell-major ``cells`` (Hp*Wp, P); returns (values (oh*ow, P), int32 indices, Report).

    ``first_index``: per output cell the index a window of -inf points at; ``flat_index``: per padded input
    cell its flat index. ``nan_first``: the first NaN wins (argmax) rather than the last (max pooling).
    """
    Hp, Wp, oh, ow, (kh, kw), (sh, sw), (dh, dw) = geo
    P = cells.shape[1]
    groups = -(-P // LANES)
    rows_in = lambda ob: (ob - 1) * sh + (kh - 1) * dh + 1
    per = lambda ob: (rows_in(ob) * Wp * TABLE_BYTES + 8 * 4 + rows_in(ob) * Wp * LANES * 4
                      + ob * ow * (TABLE_BYTES + 3 * LANES * 4) + 8 * 4)
    ob = _band(name, oh, per, 3 * ow * LANES * 4, groups, ow)
    ib = rows_in(ob)
    m = Machine(CONFIG)
    gx, gmap, ginit = m.tensor(cells, "fp32"), m.tensor(flat_index[None], "fp32"), m.tensor(first_index[None], "fp32")
    gv, gi = m.empty(oh * ow, P, "fp32"), m.empty(oh * ow, P, "int32")
    items = [(g, y0, min(ob, oh - y0)) for y0 in range(0, oh, ob) for g in range(groups)]

    def alloc(p):
        return {"X": p.alloc_tile("UB", ib * Wp, LANES, "fp32"), "map": p.alloc_tile("UB", 1, _pad8(ib * Wp), "fp32"),
                "mapb": p.alloc_tile("UB", _pad8(ib * Wp), 8, "fp32"),
                "init": p.alloc_tile("UB", 1, _pad8(ob * ow), "fp32"), "initb": p.alloc_tile("UB", _pad8(ob * ow), 8, "fp32"),
                "B": p.alloc_tile("UB", ob * ow, LANES, "fp32"), "I": p.alloc_tile("UB", ob * ow, LANES, "fp32"),
                "I32": p.alloc_tile("UB", ob * ow, LANES, "int32")}

    def shared(p):
        return {"m1": p.alloc_tile("UB", ow, LANES, "fp32"), "m2": p.alloc_tile("UB", ow, LANES, "fp32"),
                "m3": p.alloc_tile("UB", ow, LANES, "fp32")}

    def load(p, t, item):
        g, y0, n = item
        r0, rows = y0 * sh, rows_in(n)
        p.copy_gm_to_ubuf(t["X"].row_block(0, rows * Wp), gx, r0 * Wp, g * LANES, rows * Wp, min(LANES, P - g * LANES))
        p.copy_gm_to_ubuf(t["map"], gmap, 0, r0 * Wp, 1, rows * Wp)
        p.copy_gm_to_ubuf(t["init"], ginit, 0, y0 * ow, 1, n * ow)

    def compute(p, t, item):
        _, y0, n = item
        _spread(p, t["mapb"], t["map"], rows_in(n) * Wp)
        _spread(p, t["initb"], t["init"], n * ow)
        p.vector("vector_dup", t["B"], count=n * ow * LANES, scalar=-np.inf)
        p.vector_repeat("vadds", t["I"], t["initb"], repeat=n * ow, strides=[CELL, (0, 1)], scalar=0.0)
        m1, m2, m3 = t["m1"], t["m2"], t["m3"]
        step = (1, 8 * sw)
        for y in range(n):
            b, idx = _from(t["B"], y * ow), _from(t["I"], y * ow)
            for i in range(kh):
                for j in range(kw):
                    c = (y * sh + i * dh) * Wp + j * dw
                    x, xi = _from(t["X"], c), _from(t["mapb"], c)
                    p.vector_repeat("vcmpv_gt", m1, x, b, repeat=ow, strides=[CELL, step, CELL])
                    p.vector_repeat("vcmpv_ne", m2, x, x, repeat=ow, strides=[CELL, step, step])
                    if nan_first:     # a NaN wins only while the best is not NaN yet
                        p.vector_repeat("vcmpv_eq", m3, b, b, repeat=ow)
                        p.vector_repeat("vmul", m2, m2, m3, repeat=ow)
                    p.vector_repeat("vmax", m1, m1, m2, repeat=ow)
                    p.vector_repeat("vsel", b, m1, x, b, repeat=ow, strides=[CELL, CELL, step, CELL])
                    p.vector_repeat("vsel", idx, m1, xi, idx, repeat=ow, strides=[CELL, CELL, (0, sw), CELL])
        p.vector("vconv", t["I32"], t["I"], count=n * ow * LANES)

    def store(p, t, item):
        g, y0, n = item
        p.copy_ubuf_to_gm(gv, t["B"].row_block(0, n * ow), y0 * ow, g * LANES)
        p.copy_ubuf_to_gm(gi, t["I32"].row_block(0, n * ow), y0 * ow, g * LANES)

    report = _run(m, items, alloc, load, compute, store, shared)
    return m.read(gv), m.read(gi), report


def _index_tables(size, pad, geo):
    """(first index inside the input per output cell, flat input index per padded cell) as float32 tables."""
    (H, W), ((pt, _), (pl, _)) = size, pad
    Hp, Wp, oh, ow, _, (sh, sw), (dh, dw) = geo
    k = geo[4]

    def first_inside(o, s, d, p_lo, n, extent):
        start = o * s - p_lo
        t = np.maximum(0, -(-np.maximum(-start, 0) // d))     # first tap at or past cell 0
        return np.minimum(start + np.minimum(t, extent - 1) * d, n - 1)

    rows = first_inside(np.arange(oh), sh, dh, pt, H, k[0])
    cols = first_inside(np.arange(ow), sw, dw, pl, W, k[1])
    first = (rows[:, None] * W + cols[None, :]).reshape(-1).astype(np.float32)
    r, q = np.arange(Hp) - pt, np.arange(Wp) - pl
    flat = np.where((r[:, None] >= 0) & (r[:, None] < H) & (q[None] >= 0) & (q[None] < W), r[:, None] * W + q[None], -1)
    return first, flat.reshape(-1).astype(np.float32)


def _max_pool(x, kernel, stride, padding, dilation, out):
    """``max_pool`` (1-D/2-D, float32): values and flat int64 indices, as a compare/select window program."""
    nd = len(kernel)
    _check("max_pool", x, nd)
    kernel, stride, dilation, out = _geometry(nd, (kernel, 1), (stride, 1), (dilation, 1), (out, 1))
    padding = tuple(padding) if nd == 2 else ((0, 0),) + tuple(padding)
    planes = _planes2d(x, nd)
    shape = x.shape[:2] + tuple(out[2 - nd:])
    if planes.size == 0 or planes.shape[0] == 0:
        return emit("max_pool", (np.empty(shape, x.dtype), np.empty(shape, np.int64)), Cost())
    cells, cost = _to_cells(planes, padding, -np.inf)
    H, W = planes.shape[1:]
    geo = (H + sum(padding[0]), W + sum(padding[1]), out[0], out[1], kernel, stride, dilation)
    first, flat = _index_tables((H, W), padding, geo)
    values, indices, report = _max_program("max_pool", cells, first, flat, geo, nan_first=False)
    values, c1 = _from_cells(values, shape)
    indices, c2 = _from_cells(indices, shape)
    return emit("max_pool", (values, indices.astype(np.int64)), cost + Cost.of(report) + c1 + c2)


# ---- average and the backward maps --------------------------------------------------------------------
def _avg_program(cells, divisor, geo):
    """Window sums of cell-major ``cells`` divided by the per-output-cell ``divisor``: (oh*ow, P), Report."""
    Hp, Wp, oh, ow, (kh, kw), (sh, sw), _ = geo
    P = cells.shape[1]
    groups = -(-P // LANES)
    rows_in = lambda ob: (ob - 1) * sh + kh
    per = lambda ob: rows_in(ob) * Wp * LANES * 4 + ob * ow * (TABLE_BYTES + LANES * 4) + 8 * 4
    ob = _band("avg_pool", oh, per, 0, groups, ow)
    m = Machine(CONFIG)
    gx, gdiv, gout = m.tensor(cells, "fp32"), m.tensor(divisor[None], "fp32"), m.empty(oh * ow, P, "fp32")
    items = [(g, y0, min(ob, oh - y0)) for y0 in range(0, oh, ob) for g in range(groups)]

    def alloc(p):
        return {"X": p.alloc_tile("UB", rows_in(ob) * Wp, LANES, "fp32"), "S": p.alloc_tile("UB", ob * ow, LANES, "fp32"),
                "div": p.alloc_tile("UB", 1, _pad8(ob * ow), "fp32"), "divb": p.alloc_tile("UB", _pad8(ob * ow), 8, "fp32")}

    def load(p, t, item):
        g, y0, n = item
        rows = rows_in(n)
        p.copy_gm_to_ubuf(t["X"].row_block(0, rows * Wp), gx, y0 * sh * Wp, g * LANES, rows * Wp,
                          min(LANES, P - g * LANES))
        p.copy_gm_to_ubuf(t["div"], gdiv, 0, y0 * ow, 1, n * ow)

    def compute(p, t, item):
        _, _, n = item
        p.vector("vector_dup", t["S"], count=n * ow * LANES, scalar=0.0)
        for y in range(n):
            s = _from(t["S"], y * ow)
            for i in range(kh):
                for j in range(kw):
                    x = _from(t["X"], (y * sh + i) * Wp + j)
                    p.vector_repeat("vadd", s, s, x, repeat=ow, strides=[CELL, CELL, (1, 8 * sw)])
        _spread(p, t["divb"], t["div"], n * ow)
        p.vector_repeat("vdiv", t["S"], t["S"], t["divb"], repeat=n * ow, strides=[CELL, CELL, (0, 1)])

    def store(p, t, item):
        g, y0, n = item
        p.copy_ubuf_to_gm(gout, t["S"].row_block(0, n * ow), y0 * ow, g * LANES)

    report = _run(m, items, alloc, load, compute, store)
    return m.read(gout), report


def _spread_program(name, g_cells, geo, divisor=None, index=None, flat_index=None, taps=None):
    """Adjoint of a window program: each output cell's share added into its window's cells, in the CPU kernel's
    order (window offset, then output row); returns the padded cell-major (Hp*Wp, P) sums and the Report.

    ``divisor`` (avg_pool_backward): the share is g / divisor. ``index`` (pool_scatter): int32 flat indices per
    output cell; the share is g where the cell's ``flat_index`` equals it, else 0. ``taps``: the window rows and
    columns offsets (default all of the kernel).
    """
    Hp, Wp, oh, ow, (kh, kw), (sh, sw), (dh, dw) = geo
    taps_r, taps_c = taps or (range(kh), range(kw))
    reach = max(taps_r) * dh
    P = g_cells.shape[1]
    groups = -(-P // LANES)
    ny = lambda ib: min(oh, (ib - 1) // sh + reach // sh + 2)       # output rows whose windows reach a band
    extra = (TABLE_BYTES if divisor is not None else 2 * LANES * 4)
    per = lambda ib: (ib * Wp * (LANES * 4 + (TABLE_BYTES if index is not None else 0))
                      + ny(ib) * ow * (LANES * 4 + extra) + 16 * 4)
    ib = _band(name, Hp, per, 2 * ow * LANES * 4, groups, Wp)
    m = Machine(CONFIG)
    gg, gout = m.tensor(g_cells, "fp32"), m.empty(Hp * Wp, P, "fp32")
    gdiv = m.tensor(divisor[None], "fp32") if divisor is not None else None
    gidx = m.tensor(index, "int32") if index is not None else None
    gmap = m.tensor(flat_index[None], "fp32") if index is not None else None

    def rows_of(r0, n):
        lo = max(0, -(-(r0 - reach) // sh))
        return lo, min(oh - 1, (r0 + n - 1) // sh)

    items = [(g, r0, min(ib, Hp - r0)) for r0 in range(0, Hp, ib) for g in range(groups)]

    def alloc(p):
        t = {"A": p.alloc_tile("UB", ib * Wp, LANES, "fp32"), "G": p.alloc_tile("UB", ny(ib) * ow, LANES, "fp32")}
        if divisor is not None:
            t["div"] = p.alloc_tile("UB", 1, _pad8(ny(ib) * ow), "fp32")
            t["divb"] = p.alloc_tile("UB", _pad8(ny(ib) * ow), 8, "fp32")
        else:
            t["I32"] = p.alloc_tile("UB", ny(ib) * ow, LANES, "int32")
            t["I"] = p.alloc_tile("UB", ny(ib) * ow, LANES, "fp32")
            t["map"] = p.alloc_tile("UB", 1, _pad8(ib * Wp), "fp32")
            t["mapb"] = p.alloc_tile("UB", _pad8(ib * Wp), 8, "fp32")
        return t

    def shared(p):
        t = {"m": p.alloc_tile("UB", ow, LANES, "fp32")}
        if index is not None:
            t["zero"] = p.alloc_tile("UB", 1, LANES, "fp32")
            p.vector("vector_dup", t["zero"], scalar=0.0)
        return t

    def load(p, t, item):
        g, r0, n = item
        lo, hi = rows_of(r0, n)
        lanes = min(LANES, P - g * LANES)
        if hi < lo:
            return
        p.copy_gm_to_ubuf(t["G"].row_block(0, (hi - lo + 1) * ow), gg, lo * ow, g * LANES, (hi - lo + 1) * ow, lanes)
        if divisor is not None:
            p.copy_gm_to_ubuf(t["div"], gdiv, 0, lo * ow, 1, (hi - lo + 1) * ow)
        else:
            p.copy_gm_to_ubuf(t["I32"].row_block(0, (hi - lo + 1) * ow), gidx, lo * ow, g * LANES,
                              (hi - lo + 1) * ow, lanes)
            p.copy_gm_to_ubuf(t["map"], gmap, 0, r0 * Wp, 1, n * Wp)

    def compute(p, t, item):
        _, r0, n = item
        lo, hi = rows_of(r0, n)
        p.vector("vector_dup", t["A"], count=n * Wp * LANES, scalar=0.0)
        if hi < lo:
            return
        cells = (hi - lo + 1) * ow
        if divisor is not None:
            _spread(p, t["divb"], t["div"], cells)
            p.vector_repeat("vdiv", t["G"], t["G"], t["divb"], repeat=cells, strides=[CELL, CELL, (0, 1)])
        else:
            _spread(p, t["mapb"], t["map"], n * Wp)
            p.vector("vconv", t["I"], t["I32"], count=cells * LANES)
        step = (1, 8 * sw)
        for i in taps_r:
            for j in taps_c:
                for y in range(lo, hi + 1):
                    r = y * sh + i * dh - r0
                    if not 0 <= r < n:
                        continue
                    c = r * Wp + j * dw
                    a, share = _from(t["A"], c), _from(t["G"], (y - lo) * ow)
                    if index is not None:
                        mask = t["m"]
                        p.vector_repeat("vcmpv_eq", mask, _from(t["I"], (y - lo) * ow), _from(t["mapb"], c),
                                        repeat=ow, strides=[CELL, CELL, (0, sw)])
                        p.vector_repeat("vsel", mask, mask, share, t["zero"], repeat=ow,
                                        strides=[CELL, CELL, CELL, (1, 0)])
                        share = mask
                    p.vector_repeat("vadd", a, a, share, repeat=ow, strides=[step, step, CELL])

    def store(p, t, item):
        g, r0, n = item
        p.copy_ubuf_to_gm(gout, t["A"].row_block(0, n * Wp), r0 * Wp, g * LANES)

    report = _run(m, items, alloc, load, compute, store, shared)
    return m.read(gout), report


def _avg_geometry(nd, x_shape, kernel, stride, padding, out):
    kernel, stride, out = _geometry(nd, (kernel, 1), (stride, 1), (out, 1))
    padding = tuple(padding) if nd == 2 else ((0, 0),) + tuple(padding)
    size = tuple(x_shape[2:]) if nd == 2 else (1,) + tuple(x_shape[2:])
    geo = (size[0] + sum(padding[0]), size[1] + sum(padding[1]), out[0], out[1], kernel, stride, (1, 1))
    return size, padding, geo


def _divisors(nd, size, kernel, stride, padding, out, count_include_pad, divisor_override):
    """PyTorch's divisor per output cell, flattened, as float32 (exact: small integers)."""
    div = _divisor(size[2 - nd:], kernel, stride, padding, out, count_include_pad, divisor_override)
    return np.broadcast_to(div, tuple(out)).reshape(-1).astype(np.float32)


def _avg_pool(x, kernel, stride, padding, out, count_include_pad, divisor_override):
    """``avg_pool`` (1-D/2-D, float32): window sums by vadd, vdiv by PyTorch's divisors."""
    nd = len(kernel)
    _check("avg_pool", x, nd)
    shape = x.shape[:2] + tuple(out)
    if x.size == 0 or 0 in shape:
        return emit("avg_pool", np.zeros(shape, x.dtype), Cost())
    size, pad2, geo = _avg_geometry(nd, x.shape, kernel, stride, padding, out)
    divisor = _divisors(nd, size, kernel, stride, padding, out, count_include_pad, divisor_override)
    cells, cost = _to_cells(_planes2d(x, nd), pad2, 0.0)
    sums, report = _avg_program(cells, divisor, geo)
    res, back = _from_cells(sums, shape)
    return emit("avg_pool", res, cost + Cost.of(report) + back)


def _crop(padded, shape, geo, pad2, size):
    """The unpadded (N, C, *size) planes of padded cell-major sums (host TransData back, analytic)."""
    Hp, Wp = geo[:2]
    planes, cost = _from_cells(padded, (padded.shape[1], Hp, Wp))
    (pt, _), (pl, _) = pad2
    return np.ascontiguousarray(planes[:, pt:pt + size[0], pl:pl + size[1]]).reshape(shape), cost


def _avg_pool_backward(g, kernel, stride, padding, size, count_include_pad, divisor_override):
    """``avg_pool_backward`` (1-D/2-D, float32): g / divisor added into each window's cells on the vector unit."""
    nd = len(kernel)
    _check("avg_pool_backward", g, nd)
    shape = g.shape[:2] + tuple(size)
    if g.size == 0 or 0 in shape:
        return emit("avg_pool_backward", np.zeros(shape, g.dtype), Cost())
    out = g.shape[2:]
    full, pad2, geo = _avg_geometry(nd, shape, kernel, stride, padding, out)
    divisor = _divisors(nd, full, kernel, stride, padding, out, count_include_pad, divisor_override)
    g_cells, cost = _to_cells(_planes2d(g, nd), ((0, 0), (0, 0)), 0.0)
    sums, report = _spread_program("avg_pool_backward", g_cells, geo, divisor=divisor)
    res, back = _crop(sums, shape, geo, pad2, full)
    return emit("avg_pool_backward", res, cost + Cost.of(report) + back)


def _narrowest(pos, out_pos, extent):
    """(stride, lowest offset, highest offset) whose offsets ``pos - stride * out_pos`` span the fewest cells."""
    best = None
    for s in range(1, extent // max(int(out_pos.max()), 1) + 2):
        off = pos - s * out_pos
        lo, hi = int(off.min()), int(off.max())
        if best is None or hi - lo < best[2] - best[1]:
            best = (s, lo, hi)
    return best


def _pool_scatter(g, indices, size):
    """``pool_scatter`` (1-D/2-D, float32): each gradient added at its flat index, by compare/select windows."""
    nd = len(size)
    _check("pool_scatter", g, nd)
    shape = g.shape[:2] + tuple(size)
    if g.size == 0 or 0 in shape:
        return emit("pool_scatter", np.zeros(shape, g.dtype), Cost())
    H, W = (1,) + tuple(size) if nd == 1 else tuple(size)
    if H * W >= 1 << 24:
        raise Unsupported(f"'pool_scatter' on npu compares indices in fp32 lanes, exact below 2**24 cells; the plane "
                          f"has {H * W}")
    planes_g = _planes2d(g, nd)
    idx = _planes2d(indices, nd)
    if idx.min() < 0 or idx.max() >= H * W:
        raise IndexError("pool_scatter: index out of range of the spatial plane")
    oh, ow = planes_g.shape[1:]
    y, z = np.arange(oh)[:, None], np.arange(ow)[None, :]
    sh, r_lo, r_hi = _narrowest(idx // W, np.broadcast_to(y, idx.shape[1:]), H)
    sw, q_lo, q_hi = _narrowest(idx % W, np.broadcast_to(z, idx.shape[1:]), W)
    # padded coordinates: offsets r_lo.. become taps from 0 once the plane is shifted down by -r_lo (if positive)
    pt, pl = max(0, -r_lo), max(0, -q_lo)
    taps = (range(r_lo + pt, r_hi + pt + 1), range(q_lo + pl, q_hi + pl + 1))
    Hp = max(H + pt, (oh - 1) * sh + taps[0][-1] + 1)
    Wp = max(W + pl, (ow - 1) * sw + taps[1][-1] + 1)
    pad2 = ((pt, Hp - H - pt), (pl, Wp - W - pl))
    geo = (Hp, Wp, oh, ow, (taps[0][-1] + 1, taps[1][-1] + 1), (sh, sw), (1, 1))
    _, flat = _index_tables((H, W), pad2, geo)
    g_cells, cost = _to_cells(planes_g, ((0, 0), (0, 0)), 0.0)
    i_cells, c2 = _to_cells(idx.astype(np.int32), ((0, 0), (0, 0)), 0)
    sums, report = _spread_program("pool_scatter", g_cells, geo, index=i_cells, flat_index=flat, taps=taps)
    res, back = _crop(sums, shape, geo, pad2, (H, W))
    return emit("pool_scatter", res, cost + c2 + Cost.of(report) + back)


# ---- argmax -------------------------------------------------------------------------------------------
def _argmax(x, dim, keepdim):
    """``argmax`` (float32): the rows go into the lanes and one window spans the reduced dim; first NaN wins."""
    if x.dtype != np.float32:
        raise Unsupported(f"'argmax' on npu runs in fp32 lanes and takes float32 tensors, got {x.dtype}")
    if x.ndim == 0:
        return emit("argmax", np.zeros((), np.int64), Cost())
    moved = x.reshape(-1, 1) if dim is None else np.moveaxis(x, dim, 0).reshape(x.shape[dim], -1)
    length, rows = moved.shape
    kept = () if dim is None else tuple(np.delete(x.shape, dim % x.ndim))
    if length == 0:
        raise Unsupported("'argmax' on npu: the reduced dim is empty")
    cost = analytic_cost(("vtranspose",), moved.size, moved.size, "fp32", 4)
    cells = np.ascontiguousarray(moved)
    geo = (1, length, 1, 1, (1, length), (1, 1), (1, 1))
    first, flat = np.zeros(1, np.float32), np.arange(length, dtype=np.float32)
    _, index, report = _max_program("argmax", cells, first, flat, geo, nan_first=True)
    out = index.reshape(kept).astype(np.int64)
    if keepdim:
        out = out.reshape((1,) * x.ndim if dim is None else np.expand_dims(out, dim).shape)
    return emit("argmax", out, cost + Cost.of(report))


KERNELS = {"max_pool": _max_pool, "avg_pool": _avg_pool, "avg_pool_backward": _avg_pool_backward,
           "pool_scatter": _pool_scatter, "argmax": _argmax}
