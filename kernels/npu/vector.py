"""Elementwise ops as vector-unit programs; reductions and softmax with an analytic vector-unit cost.

``vmap`` lowers an elementwise op to one simulator program per core: the flattened operands are cut
into UB-sized chunks (``tiler.vector_chunk``), each chunk moves GM->UB (MTE2), runs one vector
instruction (V) and goes back UB->GM (MTE3), with two UB buffers per operand so the three pipes
overlap. The values come out of the simulated vector unit (fp32 lanes for float32, fp16 lanes for
float16). Binary operands are broadcast to the output's shape on the host first, so a broadcast
operand is charged its full expanded size. ``rsqrt`` (vsqrt, vrec) and ``pow`` with a scalar exponent
(repeated vmul, vsqrt, vrec) chain instructions on each chunk inside one program.

The simulator's vector unit has no data-dependent broadcast of a reduced value and no compare/select
instructions, so ``sum``, ``mean``, ``softmax``, ``log_softmax``, the comparisons and ``where`` are
computed by numpy in float32 (the precision of the fp32 vector lanes; float16 inputs are widened and
the result rounded back), and their time is charged analytically: GM->UB and UB->GM transfers at the
core's port rates plus ``vector_cycles`` of each vector pass the lowering would issue (vcmax, vadds,
vexp, vcadd, ...), split over all cores, plus the launch. Those records say ``model="analytic"``; so does
``clone`` (a GM->UB->GM copy of any dtype, no vector pass). ``sgd_update`` (plain SGD only) runs as
vector programs and writes the parameter in place.
"""
import numpy as np

from npu_sim import Machine
from npu_sim.kernels.launch import split_blocks
from npu_sim.vector import OPS as VECTOR_OPS, vector_cycles

from . import tiler
from ._common import CONFIG, Unsupported, sim_dtype
from .profiler import Cost, emit


def vmap(op, arrays, scalar=None, then=()):
    """``op`` (a simulator vector instruction) over same-shape float arrays; returns (result, Cost).

    ``then``: (instruction, scalar) pairs applied in turn to each chunk's result while it is still in the UB,
    so a short chain (e.g. vsqrt, vrec) is one program; a binary one takes the result and the first operand.
    """
    dt = sim_dtype(op, *arrays)
    shape, n = arrays[0].shape, arrays[0].size
    out_np = arrays[0].dtype
    if n == 0:
        return np.empty(shape, out_np), Cost()
    m = Machine(CONFIG)
    gins = [m.tensor(np.reshape(x, (1, n)), dt) for x in arrays]
    gout = m.empty(1, n, dt)
    chunk = tiler.vector_chunk(n, len(arrays) + 1, out_np.itemsize)
    programs = []
    for blocks in split_blocks(list(range(0, n, chunk)), CONFIG.num_cores):
        p = m.program()
        ins = [[p.alloc_tile("UB", 1, chunk, dt) for _ in arrays] for _ in range(2)]
        outs = [p.alloc_tile("UB", 1, chunk, dt) for _ in range(2)]
        for it, c0 in enumerate(blocks):
            q, reuse = it % 2, it >= 2
            cols = min(chunk, n - c0)
            if reuse:
                p.wait_flag("V", "MTE2", q)        # inputs of half q consumed (WAR)
            for tile, g in zip(ins[q], gins):
                p.copy_gm_to_ubuf(tile, g, 0, c0, 1, cols)
            p.set_flag("MTE2", "V", q)
            p.wait_flag("MTE2", "V", q)
            if reuse:
                p.wait_flag("MTE3", "V", q)        # output of half q written back (WAR)
            p.vector(op, outs[q], *ins[q], count=cols, scalar=scalar)
            for vop, s in then:
                p.vector(vop, outs[q], outs[q], *ins[q][:VECTOR_OPS[vop][0] - 1], count=cols, scalar=s)
            p.set_flag("V", "MTE2", q)
            p.set_flag("V", "MTE3", q)
            p.wait_flag("V", "MTE3", q)
            p.copy_ubuf_to_gm(gout, outs[q], 0, c0)
            p.set_flag("MTE3", "V", q)
        programs.append(p)
    report = m.run(programs, check_hazards=False)
    return m.read(gout).reshape(shape).astype(out_np, copy=False), Cost.of(report)


