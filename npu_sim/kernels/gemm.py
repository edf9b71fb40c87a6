"""The reference GEMM schedule of REFERENCE §4.5: C = A @ B with ping-pong L1, L0A/B and L0C buffers.

``gemm_programs`` emits the instruction stream instruction by instruction (numerics and all); with
``coarse=True`` the inner L0 loop of each L1 block collapses into one analytic ``mmad_block`` (timing
only), which is what makes chip-level sweeps of 10240^3 GEMMs affordable. Buffer reuse is guarded
by flags exactly as in the reference listing; whether stages overlap falls out of those flags.
"""
from ..cube import accumulator_of, fractal_count
from ..dma import local_cycles
from ..dtypes import itemsize
from ..fractal import c0_of, ceil_to
from .launch import split_blocks

OUT_PIPE = {True: "FIX", False: "V"}


def _buffering(double_buffer):
    if isinstance(double_buffer, dict):
        return {k: bool(double_buffer.get(k, False)) for k in ("l1", "l0", "l0c")}
    return {"l1": bool(double_buffer), "l0": bool(double_buffer), "l0c": bool(double_buffer)}


class _Halves:
    """Ping-pong bookkeeping: which half to use next and whether it has been used before."""

    def __init__(self, double):
        self.n = 2 if double else 1
        self.count = 0

    def next(self):
        i = self.count % self.n
        first = self.count < self.n
        self.count += 1
        return i, first


