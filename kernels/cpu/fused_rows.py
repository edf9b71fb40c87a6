"""Row programs: elementwise ops and reductions over the last dim, one row at a time (graph mode's row fusion).

A row program is a fused program (``fused.py``'s format and op vocabulary) that may also hold the reductions
``row_sum``, ``row_mean``, ``row_max`` and ``row_all`` over the last dim of the group's shape ``(..., n)``, and
``row_softmax`` and ``row_log_softmax`` (full values from a full value), and ``col_sum``: a full value summed
over every row (one value per column, accumulated as the rows go by). Every other slot is either *full*
(one value per element) or *per row* (one value per row: a reduction's result, an input of shape
``(..., 1)``, a scalar, or an op on such values only). The generated kernel walks the rows; within a row it
runs one vectorised loop over the ``n`` elements per stage, a stage ending where a reduction's result is
needed. Full values that later stages read stay in an ``n``-element buffer, so a whole LayerNorm (forward
or backward) or a softmax gradient reads its inputs once and writes its outputs once, in cache.

Sums run in the dtype of their values with reassociation allowed (vectorised), so they may differ from
numpy's pairwise sums in the last bits; everything else is the unfused chain's arithmetic. Large row loops are
shared among OpenBLAS's threads (``openblas_threads.py``: they sit between GEMMs, whose OpenBLAS workers hold the
other cores anyway), each thread taking a range of the outermost dim; a column sum is then added up per thread
and the threads' sums in order, so its last bits depend on OpenBLAS's thread count.
"""
import math

import numpy as np

from ._numba import jit
from . import openblas_threads
from .fused import (_CONSTRUCTOR, _compiled, _exp_lines, _flat, _flat_source, _load, job_source_for, op_lines,
                    slot_dtypes, split_jobs, split_table)

__all__ = ["REDUCTIONS", "SOFTMAXES", "COLUMN_SUM", "fused_rows", "source_for"]

REDUCTIONS = frozenset({"row_sum", "row_mean", "row_max", "row_all"})
COLUMN_SUM = "col_sum"
SOFTMAXES = frozenset({"row_softmax", "row_log_softmax"})


@jit(fastmath={"reassoc"}, error_model="numpy")
def row_total(x, zero):
    """Sum of a 1-D row, from ``zero`` (of the row's dtype), reassociated so that LLVM vectorises it."""
    total = zero
    for j in range(x.shape[0]):
        total += x[j]
    return total


@jit(error_model="numpy")
def row_largest(x):
    """Largest value of a 1-D row; NaN if the row holds one, as numpy's max."""
    top = x[0]
    for j in range(1, x.shape[0]):
        v = x[j]
        if v > top or v != v:
            top = v
    return top


@jit(error_model="numpy")
def row_shift(x):
    """Largest value of a 1-D row, skipping NaN (which LLVM then vectorises): softmax's shift, where a NaN
    makes the whole row NaN whatever the shift."""
    top = x[0]
    for j in range(1, x.shape[0]):
        v = x[j]
        top = v if v > top else top
    return top


@jit
def row_all(x):
    """True when every value of a 1-D bool row is True."""
    for j in range(x.shape[0]):
        if not x[j]:
            return False
    return True


def _ranks(program, kinds):
    """(loop of each full slot, loops that must finish before each per-row slot, the loop adding up each
    column sum, number of loops).

    A softmax is computed between loops, from its argument's whole row: its loop is the one after its
    argument's, as for a reduction's result. A column sum adds its argument's row in the argument's loop.
    """
    in_dtypes, ops, _ = program
    loop, ready, column = {}, {}, {}
    for i, kind in enumerate(kinds):
        if kind in "fF":
            loop[i] = 0
        else:
            ready[i] = 0
    for k, (name, args, _, _) in enumerate(ops):
        slot = len(in_dtypes) + k
        if name in REDUCTIONS:
            ready[slot] = loop[args[0]] + 1
        elif name in SOFTMAXES:
            loop[slot] = loop[args[0]] + 1
        elif name == COLUMN_SUM:  # of a full value, or of a per-row one repeated along its row (an expand)
            column[slot] = loop[args[0]] if args[0] in loop else ready[args[0]]
        elif any(a in loop for a in args):
            loop[slot] = max([loop[a] for a in args if a in loop] + [ready[a] for a in args if a in ready])
        else:
            ready[slot] = max([ready[a] for a in args], default=0)
    return loop, ready, column, max(list(loop.values()) + list(column.values()), default=0) + 1