def _binary(name, vop):
    def kernel(a, b):
        shape = np.broadcast_shapes(a.shape, b.shape)
        a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
        return emit(name, *vmap(vop, [a, b]))
    kernel.__name__ = name
    kernel.__doc__ = f"``{name}`` with broadcasting on the simulated vector unit ({vop})."
    return kernel


def _unary(name, vop, scalar=None, then=()):
    def kernel(x):
        return emit(name, *vmap(vop, [x], scalar, then))
    kernel.__name__ = name
    kernel.__doc__ = f"``{name}`` on the simulated vector unit ({', '.join([vop] + [v for v, _ in then])})."
    return kernel


def _power_chain(e):
    """Instructions turning a copy of ``x`` into ``x ** e`` (vmul multiplies by ``x`` again), for the exponents
    the vector unit can do."""
    if e in (0.5, -0.5):
        return [("vsqrt", None)] + ([("vrec", None)] if e < 0 else [])
    if e != int(e) or not 1 <= abs(e) <= 8:
        raise Unsupported(f"'pow' on npu takes a scalar exponent +-0.5 or an integer 1..8 in magnitude, got {e}")
    return [("vmul", None)] * (int(abs(e)) - 1) + ([("vrec", None)] if e < 0 else [])


def _pow(x, e):
    """``x ** e`` for a scalar exponent: repeated vmul, vsqrt and vrec on the vector unit."""
    if e.size != 1 or e.dtype.kind not in "iuf" or x.dtype.kind != "f":
        raise Unsupported(f"'pow' on npu takes a float tensor and a scalar exponent, got {x.dtype} ** {e.dtype}"
                          f"{'' if e.size == 1 else ' tensor'}")
    chain = _power_chain(float(e.reshape(())))
    x = np.broadcast_to(x, np.broadcast_shapes(x.shape, e.shape))
    return emit("pow", *vmap("vmuls", [x], 1.0, chain))


# ---- analytic vector-unit cost --------------------------------------------------------------------
# compare and select, which the simulator's table lacks, cost what a binary instruction (vmax) costs
_COST_CLASS = {"vcmp": "vmax", "vsel": "vmax"}


