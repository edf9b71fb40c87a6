"""Elementwise ops and optimizer updates as vector-unit programs; comparisons and ``where`` analytic.

``vmap`` lowers an elementwise op to one simulator program per core: the flattened operands are cut
into UB-sized chunks (``tiler.vector_chunk``), each chunk moves GM->UB (MTE2), runs one vector
instruction (V) and goes back UB->GM (MTE3), with two UB buffers per operand so the three pipes
overlap. The values come out of the simulated vector unit (fp32 lanes for float32, fp16 lanes for
float16). Binary operands are broadcast to the output's shape on the host first, so a broadcast
operand is charged its full expanded size. ``rsqrt`` (vsqrt, vrec) and ``pow`` with a scalar exponent
(repeated vmul, vsqrt, vrec) chain instructions on each chunk inside one program.

``vfuse`` is the general form: several inputs, temporaries and outputs per chunk. Each optimizer update
(``adam_update``, ``sgd_update``, ``rmsprop_update``, ``adagrad_update``, ``adadelta_update``, every option,
float32 parameters only) is one fused program that writes the parameter and its state in place, issuing the
CPU kernel's float32 operations in the same order (bit-equal results); ``fill`` is a vector_dup program.
Reductions and softmax are row programs in ``rows``.

The comparisons, ``where`` and ``logical_not`` (float, int32/int64 or bool operands, int64 costed as int32 lanes)
and integer ``add``/``sub``/``mul`` (e.g. BatchNorm's step counter) are computed by numpy and their time is
charged analytically (``analytic_cost``; the simulator's ``vcmpv_*``/``vsel`` serve the window programs of
``pooling``, but bool and int64 tensors have no lanes of their own): GM->UB and
UB->GM transfers at the core's port rates plus ``vector_cycles`` of each vector pass the lowering would
issue, split over all cores, plus the launch. Those records say ``model="analytic"``; so does ``clone``
(a GM->UB->GM copy of any dtype, no vector pass).
"""
import numpy as np

from npu_sim import Machine
from npu_sim.kernels.launch import split_blocks
from npu_sim.vector import OPS as VECTOR_OPS, vector_cycles

from . import tiler
from ._common import CONFIG, Unsupported, sim_dtype
from .profiler import Cost, emit


def vfuse(name, arrays, steps, outputs, scratch=0, like=None):
    """A fused vector program over same-shape float arrays; returns (list of output arrays, Cost).

    Per UB chunk, slots ``0..len(arrays)-1`` hold the inputs and the next ``scratch`` slots are temporaries;
    ``steps`` are (instruction, dst slot, source slots, scalar) issued in order on the chunk, and the slots named
    in ``outputs`` go back to GM, each as one result with the shape and dtype of ``like`` (default: the first input).
    """
    like = arrays[0] if like is None else like
    dt = sim_dtype(name, like, *arrays)
    shape, n = like.shape, like.size
    out_np = like.dtype
    if n == 0:
        return [np.empty(shape, out_np) for _ in outputs], Cost()
    m = Machine(CONFIG)
    gins = [m.tensor(np.reshape(x, (1, n)), dt) for x in arrays]
    gouts = [m.empty(1, n, dt) for _ in outputs]
    slots = len(arrays) + scratch
    chunk = tiler.vector_chunk(n, slots, out_np.itemsize)
    programs = []
    for blocks in split_blocks(list(range(0, n, chunk)), CONFIG.num_cores):
        p = m.program()
        tiles = [[p.alloc_tile("UB", 1, chunk, dt) for _ in range(slots)] for _ in range(2)]
        for it, c0 in enumerate(blocks):
            q, reuse = it % 2, it >= 2
            cols = min(chunk, n - c0)
            if reuse:
                p.wait_flag("V", "MTE2", q)        # inputs of half q consumed (WAR)
            for tile, g in zip(tiles[q], gins):
                p.copy_gm_to_ubuf(tile, g, 0, c0, 1, cols)
            p.set_flag("MTE2", "V", q)
            p.wait_flag("MTE2", "V", q)
            if reuse:
                p.wait_flag("MTE3", "V", q)        # outputs of half q written back (WAR)
            for op, dst, srcs, scalar in steps:
                p.vector(op, tiles[q][dst], *(tiles[q][s] for s in srcs), count=cols, scalar=scalar)
            p.set_flag("V", "MTE2", q)
            p.set_flag("V", "MTE3", q)
            p.wait_flag("V", "MTE3", q)
            for g, slot in zip(gouts, outputs):
                p.copy_ubuf_to_gm(g, tiles[q][slot], 0, c0)
            p.set_flag("MTE3", "V", q)
        programs.append(p)
    report = m.run(programs, check_hazards=False)
    return [m.read(g).reshape(shape).astype(out_np, copy=False) for g in gouts], Cost.of(report)