def source_for(program, layout, full_shaped):
    """Numba source of ``fused(o0.., a0.., dims, st)`` running ``program`` over the rows of ``dims``.

    ``layout`` is one kind per input, then the number of leading dims. Kinds: "f" (full, C-contiguous,
    read at row * n), "F" (full, read from the offset its strides ``st`` give over the leading dims, inner
    stride 1), "r" / "R" (one value per row, at ``row`` or at its strides' offset), "s" (one value).
    ``dims`` is the group's shape. Outputs are flat: ``prod(dims)`` values for full slots and for per-row
    slots where ``full_shaped`` says so (repeated along their row), else one value per row; ``n`` for
    column sums.
    """
    in_dtypes, ops, outputs = program
    *kinds, depth = layout
    n_in = len(in_dtypes)
    loop, ready, column, loops = _ranks(program, kinds)
    dtypes = slot_dtypes(program)
    # full values read in a later stage than theirs, reduced or normalised, and softmaxes, keep a row buffer
    softmaxes = {n_in + k for k, op in enumerate(ops) if op[0] in SOFTMAXES}
    buffered = set(softmaxes)
    for k, (name, args, _, _) in enumerate(ops):
        slot = n_in + k
        for a in args:
            whole_row = name in REDUCTIONS or name in SOFTMAXES
            if a >= n_in and a in loop and (whole_row or slot not in loop or loop[a] != loop[slot]):
                buffered.add(a)
    strided = [i for i, kind in enumerate(kinds) if kind in "FR"]
    names = [f"o{j}" for j in range(len(outputs))] + [f"a{i}" for i in range(n_in)]
    src = ["import math", "import numba", "import numpy as np",
           "from kernels.cpu.fused_rows import row_all, row_largest, row_shift, row_total",
           "from kernels.cpu.softmax import exp_of_nonpositive", "",
           "@numba.njit(cache=True, error_model='numpy')", f"def fused({', '.join(names)}, dims, st):",
           f"    n = dims[{depth}]"]
    src += [f"    t{s} = np.empty(n, {_CONSTRUCTOR[dtypes[s]]})" for s in sorted(buffered)]
    src += [f"    c{s} = np.zeros(n, {_CONSTRUCTOR[dtypes[s]]})" for s in sorted(column)]
    src += [f"    v{i} = a{i}[0]" for i, kind in enumerate(kinds) if kind == "s"]
    pad, row = "    ", "i0"
    for d in range(depth):
        src.append(f"{pad}for i{d} in range(dims[{d}]):")
        pad += "    "
        row = row if d == 0 else f"({row} * dims[{d}] + i{d})"
    src += [f"{pad}row = {row}", f"{pad}k0 = row * n"]
    for position, i in enumerate(strided):
        src.append(f"{pad}b{i} = " + " + ".join(f"i{d} * st[{position * depth + d}]" for d in range(depth)))
    reads = {"f": "x{0} = a{0}[k0:k0 + n]", "F": "x{0} = a{0}[b{0}:b{0} + n]", "r": "v{0} = a{0}[row]",
             "R": "v{0} = a{0}[b{0}]"}
    src += [pad + reads[kind].format(i) for i, kind in enumerate(kinds) if kind in reads]
    full_out = {}
    for j, slot in enumerate(outputs):
        if slot not in column and (slot in loop or full_shaped[j]):
            src.append(f"{pad}r{j} = o{j}[k0:k0 + n]")
            if slot in loop:
                full_out.setdefault(slot, []).append(j)
    for stage in range(loops + 1):
        for k, (name, args, _, dtype) in enumerate(ops):
            slot = n_in + k
            if ready.get(slot, -1) == stage:
                src += [pad + line for line in _row_op(program, k, dtypes, n_in)]
            elif slot in softmaxes and loop[slot] == stage:
                src += [pad + line for line in _softmax_lines(slot, args[0], dtype, n_in, name == "row_log_softmax",
                                                              full_out.pop(slot, ()))]
        if stage == loops:
            break
        members = [k for k in range(len(ops)) if loop.get(n_in + k) == stage and n_in + k not in softmaxes]
        sums = [k for k in range(len(ops)) if column.get(n_in + k) == stage]
        if not members and not sums:
            continue
        made = {n_in + k for k in members}
        inner = pad + "    "
        src.append(f"{pad}for j in range(n):")
        for a in sorted({a for k in members + sums for a in ops[k][1] if a in loop and a not in made}):
            src.append(f"{inner}v{a} = {_row_source(a, n_in)}[j]")
        for k in members:
            src += [inner + line for line in op_lines(program, k, dtypes)]
        src += [f"{inner}c{n_in + k}[j] += v{ops[k][1][0]}" for k in sums]
        src += [f"{inner}t{slot}[j] = v{slot}" for slot in sorted(made & buffered)]
        src += [f"{inner}r{j}[j] = v{slot}" for slot in sorted(made & set(full_out)) for j in full_out[slot]]
    # element loops, not slice assignments: Numba's ``a[:] = b`` costs as much as the softmax it copies
    for j, slot in enumerate(outputs):
        if slot in ready:
            src += [f"{pad}for j in range(n):", f"{pad}    r{j}[j] = v{slot}"] if full_shaped[j] else \
                [f"{pad}o{j}[row] = v{slot}"]
    for j, slot in enumerate(outputs):
        if slot in column:
            src += ["    for j in range(n):", f"        o{j}[j] = c{slot}[j]"]
    return "\n".join(src) + "\n"