def analytic_cost(passes, n_in, n_out, dtype, itemsize):
    """Time of a vector kernel reading ``n_in`` and writing ``n_out`` elements, issuing ``passes`` over its input.

    Work splits evenly over the cores; each core pays one GM latency per direction, its transfers at the
    GM<->UB port rates, and ``vector_cycles`` per pass over its share (heads included).
    """
    cores = CONFIG.num_cores
    share_in, share_out = -(-n_in // cores), -(-n_out // cores)
    busy = {"MTE2": CONFIG.dma_latency_gm + share_in * itemsize / CONFIG.bw_gm_ub,
            "MTE3": CONFIG.dma_latency_gm + share_out * itemsize / CONFIG.bw_ub_gm,
            "V": sum(vector_cycles(CONFIG, _COST_CLASS.get(p, p), max(share_in, 1), dtype) for p in passes)}
    body = sum(busy.values())
    launch = CONFIG.kernel_launch_overhead_s * CONFIG.clock_hz
    return Cost(body + launch, body, 0.0, (n_in + n_out) * itemsize, "analytic", {k: v for k, v in busy.items() if v})


def _clone(x):
    """``clone``: a GM->UB->GM copy of any dtype (analytic cost: the two transfers, no vector pass)."""
    out = np.array(x, copy=True, order="C")
    return emit("clone", out, analytic_cost((), x.size, x.size, "fp32", x.itemsize))


def _widened(name, x):
    dt = sim_dtype(name, x)
    return dt, x.astype(np.float32, copy=False)


def _sum(x, dims, keepdim, dtype=None):
    """``sum`` in fp32 vector lanes (vcadd per repeat, then vadd of the partials)."""
    if dtype is not None and np.dtype(dtype) != x.dtype:
        raise Unsupported(f"'sum' on npu accumulates in the input's dtype, got dtype={np.dtype(dtype)}")
    dt, xf = _widened("sum", x)
    out = np.sum(xf, axis=dims, keepdims=keepdim).astype(x.dtype)
    return emit("sum", out, analytic_cost(("vcadd", "vadd"), x.size, out.size, dt, x.itemsize))


def _mean(x, dims, keepdim):
    """``mean``: the fp32 ``sum`` scaled by 1/count (vmuls)."""
    dt, xf = _widened("mean", x)
    count = int(np.prod([x.shape[d] for d in (range(x.ndim) if dims is None else dims)]))
    out = (np.sum(xf, axis=dims, keepdims=keepdim) / np.float32(count)).astype(x.dtype)  # 0/0 -> nan, as torch
    return emit("mean", out, analytic_cost(("vcadd", "vadd", "vmuls"), x.size, out.size, dt, x.itemsize))


def _softmax_values(xf, dim, log):
    shifted = xf - np.max(xf, axis=dim, keepdims=True)
    total = np.sum(np.exp(shifted), axis=dim, keepdims=True)
    return shifted - np.log(total) if log else np.exp(shifted) / total


def _softmax_kernel(name, log, passes):
    def kernel(x, dim):
        dt, xf = _widened(name, x)
        out = _softmax_values(xf, dim, log).astype(x.dtype) if x.size else x.copy()
        return emit(name, out, analytic_cost(passes, x.size, x.size, dt, x.itemsize))
    kernel.__name__ = name
    kernel.__doc__ = f"``{name}`` along ``dim`` in fp32 vector lanes (analytic cost: {', '.join(passes)})."
    return kernel


def _compare(name, fn):
    def kernel(a, b):
        sim_dtype(name, a, b)
        out = fn(a, b)
        return emit(name, out, analytic_cost(("vcmp",), a.size + b.size, out.size, "fp32", a.itemsize))
    kernel.__name__ = name
    kernel.__doc__ = f"``{name}`` (vcmp; analytic cost), a bool result."
    return kernel


def _where(cond, a, b):
    """``where`` (vsel; analytic cost): ``a`` where ``cond`` else ``b``."""
    sim_dtype("where", a, b)
    out = np.where(cond, a, b)
    return emit("where", out, analytic_cost(("vsel",), cond.size + a.size + b.size, out.size, "fp32", a.itemsize))


def _sgd_update(grad, param, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """Plain SGD ``param += -lr * grad`` in place, as two vector programs (vmuls, vadd) in fp32 lanes."""
    if momentum or weight_decay or maximize:
        raise Unsupported("'sgd_update' on npu covers plain SGD only (no momentum, weight_decay or maximize)")
    step, cost = vmap("vmuls", [grad], -lr)
    new, c = vmap("vadd", [param, step])
    param[...] = new
    emit("sgd_update", None, cost + c)


KERNELS = {
    "add": _binary("add", "vadd"), "sub": _binary("sub", "vsub"), "mul": _binary("mul", "vmul"),
    "div": _binary("div", "vdiv"), "maximum": _binary("maximum", "vmax"), "minimum": _binary("minimum", "vmin"),
    "neg": _unary("neg", "vmuls", -1.0), "exp": _unary("exp", "vexp"), "relu": _unary("relu", "vrelu"),
    "sqrt": _unary("sqrt", "vsqrt"), "rsqrt": _unary("rsqrt", "vsqrt", then=[("vrec", None)]),
    "reciprocal": _unary("reciprocal", "vrec"), "log": _unary("log", "vln"), "abs": _unary("abs", "vabs"),
    "pow": _pow,
    "clone": _clone,
    "sum": _sum, "mean": _mean,
    "softmax": _softmax_kernel("softmax", False, ("vcmax", "vadds", "vexp", "vcadd", "vmuls")),
    "log_softmax": _softmax_kernel("log_softmax", True, ("vcmax", "vadds", "vexp", "vcadd", "vln", "vadds")),
    "gt": _compare("gt", np.greater), "ge": _compare("ge", np.greater_equal), "lt": _compare("lt", np.less),
    "le": _compare("le", np.less_equal), "eq": _compare("eq", np.equal), "ne": _compare("ne", np.not_equal),
    "where": _where, "sgd_update": _sgd_update,
}