def vmap(op, arrays, scalar=None, then=()):
    """``op`` (a simulator vector instruction) over same-shape float arrays; returns (result, Cost).

    ``then``: (instruction, scalar) pairs applied in turn to each chunk's result while it is still in the UB,
    so a short chain (e.g. vsqrt, vrec) is one program; a binary one takes the result and the first operand.
    """
    k = len(arrays)
    steps = [(op, k, tuple(range(k)), scalar)]
    steps += [(vop, k, (k,) + (0,)[:VECTOR_OPS[vop][0] - 1], s) for vop, s in then]
    (out,), cost = vfuse(op, arrays, steps, [k], scratch=1)
    return out, cost


# integer operands of these run in the vector unit's int32 lanes (numpy values, analytic cost; int64 as int32)
_INTEGER = {"add": np.add, "sub": np.subtract, "mul": np.multiply}


def _binary(name, vop):
    def kernel(a, b):
        shape = np.broadcast_shapes(a.shape, b.shape)
        a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
        if name in _INTEGER and a.dtype.kind in "iu" and a.dtype == b.dtype:
            size = _lane_itemsize(name, a, b)
            return emit(name, _INTEGER[name](a, b), analytic_cost((vop,), 2 * a.size, a.size, "fp32", size))
        return emit(name, *vmap(vop, [a, b]))
    kernel.__name__ = name
    kernel.__doc__ = f"``{name}`` with broadcasting on the simulated vector unit ({vop}); integers analytic."
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
# a compare (any vcmpv_ mode) costs what a binary instruction (vmax) costs; a transpose pass, which the simulator's
# table lacks, what a unary one does (each repeat reads and writes 256 B)
_COST_CLASS = {"vcmp": "vmax", "vtranspose": "vabs"}


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
    busy = {k: v for k, v in busy.items() if v}
    body = sum(busy.values())
    launch = CONFIG.kernel_launch_overhead_s * CONFIG.clock_hz
    segments, t = [("launch", 0.0, launch)], launch
    for pipe in ("MTE2", "V", "MTE3"):      # the formula runs the three passes one after the other
        if pipe in busy:
            segments.append((pipe, t, t + busy[pipe]))
            t += busy[pipe]
    return Cost(body + launch, body, 0.0, (n_in + n_out) * itemsize, "analytic", busy, launch, segments)


def _clone(x):
    """``clone``: a GM->UB->GM copy of any dtype (analytic cost: the two transfers, no vector pass)."""
    out = np.array(x, copy=True, order="C")
    return emit("clone", out, analytic_cost((), x.size, x.size, "fp32", x.itemsize))


def _fill(x, value):
    """``fill``: ``x``'s shape and dtype filled with ``value`` (vector_dup, nothing read)."""
    (out,), cost = vfuse("fill", [], [("vector_dup", 0, (), float(value))], [0], scratch=1, like=x)
    return emit("fill", out, cost)


# vcmp/vsel lanes: fp16, fp32 and int32; int64 indices and bool masks are costed as int32 lanes
_LANE_TYPES = ("float32", "float16", "int32", "int64", "bool")


def _lane_itemsize(name, *arrays):
    """Bytes per element the analytic cost charges, or Unsupported naming the op and the dtypes."""
    kinds = {str(a.dtype) for a in arrays}
    if len(kinds) != 1 or not kinds <= set(_LANE_TYPES):
        raise Unsupported(f"'{name}' on npu takes float32, float16, int32, int64 or bool tensors of one dtype, "
                          f"got {', '.join(sorted(kinds))}")
    return min(arrays[0].itemsize, 4)


def _compare(name, fn):
    def kernel(a, b):
        size = _lane_itemsize(name, a, b)
        out = fn(a, b)
        return emit(name, out, analytic_cost(("vcmp",), a.size + b.size, out.size, "fp32", size))
    kernel.__name__ = name
    kernel.__doc__ = f"``{name}`` (vcmp; analytic cost), a bool result."
    return kernel


def _where(cond, a, b):
    """``where`` (vsel; analytic cost): ``a`` where ``cond`` else ``b``."""
    size = _lane_itemsize("where", a, b)
    out = np.where(cond, a, b)
    return emit("where", out, analytic_cost(("vsel",), cond.size + a.size + b.size, out.size, "fp32", size))


def _logical_not(x):
    """``logical_not`` of a bool mask (a vsel between constants; analytic cost)."""
    size = _lane_itemsize("logical_not", x)
    out = np.logical_not(x)
    return emit("logical_not", out, analytic_cost(("vsel",), x.size, out.size, "fp32", size))


