"""The cross-entropy's per-sample class pick and its adjoint as DMA programs addressed by the scalar unit.

``class_pick`` (x[..., target]) moves each sample's element GM -> UB with its own transfer, into a 32-byte
block of its own (UB operands are block-aligned); a ``vcadd`` with a one-lane mask then packs one element per
repeat into a contiguous row, which MTE3 writes back. ``class_place`` (zeros holding g at each target) writes
zero rows from a ``vector_dup`` tile, spreads the values with ``brcb`` (one 32-byte block each) and writes
each into its row's target column with a one-element transfer, after the zeros in MTE3's in-order queue.
The class indices are scalar operands: the scalar unit computes each transfer's address from them (one
scalar instruction per sample); they are read on the host when the program is built, since the simulator
does not model data-dependent scalar loads.
"""
import numpy as np

from npu_sim import Machine
from npu_sim.kernels.launch import split_blocks

from ._common import CONFIG, sim_dtype
from .profiler import Cost, emit

BLOCK = CONFIG.vector_bytes_per_repeat // 8        # bytes of one UB block
ROWS = 2048                                        # samples per UB block of a core's share


def _shares(rows):
    return split_blocks(list(range(0, rows, ROWS)), CONFIG.num_cores)


def _class_pick(x, target):
    """x[..., target[...]] for x of shape target.shape + (C,): per-sample transfers, packed by a masked vcadd."""
    dt = sim_dtype("class_pick", x)
    rows, classes = target.size, x.shape[-1]
    if rows == 0:
        return emit("class_pick", np.empty(target.shape, x.dtype), Cost())
    idx = target.reshape(-1)
    per_block = BLOCK // x.itemsize
    m = Machine(CONFIG)
    gx, gout = m.tensor(x.reshape(rows, classes), dt), m.empty(1, rows, dt)
    programs = []
    for starts in _shares(rows):
        p = m.program()
        picked = p.alloc_tile("UB", ROWS, per_block, dt)
        packed = p.alloc_tile("UB", 1, ROWS, dt)
        for b, r0 in enumerate(starts):
            n = min(ROWS, rows - r0)
            if b:
                p.wait_flag("V", "MTE2")               # previous block packed (WAR on ``picked``)
            for i in range(n):
                p.scalar()
                p.copy_gm_to_ubuf(picked.row_block(i, 1), gx, r0 + i, int(idx[r0 + i]), 1, 1)
            p.set_flag("MTE2", "V")
            p.wait_flag("MTE2", "V")
            if b:
                p.wait_flag("MTE3", "V")               # previous block written back (WAR on ``packed``)
            p.vector_repeat("vcadd", packed, picked, repeat=n, mask=1, strides=[(1, 8), (1, 1)])
            p.set_flag("V", "MTE2")
            p.set_flag("V", "MTE3")
            p.wait_flag("V", "MTE3")
            p.copy_ubuf_to_gm(gout, packed._replace(cols=n), 0, r0)
            p.set_flag("MTE3", "V")
        programs.append(p)
    report = m.run(programs, check_hazards=False)
    return emit("class_pick", m.read(gout).reshape(target.shape).astype(x.dtype, copy=False), Cost.of(report))


def _class_place(g, target, classes):
    """Zeros of shape target.shape + (classes,) holding g at each sample's target class: zero rows, then one
    transfer per sample from a ``brcb`` block."""
    dt = sim_dtype("class_place", g)
    rows = target.size
    if rows == 0 or classes == 0:
        return emit("class_place", np.zeros(target.shape + (classes,), g.dtype), Cost())
    idx = target.reshape(-1)
    per_block = BLOCK // g.itemsize
    zero_cols = min(classes, 8192)
    m = Machine(CONFIG)
    gg, gout = m.tensor(g.reshape(1, rows), dt), m.empty(rows, classes, dt)
    programs = []
    for starts in _shares(rows):
        p = m.program()
        zeros = p.alloc_tile("UB", 1, zero_cols, dt)
        values = p.alloc_tile("UB", 1, ROWS, dt)
        spread = p.alloc_tile("UB", ROWS, per_block, dt)
        p.vector("vector_dup", zeros, count=zero_cols, scalar=0.0)
        for b, r0 in enumerate(starts):
            n = min(ROWS, rows - r0)
            if b:
                p.wait_flag("V", "MTE2")               # previous values spread (WAR on ``values``)
            p.copy_gm_to_ubuf(values, gg, 0, r0, 1, n)
            p.set_flag("MTE2", "V")
            p.wait_flag("MTE2", "V")
            if b:
                p.wait_flag("MTE3", "V")               # previous block written (WAR on ``spread``)
            p.brcb(spread, values, repeat=-(-n // 8))
            p.set_flag("V", "MTE2")
            p.set_flag("V", "MTE3")
            p.wait_flag("V", "MTE3")
            for i in range(n):
                for c0 in range(0, classes, zero_cols):
                    p.copy_ubuf_to_gm(gout, zeros, r0 + i, c0)
            for i in range(n):
                p.scalar()
                p.copy_ubuf_to_gm(gout, spread.row_block(i, 1)._replace(cols=1), r0 + i, int(idx[r0 + i]))
            p.set_flag("MTE3", "V")
        programs.append(p)
    report = m.run(programs, check_hazards=False)
    out = m.read(gout).reshape(target.shape + (classes,)).astype(g.dtype, copy=False)
    return emit("class_place", out, Cost.of(report))


KERNELS = {"class_pick": _class_pick, "class_place": _class_place}