def l0_loop_cycles(cfg, bm, bn, kb, bk, dtype, double_l0, a_bytes=None):
    """Analytic cost (cycles on the cube pipe) of the L0 loop over one L1 block of depth ``kb``."""
    size = itemsize(dtype)
    steps = -(-kb // bk)
    fr = fractal_count(bm, bk, bn, dtype, cfg.cube_k0_bytes) * (cfg.cube_cycles_fp32 if dtype == "fp32" else 1)
    a = a_bytes if a_bytes is not None else ceil_to(bm, 16) * ceil_to(bk, c0_of(dtype)) * size
    b = ceil_to(bk, c0_of(dtype)) * ceil_to(bn, 16) * size
    load = 2 * cfg.dma_latency_local + local_cycles(a, cfg.bw_l1_l0a) + local_cycles(b, cfg.bw_l1_l0b) + 2
    if double_l0:
        step = max(load, fr + cfg.mmad_issue_overhead + 2 * cfg.flag_cost)
        # the first load of a block overlaps the previous block's last mmad when it is shorter
        fill = load if load > step else 0
        return fill + steps * step, steps * (a + b), steps * load
    step = load + fr + cfg.mmad_head_idle + cfg.mmad_result_latency + 2 * cfg.flag_cost
    return steps * step, steps * (a + b), steps * load


def gemm_programs(machine, a, b, c, bm=128, bn=256, k1=512, bk=64, double_buffer=True,
                  cores=None, coarse=False, relu=False, a_source=None, b_panels=False):
    """Programs (one per core) computing ``c = a @ b`` (fp32/int32 accumulation) with §4.5 tiling.

    ``a_source`` replaces how A reaches L1 (convolutions): an object with ``shape`` (M, K),
    ``l1_tile(p, bm, k1)`` allocating the L1 buffer, ``copy(p, tile, i, kk, m, kb, g)`` emitting the
    MTE2 transfer and ``load(p, l0a, tile, i, ks, m, kstep, g)`` emitting the MTE1 load into L0A.
    ``b_panels``: B is stored pre-tiled (as inference weights are), panel j = rows [j*K, (j+1)*K) of a
    (ceil(N/bn)*K) x bn matrix, so each block is one contiguous burst instead of K short rows.

    A batch of same-shape products is one launch: pass lists (not tuples) for ``a`` (or a batch-aware ``a_source``,
    whose ``g`` argument is the batch index), ``b`` and ``c``. Each core then takes a contiguous run of
    the (product, row tile, column tile) blocks, so consecutive blocks mostly share their operands.
    """
    cfg = machine.config
    batched = isinstance(c, list)        # (a GmTensor is itself a tuple)
    a_list = a if isinstance(a, list) else [a]
    b_list, c_list = (list(b), list(c)) if batched else ([b], [c])
    a, b, c = a_list[0], b_list[0], c_list[0]
    M, K = a_source.shape if a_source else (a.rows, a.cols)
    N = c.cols
    b_rows = -(-N // bn) * K if b_panels else K
    if b.rows != b_rows or c.rows != M or (not b_panels and b.cols != N):
        raise ValueError(f"gemm: shapes {M}x{K} @ {b.rows}x{b.cols} -> {c.rows}x{c.cols} do not agree")
    dtype = b.dtype
    acc = accumulator_of(dtype)
    fixpipe = cfg.bw_l0c_ub is None
    buf = _buffering(double_buffer)
    tiles = [(g, i, j) for g in range(len(c_list)) for i in range(0, M, bm) for j in range(0, N, bn)]
    n_cores = min(cores or cfg.num_cores, len(tiles))
    if batched:
        per = -(-len(tiles) // n_cores)
        assignment = [tiles[k:k + per] for k in range(0, len(tiles), per)]
    else:
        assignment = split_blocks(tiles, n_cores)
    programs = []
    for core_tiles in assignment:
        p = machine.program()
        tbm, tbn = min(bm, M), min(bn, N)
        tk1, tbk = min(k1, K), min(bk, K)
        l1a = [a_source.l1_tile(p, tbm, tk1) if a_source else p.alloc_tile("L1", tbm, tk1, dtype)
               for _ in range(2 if buf["l1"] else 1)]
        l1b = [p.alloc_tile("L1", tk1, tbn, dtype) for _ in range(2 if buf["l1"] else 1)]
        l0a = [p.alloc_tile("L0A", tbm, tbk, dtype) for _ in range(2 if buf["l0"] else 1)]
        l0b = [p.alloc_tile("L0B", tbk, tbn, dtype) for _ in range(2 if buf["l0"] else 1)]
        l0c = [p.alloc_tile("L0C", tbm, tbn, acc) for _ in range(2 if buf["l0c"] else 1)]
        ub = [] if fixpipe else [p.alloc_tile("UB", tbm, tbn, c.dtype, "NZ16") for _ in l0c]
        h1, h0, hc = _Halves(buf["l1"]), _Halves(buf["l0"]), _Halves(buf["l0c"])
        out = OUT_PIPE[fixpipe]
        for g, i, j in core_tiles:
            a, b, c = a_list[min(g, len(a_list) - 1)], b_list[g], c_list[g]
            m, n = min(bm, M - i), min(bn, N - j)
            r, first_c = hc.next()
            for kk in range(0, K, k1):
                kb = min(k1, K - kk)
                pp, first_l1 = h1.next()
                consumer = "M" if coarse else "MTE1"
                if not first_l1:
                    p.wait_flag(consumer, "MTE2", pp)
                if a_source:
                    a_source.copy(p, l1a[pp], i, kk, m, kb, g)
                else:
                    p.copy_gm_to_cbuf(l1a[pp], a, i, kk, m, kb)
                if b_panels:
                    p.copy_gm_to_cbuf(l1b[pp], b, (j // bn) * K + kk, 0, kb, n)
                else:
                    p.copy_gm_to_cbuf(l1b[pp], b, kk, j, kb, n)
                p.set_flag("MTE2", consumer, pp)
                p.wait_flag("MTE2", consumer, pp)
                if kk == 0 and not first_c:
                    p.wait_flag(out, "M", r)          # L0C half r drained (WAR)
                if coarse:
                    cycles, l0_bytes, mte1 = l0_loop_cycles(cfg, m, n, kb, bk, dtype, buf["l0"])
                    fr = fractal_count(m, kb, n, dtype, cfg.cube_k0_bytes)
                    p.mmad_block("mmad_block", cycles, m * kb * n,
                                 fr * 16 * 16 * (cfg.cube_k0_bytes // itemsize(dtype)), fr,
                                 extra_busy={"MTE1": mte1, "bytes:L1->L0": l0_bytes},
                                 reads=(l1a[pp].region, l1b[pp].region), writes=(l0c[r].region,))
                    p.set_flag("M", "MTE2", pp)
                    continue
                for ks in range(0, kb, bk):
                    kstep = min(bk, kb - ks)
                    q, first_l0 = h0.next()
                    if not first_l0:
                        p.wait_flag("M", "MTE1", q)
                    if a_source:
                        a_source.load(p, l0a[q], l1a[pp], i, kk + ks, m, kstep, g)
                    else:
                        p.load_cbuf_to_ca(l0a[q], l1a[pp], 0, ks, m, kstep)
                    p.load_cbuf_to_cb(l0b[q], l1b[pp], ks, 0, kstep, n)
                    p.set_flag("MTE1", "M", q)
                    p.wait_flag("MTE1", "M", q)
                    p.mmad(l0c[r], l0a[q], l0b[q], m, kstep, n, accumulate=(kk, ks) != (0, 0))
                    p.set_flag("M", "MTE1", q)
                p.set_flag("MTE1", "MTE2", pp)
            # epilogue: drain L0C half r to GM
            p.set_flag("M", out, r)
            p.wait_flag("M", out, r)
            if fixpipe:
                p.fixpipe(c, l0c[r], i, j, relu=relu)
            else:
                if not first_c:
                    p.wait_flag("MTE3", "V", r)       # UB half r written out (WAR)
                p.copy_matrix_cc_to_ubuf(ub[r], l0c[r], relu=relu)
                p.set_flag("V", "MTE3", r)
                p.wait_flag("V", "MTE3", r)
                p.copy_ubuf_to_gm(c, ub[r], i, j)
                p.set_flag("MTE3", "V", r)
            p.set_flag(out, "M", r)
        programs.append(p)
    return programs