def _row_source(slot, n_in):
    """The row array holding a full slot: its input's row, or its buffer."""
    return f"{'x' if slot < n_in else 't'}{slot}"


def _row_op(program, k, dtypes, n_in):
    """Lines computing the per-row op ``k``: a reduction over the row of its argument, or a scalar op."""
    name, args, _, dtype = program[1][k]
    if name not in REDUCTIONS:
        return op_lines(program, k, dtypes)
    source, T = _row_source(args[0], n_in), _CONSTRUCTOR[dtype]
    total = f"row_total({source}, {T}(0))"
    value = {"row_sum": total, "row_mean": f"{T}({total} / {T}(n))", "row_max": f"row_largest({source})",
             "row_all": f"row_all({source})"}[name]
    return [f"v{n_in + k} = {value}"]


def _softmax_lines(slot, arg, dtype, n_in, log, outs):
    """Lines filling buffer ``t<slot>`` and the output rows ``r<j>`` for ``j`` in ``outs`` with the
    (log-)softmax of ``arg``'s row, in the softmax kernels' arithmetic: exp of the max-shifted values, then times
    the reciprocal of their sum, or for the log ``(x - max) - log(sum)``. A NaN anywhere makes the row NaN,
    whatever the shift."""
    T, source, e, m = _CONSTRUCTOR[dtype], _row_source(arg, n_in), f"e{slot}", f"m{slot}"
    # float32: the softmax kernel's own exp of a non-positive number (8 lanes), else a float64 polynomial
    exp = ([f"{e} = exp_of_nonpositive({source}[j] - {m})"] if dtype == "float32"
           else _exp_lines(e, f"{source}[j] - {m}", T))
    lines = [f"{m} = row_shift({source})", "for j in range(n):"] + ["    " + line for line in exp]
    lines += [f"    t{slot}[j] = {e}"]
    writes = [f"    r{j}[j] = t{slot}[j]" for j in outs]
    if log:
        return lines + [f"s{slot} = {T}(math.log(row_total(t{slot}, {T}(0))))", "for j in range(n):",
                         f"    t{slot}[j] = {T}({T}({source}[j] - {m}) - s{slot})"] + writes
    return lines + [f"s{slot} = {T}(1) / row_total(t{slot}, {T}(0))", "for j in range(n):",
                    f"    t{slot}[j] = {T}(t{slot}[j] * s{slot})"] + writes


# ----- the kernel ----------------------------------------------------------------------------------
_PLANS = {}  # (shape, input shapes and strides) -> (layout, preps, strides)


def _plan(arrays, shape):
    key = (shape,) + tuple((a.shape, a.strides) for a in arrays)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _make_plan(arrays, shape)
    return plan