def _fp32_params(name, *arrays):
    if any(a.dtype != np.float32 for a in arrays):
        raise Unsupported(f"'{name}' on npu updates float32 parameters and state in fp32 lanes, got "
                          f"{', '.join(sorted({str(a.dtype) for a in arrays}))}")


def _write_back(written, results):
    for dst, r in zip(written, results):
        dst[...] = r


def _gradient(G, P, T, maximize, weight_decay):
    """Steps turning slot ``G`` into the (negated when maximizing, weight-decayed) gradient; ``T`` is a temporary."""
    steps = [("vmuls", G, (G,), -1.0)] if maximize else []
    if weight_decay != 0:
        steps += [("vmuls", T, (P,), weight_decay), ("vadd", G, (G, T), None)]
    return steps


def _sgd_update(grad, param, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """One SGD step in place as one fused vector program in fp32 lanes, operation by operation as the CPU kernel."""
    G, P, B = 0, 1, 2
    arrays = [grad, param] + ([momentum_buffer] if momentum and not first else [])
    _fp32_params("sgd_update", *arrays)
    T = B + 1 if momentum else B   # the buffer's slot is a temporary on the first step
    steps = _gradient(G, P, T, maximize, weight_decay)
    direction = G
    if momentum:
        if first:
            steps.append(("vmuls", B, (G,), 1.0))     # the buffer starts as the (decayed) gradient
        else:
            steps += [("vmuls", B, (B,), momentum), ("vmuls", T, (G,), 1 - dampening), ("vadd", B, (B, T), None)]
        if nesterov:
            steps += [("vmuls", T, (B,), momentum), ("vadd", G, (G, T), None)]
        else:
            direction = B
    steps += [("vmuls", T, (direction,), -lr), ("vadd", P, (P, T), None)]
    outputs = [P, B] if momentum else [P]
    results, cost = vfuse("sgd_update", arrays, steps, outputs, scratch=T + 1 - len(arrays))
    _write_back([param, momentum_buffer], results)
    emit("sgd_update", None, cost)


def _adam_update(grad, param, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay, step,
                 amsgrad, maximize, decoupled_weight_decay):
    """One Adam/AdamW step in place as one fused vector program in fp32 lanes, operation by operation as the
    CPU kernel (vsqrt for the root, vector_dup + vdiv for the bias correction)."""
    G, P, M, V, VM = 0, 1, 2, 3, 4
    arrays = [grad, param, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
    _fp32_params("adam_update", *arrays)
    T, U = len(arrays), len(arrays) + 1
    w1 = 1 - beta1
    lerp_lo = abs(w1) < 0.5     # the same two lerp forms as the CPU kernel, so the roundings match
    decoupled = decoupled_weight_decay and weight_decay != 0
    steps = _gradient(G, P, T, maximize, 0 if decoupled else weight_decay)
    if decoupled:
        steps.append(("vmuls", P, (P,), 1 - lr * weight_decay))
    steps += [("vsub", T, (G, M), None), ("vmuls", T, (T,), w1 if lerp_lo else 1 - w1),
              ("vadd", M, (M, T), None) if lerp_lo else ("vsub", M, (G, T), None),
              ("vmuls", V, (V,), beta2), ("vmuls", T, (G,), 1 - beta2), ("vmul", T, (T, G), None),
              ("vadd", V, (V, T), None)]
    if amsgrad:
        steps.append(("vmax", VM, (VM, V), None))
    steps += [("vsqrt", T, (VM if amsgrad else V,), None), ("vector_dup", U, (), (1 - beta2 ** step) ** 0.5),
              ("vdiv", T, (T, U), None), ("vadds", T, (T,), eps), ("vdiv", T, (M, T), None),
              ("vmuls", T, (T,), -(lr / (1 - beta1 ** step))), ("vadd", P, (P, T), None)]
    outputs = [P, M, V] + ([VM] if amsgrad else [])
    results, cost = vfuse("adam_update", arrays, steps, outputs, scratch=2)
    _write_back([param, exp_avg, exp_avg_sq, max_exp_avg_sq], results)
    emit("adam_update", None, cost)


def _rmsprop_update(grad, param, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps, weight_decay, momentum,
                    centered, maximize):
    """One RMSprop step in place as one fused vector program in fp32 lanes, operation by operation as the CPU
    kernel."""
    G, P, S = 0, 1, 2
    arrays = [grad, param, square_avg] + ([grad_avg] if centered else []) + ([momentum_buffer] if momentum > 0 else [])
    _fp32_params("rmsprop_update", *arrays)
    A, B = 3, 3 + bool(centered)
    T = len(arrays)
    c = 1 - alpha
    steps = _gradient(G, P, T, maximize, weight_decay)
    steps += [("vmuls", S, (S,), alpha), ("vmuls", T, (G,), c), ("vmul", T, (T, G), None), ("vadd", S, (S, T), None)]
    if centered:
        steps += [("vsub", T, (G, A), None)]
        if abs(c) < 0.5:
            steps += [("vmuls", T, (T,), c), ("vadd", A, (A, T), None)]
        else:
            steps += [("vmuls", T, (T,), 1 - c), ("vsub", A, (G, T), None)]
        steps += [("vmul", T, (A, A), None), ("vsub", T, (S, T), None), ("vsqrt", T, (T,), None)]
    else:
        steps.append(("vsqrt", T, (S,), None))
    steps += [("vadds", T, (T,), eps), ("vdiv", T, (G, T), None)]
    if momentum > 0:
        steps += [("vmuls", B, (B,), momentum), ("vadd", B, (B, T), None), ("vmuls", T, (B,), -lr)]
    else:
        steps.append(("vmuls", T, (T,), -lr))
    steps.append(("vadd", P, (P, T), None))
    results, cost = vfuse("rmsprop_update", arrays, steps, list(range(1, len(arrays))), scratch=1)
    _write_back([a for a in (param, square_avg, grad_avg, momentum_buffer) if a is not None], results)
    emit("rmsprop_update", None, cost)


def _adagrad_update(grad, param, state_sum, *, lr, lr_decay, weight_decay, eps, step, maximize):
    """One Adagrad step in place as one fused vector program in fp32 lanes, operation by operation as the CPU
    kernel."""
    G, P, S, T = 0, 1, 2, 3
    _fp32_params("adagrad_update", grad, param, state_sum)
    steps = _gradient(G, P, T, maximize, weight_decay)
    steps += [("vmul", T, (G, G), None), ("vadd", S, (S, T), None), ("vsqrt", T, (S,), None),
              ("vadds", T, (T,), eps), ("vdiv", T, (G, T), None),
              ("vmuls", T, (T,), -(lr / (1 + (step - 1) * lr_decay))), ("vadd", P, (P, T), None)]
    results, cost = vfuse("adagrad_update", [grad, param, state_sum], steps, [P, S], scratch=1)
    _write_back([param, state_sum], results)
    emit("adagrad_update", None, cost)


def _adadelta_update(grad, param, square_avg, acc_delta, *, lr, rho, eps, weight_decay, maximize):
    """One Adadelta step in place as one fused vector program in fp32 lanes, operation by operation as the CPU
    kernel."""
    G, P, S, D, T, U = 0, 1, 2, 3, 4, 5
    _fp32_params("adadelta_update", grad, param, square_avg, acc_delta)
    c = 1 - rho
    steps = _gradient(G, P, T, maximize, weight_decay)
    steps += [("vmuls", S, (S,), rho), ("vmuls", T, (G,), c), ("vmul", T, (T, G), None), ("vadd", S, (S, T), None),
              ("vadds", T, (D,), eps), ("vsqrt", T, (T,), None), ("vadds", U, (S,), eps), ("vsqrt", U, (U,), None),
              ("vdiv", T, (T, U), None), ("vmul", T, (T, G), None),
              ("vmuls", D, (D,), rho), ("vmuls", U, (T,), c), ("vmul", U, (U, T), None), ("vadd", D, (D, U), None),
              ("vmuls", T, (T,), -lr), ("vadd", P, (P, T), None)]
    results, cost = vfuse("adadelta_update", [grad, param, square_avg, acc_delta], steps, [P, S, D], scratch=2)
    _write_back([param, square_avg, acc_delta], results)
    emit("adadelta_update", None, cost)


KERNELS = {
    "add": _binary("add", "vadd"), "sub": _binary("sub", "vsub"), "mul": _binary("mul", "vmul"),
    "div": _binary("div", "vdiv"), "maximum": _binary("maximum", "vmax"), "minimum": _binary("minimum", "vmin"),
    "neg": _unary("neg", "vmuls", -1.0), "exp": _unary("exp", "vexp"), "relu": _unary("relu", "vrelu"),
    "sqrt": _unary("sqrt", "vsqrt"), "rsqrt": _unary("rsqrt", "vsqrt", then=[("vrec", None)]),
    "reciprocal": _unary("reciprocal", "vrec"), "log": _unary("log", "vln"), "abs": _unary("abs", "vabs"),
    "pow": _pow,
    "clone": _clone, "fill": _fill,
    "gt": _compare("gt", np.greater), "ge": _compare("ge", np.greater_equal), "lt": _compare("lt", np.less),
    "le": _compare("le", np.less_equal), "eq": _compare("eq", np.equal), "ne": _compare("ne", np.not_equal),
    "where": _where, "logical_not": _logical_not, "sgd_update": _sgd_update, "adam_update": _adam_update,
    "rmsprop_update": _rmsprop_update, "adagrad_update": _adagrad_update, "adadelta_update": _adadelta_update,
}
