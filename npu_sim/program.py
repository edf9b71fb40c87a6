"""Building instruction streams: the machine (GM + config) and one program per core.

Every builder method checks its operands (buffer, alignment, capacity, dtype) when called, works
out the instruction's fixed cost, and attaches a closure with its numeric effect, so the scheduler
only has to decide *when* things happen.
"""
from typing import NamedTuple

import numpy as np

from . import isa
from .config import MachineConfig
from .cube import accumulator_of, fractal_count, mmad_numerics
from .dma import conv_out_size, gm_charged_bytes, img2col, local_cycles
from .dtypes import from_compute, itemsize, storage, to_compute
from .fractal import c0_of, ceil_to, from_layout, layout_elems, padded_shape, to_layout
from .memory import Allocator, GlobalMemory, RangeError, Region, check_local
from .vector import (BLOCKS_PER_REPEAT, CONTIGUOUS, OPS, REDUCE, brcb_numerics, repeat_cycles, repeat_numerics,
                     repeat_offsets, repeats, vector_cycles, vector_numerics)

DEFAULT_LAYOUT = {"L1": "NZ", "L0A": "ZZ", "L0B": "ZN", "L0C": "NZ", "UB": "ND", "BT": "ND", "FB": "ND"}


class GmTensor(NamedTuple):
    """A row-major (ND) matrix in global memory."""

    region: Region
    rows: int
    cols: int
    dtype: str


class Tile(NamedTuple):
    """A matrix held in a local buffer in a fractal (or ND) layout; rows/cols exclude padding."""

    region: Region
    rows: int
    cols: int
    dtype: str
    layout: str
    c0: int

    def row_block(self, r0, rows):
        """Rows ``r0 .. r0+rows-1`` of an ND tile, as a tile on the same bytes."""
        if self.layout != "ND":
            raise ValueError(f"row_block: only ND tiles split by rows, this one is {self.layout}")
        if r0 < 0 or r0 + rows > self.rows:
            raise ValueError(f"row_block: rows [{r0}, {r0 + rows}) outside a {self.rows}-row tile")
        row = self.cols * itemsize(self.dtype)
        return self._replace(region=self.region.sub(r0 * row, rows * row), rows=rows)


class Machine:
    """A chip: configuration plus shared GM. Build programs with ``program()``, run them with ``run``."""

    def __init__(self, config=None, numerics=True):
        self.config = config or MachineConfig()
        self.numerics = numerics
        self.gm = GlobalMemory(numerics)

    def tensor(self, array, dtype):
        """Place a 2-D array in GM as ``dtype`` (values rounded to it)."""
        array = np.atleast_2d(np.asarray(array))
        rows, cols = array.shape
        data = from_compute(array, dtype) if self.numerics else None
        return GmTensor(self.gm.alloc(rows * cols * itemsize(dtype), data), rows, cols, dtype)

    def empty(self, rows, cols, dtype):
        """A zero-filled GM matrix."""
        return GmTensor(self.gm.alloc(rows * cols * itemsize(dtype)), rows, cols, dtype)

    def read(self, t):
        """A GM matrix's values (bf16 widened to fp32)."""
        if not self.numerics:
            raise RuntimeError("this machine runs timing only (numerics=False); there are no values")
        return to_compute(self.gm.read(t.region, t.dtype, (t.rows, t.cols)), t.dtype).copy()

    def program(self):
        """An empty instruction stream for one core of this machine."""
        return Program(self)

    def run(self, programs, check_hazards=None, trace=False, l2=None, launch=True):
        """Simulate ``programs`` (one per core) to completion; returns a ``report.Report``."""
        from .pipes import Scheduler
        if isinstance(programs, Program):
            programs = [programs]
        if len(programs) > self.config.num_cores:
            raise ValueError(f"{len(programs)} programs for {self.config.num_cores} cores; "
                             f"merge blocks per core (see kernels.launch)")
        hazards = self.numerics if check_hazards is None else check_hazards
        sched = Scheduler(self, programs, check_hazards=hazards, trace=trace, l2=l2)
        return sched.run(launch_overhead=launch)