def _make_plan(arrays, shape):
    """How to read each input over the rows of ``shape``: (layout, preps, flat strides)."""
    depth, size = len(shape) - 1, math.prod(shape)
    rows = size // shape[-1] if shape[-1] else 0
    kinds, preps, strides = [], [], []
    for a in arrays:
        if a.size == 1:
            kinds.append("s")
            preps.append(None)
            continue
        full = a.ndim > 0 and a.shape[-1] == shape[-1] and shape[-1] != 1
        if a.flags.c_contiguous and a.size == (size if full else rows):
            kinds.append("f" if full else "r")
            preps.append(None)
            continue
        prep, element_strides = _flat_source(a, len(shape))  # a flat C-contiguous buffer: inner stride 1
        kinds.append("F" if full else "R")
        preps.append(prep)
        strides += element_strides[:depth]
    return tuple(kinds) + (depth,), tuple(preps), tuple(strides)


def _split(job, program, layout, shape, strides, results, flat, jobs):
    """Run the rows in ``jobs`` ranges of the outermost dim on OpenBLAS's threads (``openblas_threads``); each job
    sums its columns into its own row, and the rows are added in job order."""
    *kinds, depth = layout
    per_outer, rows_per_outer = math.prod(shape[1:]), math.prod(shape[1:-1])
    n_in = len(program[0])
    arrays, partials = [], {}
    for j, (slot, r) in enumerate(zip(program[2], results)):
        if program[1][slot - n_in][0] == COLUMN_SUM:
            partials[j] = np.zeros((jobs, shape[-1]), r.dtype)
            arrays.append((list(partials[j]), 0))
        else:
            arrays.append((r, per_outer if r.size == math.prod(shape) else rows_per_outer))
    position = 0
    for a, kind in zip(flat, kinds):
        if kind in "FR":
            arrays.append((a, strides[position * depth]))
            position += 1
        else:
            arrays.append((a, {"f": per_outer, "r": rows_per_outer, "s": 0}[kind]))
    openblas_threads.run(job, split_table(shape, strides, arrays, jobs))
    for j, sums in partials.items():
        total = sums[0].copy()
        for part in sums[1:]:
            total += part
        results[j][...] = total.reshape(results[j].shape)


def fused_rows(*arrays, program, shape, out_shapes, parallel=True):
    """Run the row ``program`` over the rows of ``shape`` (``(..., n)``); return its output array(s), of
    ``out_shapes``: ``shape`` itself, the row shape ``(..., 1)``, or for column sums ``(n,)`` or ``(1, .., n)``.
    From ``fused.SPLIT_MIN`` elements the rows are shared among OpenBLAS's threads (``parallel=False``: never).
    """
    # the elementwise kernels' per-program state: found by the program's id, not by hashing it on every call
    state = _compiled(program)
    arrays = [a if a.dtype == dt else a.astype(dt) for a, dt in zip(arrays, state.in_dtypes)]
    shape, out_shapes = tuple(shape), tuple(tuple(s) for s in out_shapes)
    layout, preps, strides = _plan(arrays, shape)
    size = math.prod(shape)
    jobs = split_jobs(size, shape[0]) if parallel and len(shape) > 1 else 1
    key = ("rows", layout, out_shapes, jobs > 1)
    kernel = state.kernels.get(key)
    if kernel is None:
        full_shaped = tuple(s == shape for s in out_shapes)
        source = source_for(program, layout, full_shaped)
        if jobs > 1:
            source = job_source_for(source, [d.name for d in state.out_dtypes], program[0], len(shape), len(strides))
        kernel = state.kernels[key] = _load(source, "job").address if jobs > 1 else _load(source)
    results = [np.empty(s, dt) for dt, s in zip(state.out_dtypes, out_shapes)]
    flat = [_flat(a, p) for a, p in zip(arrays, preps)]
    if jobs > 1:
        _split(kernel, program, layout, shape, strides, results, flat, jobs)
    elif size:
        kernel(*[r.reshape(-1) for r in results], *flat, shape, strides)
    elif any(math.prod(s) for s in out_shapes):  # no rows: column sums are zeros
        for r in results:
            r.fill(0)
    return results[0] if len(results) == 1 else tuple(results)


KERNELS = {"fused_rows": fused_rows}