class Program:
    """One core's instruction stream, with its own static buffer allocation."""

    def __init__(self, machine):
        self.machine = machine
        self.config = machine.config
        self.numerics = machine.numerics
        self.allocator = Allocator(self.config)
        self.instrs = []

    # ---- allocation -------------------------------------------------------------------------
    def alloc(self, level, nbytes):
        """Reserve raw bytes in a local buffer (CapacityError when it does not fit)."""
        return self.allocator.alloc(level, nbytes)

    def alloc_tile(self, level, rows, cols, dtype, layout=None):
        """Reserve a rows x cols matrix in ``level`` in its natural fractal layout."""
        layout = layout or DEFAULT_LAYOUT[level]
        c0 = 16 if level == "L0C" or layout == "NZ16" else c0_of(dtype)
        layout = "NZ" if layout == "NZ16" else layout
        nbytes = layout_elems(rows, cols, layout, c0) * itemsize(dtype)
        return Tile(self.alloc(level, nbytes), rows, cols, dtype, layout, c0)

    def _emit(self, ins):
        self.instrs.append(ins)
        return ins

    def _check(self, tile, level):
        if tile.region.level != level:
            raise ValueError(f"operand must be in {level}, got a tile in {tile.region.level}")
        check_local(self.config, tile.region)

    def _bw(self, name):
        bw = getattr(self.config, name)
        if bw is None:
            raise ValueError(f"{self.config.name} has no {name[3:].replace('_', '->').upper()} path")
        return bw

    # ---- GM <-> local ------------------------------------------------------------------------
    def _gm_block(self, t, r0, c0, rows, cols):
        size = itemsize(t.dtype)
        rows = t.rows - r0 if rows is None else rows
        cols = t.cols - c0 if cols is None else cols
        if r0 < 0 or c0 < 0 or r0 + rows > t.rows or c0 + cols > t.cols:
            raise ValueError(f"block [{r0}:{r0 + rows}, {c0}:{c0 + cols}] outside the "
                             f"{t.rows}x{t.cols} GM tensor")
        start = t.region.offset + (r0 * t.cols + c0) * size
        stride = t.cols * size
        touched = Region("GM", start, (rows - 1) * stride + cols * size) if rows else Region("GM", start, 0)
        charged = gm_charged_bytes(self.config, start, rows, cols * size, stride)
        key = (t.region.offset, start, rows, cols * size, stride)   # tensor first: see L2Cache
        return rows, cols, touched, charged, key

    def _gm_to_local(self, name, pipe, bwname, dst, src, r0, c0, rows, cols):
        check_local(self.config, dst.region)
        if src.dtype != dst.dtype:
            raise ValueError(f"{name}: GM tensor is {src.dtype}, destination tile is {dst.dtype}")
        rows, cols, touched, charged, key = self._gm_block(src, r0, c0, rows, cols)
        if rows > dst.rows or cols > dst.cols:
            raise ValueError(f"{name}: a {rows}x{cols} block does not fit a {dst.rows}x{dst.cols} tile")
        run = None
        if self.numerics:
            def run(local, gm):
                block = gm.read(src.region, src.dtype, (src.rows, src.cols))[r0:r0 + rows, c0:c0 + cols]
                dense = np.zeros((dst.rows, dst.cols), storage(dst.dtype))
                dense[:rows, :cols] = block
                flat = to_layout(dense, dst.layout, dst.c0)
                local.view(dst.region, dst.dtype)[:flat.size] = flat
        path = "GM->" + dst.region.level if bwname != "bw_gm_l0ab" else "GM->L0AB"
        return self._emit(isa.Instr(name, pipe, isa.GM, latency=self.config.dma_latency_gm,
                                    reads=(touched,), writes=(dst.region,), run=run, path=path,
                                    nbytes=charged, gm_bytes=charged, port_bw=self._bw(bwname), l2_key=key))

    def copy_gm_to_cbuf(self, dst, src, r0=0, c0=0, rows=None, cols=None):
        """MTE2: GM block -> L1 tile, converting ND to the tile's layout (nd2nz)."""
        self._check(dst, "L1")
        return self._gm_to_local("copy_gm_to_cbuf", "MTE2", "bw_gm_l1", dst, src, r0, c0, rows, cols)

    def copy_gm_to_ubuf(self, dst, src, r0=0, c0=0, rows=None, cols=None):
        """MTE2: GM block -> UB tile."""
        self._check(dst, "UB")
        return self._gm_to_local("copy_gm_to_ubuf", "MTE2", "bw_gm_ub", dst, src, r0, c0, rows, cols)

    def load_gm_to_ca(self, dst, src, r0=0, c0=0, rows=None, cols=None):
        """MTE2 (910B): GM block straight into L0A (ZZ)."""
        self._check(dst, "L0A")
        return self._gm_to_local("load_gm_to_ca", "MTE2", "bw_gm_l0ab", dst, src, r0, c0, rows, cols)

    def load_gm_to_cb(self, dst, src, r0=0, c0=0, rows=None, cols=None):
        """MTE2 (910B): GM block straight into L0B (ZN)."""
        self._check(dst, "L0B")
        return self._gm_to_local("load_gm_to_cb", "MTE2", "bw_gm_l0ab", dst, src, r0, c0, rows, cols)

    def _local_to_gm(self, name, pipe, bwname, latency, dst, src, r0, c0, convert=None):
        check_local(self.config, src.region)
        rows, cols, touched, charged, key = self._gm_block(dst, r0, c0, min(src.rows, dst.rows - r0),
                                                           min(src.cols, dst.cols - c0))
        run = None
        if self.numerics:
            def run(local, gm):
                flat = local.view(src.region, src.dtype)
                dense = from_layout(flat, src.layout, src.rows, src.cols, src.c0)[:rows, :cols]
                dense = convert(dense) if convert else from_compute(to_compute(dense, src.dtype), dst.dtype)
                gm.read(dst.region, dst.dtype, (dst.rows, dst.cols))[r0:r0 + rows, c0:c0 + cols] = dense
        return self._emit(isa.Instr(name, pipe, isa.GM, latency=latency, reads=(src.region,),
                                    writes=(touched,), run=run, path=src.region.level + "->GM",
                                    nbytes=charged, gm_bytes=charged, gm_write=True,
                                    port_bw=self._bw(bwname), l2_key=key))

    def copy_ubuf_to_gm(self, dst, src, r0=0, c0=0):
        """MTE3: UB tile -> GM block (layout converted back to ND)."""
        self._check(src, "UB")
        if src.dtype != dst.dtype:
            raise ValueError(f"copy_ubuf_to_gm: UB tile is {src.dtype}, GM tensor is {dst.dtype}")
        return self._local_to_gm("copy_ubuf_to_gm", "MTE3", "bw_ub_gm", self.config.dma_latency_ub_gm,
                                 dst, src, r0, c0)

    def fixpipe(self, dst, src, r0=0, c0=0, relu=False):
        """FIX (910B): L0C accumulator -> GM block, cast to the GM type (and ReLU) on the fly."""
        self._check(src, "L0C")

        def convert(dense):
            x = to_compute(dense, src.dtype)
            return from_compute(np.maximum(x, 0) if relu else x, dst.dtype)
        return self._local_to_gm("fixpipe", "FIX", "bw_l0c_gm", self.config.dma_latency_l0c_gm,
                                 dst, src, r0, c0, convert)

    # ---- local <-> local ---------------------------------------------------------------------
    def _local_move(self, name, pipe, bwname, dst, src, nbytes, run):
        bw = self._bw(bwname)
        cycles = local_cycles(nbytes, bw)
        path = src.region.level + "->" + dst.region.level
        return self._emit(isa.Instr(name, pipe, isa.LOCAL, cycles=self.config.dma_latency_local + cycles,
                                    reads=(src.region,), writes=(dst.region,), run=run, path=path,
                                    nbytes=nbytes))

    def _load_l1_to_l0(self, name, level, bwname, dst, src, r0, c0, rows, cols):
        self._check(src, "L1")
        self._check(dst, level)
        if src.layout != "NZ" or src.dtype != dst.dtype:
            raise ValueError(f"{name}: source must be an NZ tile of {dst.dtype}")
        rows = src.rows - r0 if rows is None else rows
        cols = src.cols - c0 if cols is None else cols
        if r0 % 16 or c0 % src.c0 or r0 + rows > ceil_to(src.rows, 16) or c0 + cols > ceil_to(src.cols, src.c0):
            raise ValueError(f"{name}: block [{r0}+{rows}, {c0}+{cols}] must start on a fractal inside "
                             f"the {src.rows}x{src.cols} tile")
        if rows > dst.rows or cols > dst.cols:
            raise ValueError(f"{name}: a {rows}x{cols} block does not fit a {dst.rows}x{dst.cols} tile")
        pr, pc = padded_shape(rows, cols, dst.layout, dst.c0)
        nbytes = pr * pc * itemsize(dst.dtype)
        run = None
        if self.numerics:
            def run(local, gm):
                sr, sc = padded_shape(src.rows, src.cols, "NZ", src.c0)
                nz = local.view(src.region, src.dtype)[:sr * sc].reshape(sc // src.c0, sr // 16, 16, src.c0)
                sub = nz[c0 // src.c0:-(-(c0 + cols) // src.c0), r0 // 16:-(-(r0 + rows) // 16)]
                dense = sub.transpose(1, 2, 0, 3).reshape(sub.shape[1] * 16, sub.shape[0] * src.c0)
                out = np.zeros((dst.rows, dst.cols), dense.dtype)
                out[:rows, :cols] = dense[:rows, :cols]
                flat = to_layout(out, dst.layout, dst.c0)
                local.view(dst.region, dst.dtype)[:flat.size] = flat
        return self._local_move(name, "MTE1", bwname, dst, src, nbytes, run)

    def load_cbuf_to_ca(self, dst, src, r0=0, c0=0, rows=None, cols=None):
        """MTE1 load2d: L1 (NZ) block -> L0A (ZZ)."""
        return self._load_l1_to_l0("load_cbuf_to_ca", "L0A", "bw_l1_l0a", dst, src, r0, c0, rows, cols)

    def load_cbuf_to_cb(self, dst, src, r0=0, c0=0, rows=None, cols=None):
        """MTE1 load2d: L1 (NZ) block of a K x N matrix -> L0B (ZN)."""
        return self._load_l1_to_l0("load_cbuf_to_cb", "L0B", "bw_l1_l0b", dst, src, r0, c0, rows, cols)

    def img2col_cbuf_to_ca(self, dst, src, fmap, kernel, stride=(1, 1), pad=(0, 0), m0=0, rows=None,
                           k0=0, cols=None, dilation=(1, 1)):
        """MTE1 load3d: expand patches of an L1 feature map (C1,H,W,C0 rows) into L0A (ZZ).

        ``fmap`` = (C, H, W); ``pad`` per axis is one amount or a (low, high) pair; the patch matrix has
        M = Ho*Wo rows and K = C1*kh*kw*C0 columns; this loads its block [m0:m0+rows, k0:k0+cols]. The
        expansion costs L1->L0A bandwidth only.
        """
        self._check(src, "L1")
        self._check(dst, "L0A")
        c, h, w = fmap
        cc0 = c0_of(src.dtype)
        c1 = -(-c // cc0)
        if src.rows != c1 * h * w or src.cols != cc0 or src.layout != "ND":
            raise ValueError(f"img2col: the L1 source must be an ND tile of {c1 * h * w} x {cc0} "
                             f"(C1*H*W rows of C0)")
        m_all = (conv_out_size(h, kernel[0], stride[0], pad[0], dilation[0])
                 * conv_out_size(w, kernel[1], stride[1], pad[1], dilation[1]))
        k_all = c1 * kernel[0] * kernel[1] * cc0
        rows = m_all - m0 if rows is None else rows
        cols = k_all - k0 if cols is None else cols
        if rows > dst.rows or cols > dst.cols or m0 + rows > m_all or k0 + cols > k_all:
            raise ValueError(f"img2col: block [{m0}:{m0 + rows}, {k0}:{k0 + cols}] of the {m_all}x{k_all} patch "
                             f"matrix does not fit a {dst.rows}x{dst.cols} tile")
        pr, pc = padded_shape(rows, cols, "ZZ", dst.c0)
        nbytes = pr * pc * itemsize(dst.dtype)
        run = None
        if self.numerics:
            def run(local, gm):
                fm = local.view(src.region, src.dtype, (c1, h, w, cc0))
                patches = img2col(fm, kernel, stride, pad, dilation, m0, rows, k0, cols)
                out = np.zeros((dst.rows, dst.cols), patches.dtype)
                out[:rows, :cols] = patches
                flat = to_layout(out, "ZZ", dst.c0)
                local.view(dst.region, dst.dtype)[:flat.size] = flat
        return self._local_move("img2col_cbuf_to_ca", "MTE1", "bw_l1_l0a", dst, src, nbytes, run)

    def _raw_copy(self, name, pipe, bwname, dst, src, nbytes):
        check_local(self.config, dst)
        check_local(self.config, src)
        nbytes = nbytes or min(dst.nbytes, src.nbytes)
        run = None
        if self.numerics:
            def run(local, gm):
                local.view(dst, "uint8")[:nbytes] = local.view(src, "uint8")[:nbytes]
        fake = Tile(src, 0, 0, "uint8", "ND", 1), Tile(dst, 0, 0, "uint8", "ND", 1)
        return self._local_move(name, pipe, bwname, fake[1], fake[0], nbytes, run)

    def copy_cbuf_to_ubuf(self, dst, src, nbytes=None):
        """MTE1 (910): raw bytes L1 -> UB."""
        return self._raw_copy("copy_cbuf_to_ubuf", "MTE1", "bw_l1_ub", dst, src, nbytes)

    def copy_ubuf_to_cbuf(self, dst, src, nbytes=None):
        """MTE3 (910): raw bytes UB -> L1."""
        return self._raw_copy("copy_ubuf_to_cbuf", "MTE3", "bw_ub_l1", dst, src, nbytes)

    def copy_matrix_cc_to_ubuf(self, dst, src, relu=False):
        """V pipe (910): L0C accumulator tile -> UB (NZ kept), cast to the UB tile's type, optional ReLU."""
        self._check(src, "L0C")
        self._check(dst, "UB")
        if (dst.rows, dst.cols, dst.layout, dst.c0) != (src.rows, src.cols, "NZ", 16):
            raise ValueError("copy_matrix_cc_to_ubuf: the UB tile must be an NZ16 tile of the same shape")
        elems = layout_elems(src.rows, src.cols, "NZ", 16)
        run = None
        if self.numerics:
            def run(local, gm):
                x = to_compute(local.view(src.region, src.dtype)[:elems], src.dtype)
                x = np.maximum(x, 0) if relu else x
                local.view(dst.region, dst.dtype)[:elems] = from_compute(x, dst.dtype)
        return self._local_move("copy_matrix_cc_to_ubuf", "V", "bw_l0c_ub", dst, src,
                                elems * itemsize(src.dtype), run)

    # ---- compute -----------------------------------------------------------------------------
    def mmad(self, c, a, b, m, k, n, accumulate=False):
        """Cube: C[m x n] (L0C, NZ) = [C +] A[m x k] (L0A, ZZ) @ B[k x n] (L0B, ZN)."""
        self._check(a, "L0A")
        self._check(b, "L0B")
        self._check(c, "L0C")
        dtype = a.dtype
        if dtype not in self.config.cube_dtypes:
            raise ValueError(f"mmad: {self.config.name}'s cube takes {self.config.cube_dtypes}, not {dtype}")
        if b.dtype != dtype or c.dtype != accumulator_of(dtype):
            raise ValueError(f"mmad: {dtype} inputs need a {dtype} B and a {accumulator_of(dtype)} C, "
                             f"got B {b.dtype}, C {c.dtype}")
        if m > a.rows or k > a.cols or k > b.rows or n > b.cols or m > c.rows or n > c.cols:
            raise ValueError(f"mmad {m}x{k}x{n} does not fit tiles A {a.rows}x{a.cols}, "
                             f"B {b.rows}x{b.cols}, C {c.rows}x{c.cols}")
        fr = fractal_count(m, k, n, dtype, self.config.cube_k0_bytes)
        per = self.config.cube_cycles_fp32 if dtype == "fp32" else 1
        macs_per_fractal = 16 * 16 * (self.config.cube_k0_bytes // itemsize(dtype))
        run = None
        if self.numerics:
            def run(local, gm):
                mmad_numerics(local, c, a, b, m, k, n, dtype, accumulate)
        return self._emit(isa.Instr("mmad", "M", isa.MMAD, cycles=fr * per,
                                    latency=self.config.mmad_result_latency,
                                    reads=(a.region, b.region) + ((c.region,) if accumulate else ()),
                                    writes=(c.region,), run=run, fractals=fr * per, macs=m * k * n,
                                    macs_charged=fr * macs_per_fractal))

    def mmad_block(self, name, cycles, macs, macs_charged, fractals, extra_busy=None, reads=(), writes=()):
        """Cube macro-instruction with an analytic cost (timing-only kernels collapse inner loops)."""
        return self._emit(isa.Instr(name, "M", isa.LOCAL, cycles=int(cycles),
                                    latency=self.config.mmad_result_latency, reads=reads, writes=writes,
                                    fractals=fractals, macs=macs, macs_charged=macs_charged,
                                    extra_busy=extra_busy))

    def vector(self, op, dst, *srcs, count=None, scalar=None):
        """Vector op on UB tiles: ``dst = op(srcs..., scalar)`` over ``count`` elements (default: all)."""
        if op not in OPS:
            raise ValueError(f"unknown vector op {op!r}; expected one of {sorted(OPS)}")
        nsrc = 1 if op == "vconv" else OPS[op][0]
        if len(srcs) != nsrc:
            raise ValueError(f"{op} takes {nsrc} vector source(s), got {len(srcs)}")
        for t in (dst,) + srcs:
            self._check(t, "UB")
        count = dst.region.nbytes // itemsize(dst.dtype) if count is None else count
        if op != "vconv" and any(s.dtype != dst.dtype for s in srcs):
            raise ValueError(f"{op}: all operands must be {dst.dtype} (use vconv to cast)")
        # more than vector_max_repeat repeats is issued as several instructions, each with its head
        reps = repeats(count, dst.dtype, self.config.vector_bytes_per_repeat)
        n_instr = max(1, -(-reps // self.config.vector_max_repeat))
        cycles = vector_cycles(self.config, op, count, dst.dtype) + (n_instr - 1) * self.config.vector_head
        run = None
        if self.numerics:
            src_dtype = srcs[0].dtype if srcs else None

            def run(local, gm):
                vector_numerics(local, op, dst.region, [s.region for s in srcs], count, dst.dtype,
                                src_dtype, scalar)
        return self._emit(isa.Instr(op, "V", isa.LOCAL, cycles=cycles, reads=tuple(s.region for s in srcs),
                                    writes=(dst.region,), run=run))

    def vector_repeat(self, op, dst, *srcs, repeat, mask=None, strides=None, scalar=None):
        """Vector op in the hardware's repeat form: ``repeat`` x 8 blocks of 32 B, per-operand strides, lane mask.

        ``strides``: one (block stride, repeat stride) pair in 32-byte blocks per operand, destination first
        (default: contiguous (1, 8) for all); ``mask``: active lanes per repeat (default all). Reductions
        (vcadd, vcmax, vcmin) write one result per repeat, contiguously. More than ``vector_max_repeat``
        repeats issue as several instructions, each paying the head.
        """
        if op not in OPS or op in ("vconv", "vand", "vor"):
            raise ValueError(f"vector_repeat: op {op!r} has no repeat form here; expected one of "
                             f"{sorted(set(OPS) - {'vconv', 'vand', 'vor'})}")
        if len(srcs) != OPS[op][0]:
            raise ValueError(f"{op} takes {OPS[op][0]} vector source(s), got {len(srcs)}")
        for t in (dst,) + srcs:
            self._check(t, "UB")
            if t.dtype != dst.dtype:
                raise ValueError(f"{op}: all operands must be {dst.dtype} (use vconv to cast)")
        lanes = self.config.vector_bytes_per_repeat // itemsize(dst.dtype)
        mask = lanes if mask is None else mask
        if not 1 <= mask <= lanes:
            raise ValueError(f"{op}: mask {mask} outside 1..{lanes} lanes of a {dst.dtype} repeat")
        if repeat < 1:
            raise ValueError(f"{op}: repeat must be >= 1, got {repeat}")
        strides = [CONTIGUOUS] * (1 + len(srcs)) if strides is None else [tuple(s) for s in strides]
        if len(strides) != 1 + len(srcs) or any(len(s) != 2 or min(s) < 0 for s in strides):
            raise ValueError(f"{op}: strides needs {1 + len(srcs)} non-negative (block, repeat) pairs, got {strides}")
        offsets = [repeat_offsets(repeat, s, dst.dtype, mask, self.config.vector_bytes_per_repeat) for s in strides]
        if op in REDUCE:
            offsets[0] = np.arange(repeat)[:, None]
        for t, o in zip((dst,) + srcs, offsets):
            if o.size and int(o.max()) >= t.region.nbytes // itemsize(t.dtype):
                raise RangeError(f"{op}: repeat {repeat} with strides {strides} and mask {mask} reaches element "
                                 f"{int(o.max())} of a {t.region.nbytes // itemsize(t.dtype)}-element UB operand")
        n_instr = -(-repeat // self.config.vector_max_repeat)
        run = None
        if self.numerics:
            def run(local, gm):
                repeat_numerics(local, op, dst.region, [s.region for s in srcs], dst.dtype, offsets, scalar)
        return self._emit(isa.Instr(op, "V", isa.LOCAL, cycles=repeat_cycles(self.config, op, repeat, n_instr),
                                    reads=tuple(s.region for s in srcs), writes=(dst.region,), run=run))

    def brcb(self, dst, src, repeat):
        """V: block broadcast: source elements ``0 .. 8*repeat-1`` each fill one 32-byte block of ``dst``.

        Pairs with a block stride of 0 in ``vector_repeat`` to apply a per-row value across a row. Costed as a
        unary instruction (head + 1 cycle per repeat, each repeat writing 256 B).
        """
        self._check(dst, "UB")
        self._check(src, "UB")
        if src.dtype != dst.dtype:
            raise ValueError(f"brcb: source is {src.dtype}, destination {dst.dtype}")
        n = repeat * BLOCKS_PER_REPEAT
        size = itemsize(dst.dtype)
        if repeat < 1 or n * size > src.region.nbytes or n * self.config.vector_bytes_per_repeat // 8 > dst.region.nbytes:
            raise RangeError(f"brcb: {repeat} repeats read {n} elements and write {n} 32-byte blocks; source holds "
                             f"{src.region.nbytes // size}, destination {dst.region.nbytes} B")
        n_instr = -(-repeat // self.config.vector_max_repeat)
        run = None
        if self.numerics:
            def run(local, gm):
                brcb_numerics(local, dst.region, src.region, repeat, dst.dtype, self.config.vector_bytes_per_repeat)
        return self._emit(isa.Instr("brcb", "V", isa.LOCAL, cycles=repeat_cycles(self.config, "brcb", repeat, n_instr),
                                    reads=(src.region,), writes=(dst.region,), run=run))

    def scalar(self, n=1):
        """``n`` scalar ALU instructions (address arithmetic, loop control)."""
        return self._emit(isa.Instr("scalar", "S", isa.LOCAL, cycles=n * self.config.scalar_cost))

    # ---- synchronisation ---------------------------------------------------------------------
    def _flag(self, src, dst, event):
        for p in (src, dst):
            if p not in isa.PIPE_INDEX or p == "S":
                raise ValueError(f"flags connect two of {isa.PIPES[1:]}, got {p!r}")
        if not 0 <= event < self.config.event_ids:
            raise ValueError(f"event id {event} outside 0..{self.config.event_ids - 1} on {self.config.name}")
        return (src, dst, event)

    def set_flag(self, src, dst, event=0):
        """In ``src``'s queue: fires when every earlier ``src`` instruction has completed."""
        return self._emit(isa.Instr("set_flag", src, isa.SET, cycles=self.config.flag_cost,
                                    flag=self._flag(src, dst, event)))

    def wait_flag(self, src, dst, event=0):
        """In ``dst``'s queue: blocks ``dst`` until the matching set_flag fired, then consumes it."""
        return self._emit(isa.Instr("wait_flag", dst, isa.WAIT, cycles=self.config.flag_cost,
                                    flag=self._flag(src, dst, event)))

    def pipe_barrier(self, pipe):
        """``pipe``'s next instruction waits for its earlier ones to complete; 'ALL' drains every pipe."""
        if pipe == "ALL":
            return self._emit(isa.Instr("pipe_barrier_all", "S", isa.BARRIER_ALL))
        return self._emit(isa.Instr("pipe_barrier", pipe, isa.BARRIER))
