"""Memory planning: liveness of every value, and reuse of dead buffers by kernels that can write into one.

After node ``i`` runs, the executor drops its references to ``plan.frees[i]`` (values read for the last
time there, or never read). A buffer (a value owning its memory; views keep their root alive) dies when
its last alias is dropped. A node whose kernel can write into a given array (numpy ufuncs with one output
and inputs of the output's dtype, ``matmul`` of float matrices, and ``fused_elementwise`` when its kernel
takes ``out=``) may take a dead buffer of the same byte size instead of allocating: ``plan.reuse[i]``
names that donor. Graph inputs, constants, outputs, views and buffers of kernels that might alias their
inputs are never donated.

Peak bytes count buffers allocated during one call (inputs and constants are held by the caller either
way). The eager figure models eager execution of a graph: every op allocates its result, Python frees it
when its last reader ran (autograd's saved tensors are read by the backward nodes of a captured training
step, so they stay alive until then, as the tape keeps them). It is a lower bound for forward-only graphs
recorded under grad mode, where the tape would keep saved tensors until the outputs die.
"""
import inspect

import numpy as np

from .analysis import roots

__all__ = ["plan_memory", "MemoryPlan", "eager_peak_bytes", "out_call", "run_planned"]


class MemoryPlan:
    """Liveness and buffer reuse for one graph: ``frees`` (per node), ``reuse`` (node index -> donor value)."""

    def __init__(self, frees, reuse, planned_peak_bytes, eager_peak_bytes, planned_alloc_bytes, eager_alloc_bytes):
        self.frees, self.reuse = frees, reuse
        self.planned_peak_bytes, self.eager_peak_bytes = planned_peak_bytes, eager_peak_bytes
        self.planned_alloc_bytes, self.eager_alloc_bytes = planned_alloc_bytes, eager_alloc_bytes
        self.donors = frozenset(reuse.values())

    @staticmethod
    def buffer(donor_array, value):
        """``donor_array``'s memory viewed as ``value``'s shape and dtype, or None when it cannot be."""
        if not (donor_array.flags.c_contiguous or donor_array.flags.f_contiguous) or not donor_array.flags.writeable:
            return None
        dtype = value.dtype.np
        if donor_array.nbytes != value.nbytes or value.dtype.name == "bfloat16":
            return None
        flat = donor_array.reshape(-1, order="A").view(np.uint8)
        return flat.view(dtype).reshape(value.shape)

    def __str__(self):
        return (f"memory plan: peak {_mib(self.planned_peak_bytes)} planned vs {_mib(self.eager_peak_bytes)} eager; "
                f"allocated {_mib(self.planned_alloc_bytes)} vs {_mib(self.eager_alloc_bytes)} "
                f"({len(self.reuse)} buffers reused)")


def _mib(n):
    if n < 1024:
        return f"{n} B"
    return f"{n / 2 ** 20:.2f} MiB" if n >= 2 ** 20 else f"{n / 1024:.1f} KiB"


# ----- kernels that can write into a given buffer ---------------------------------------------------
def out_call(node):
    """A function ``(arrays, out) -> None`` computing ``node`` into ``out``, or None if its kernel cannot."""
    if len(node.outputs) != 1 or node.attrs and node.kernel != "fused_elementwise":
        return None
    out = node.outputs[0]
    if out.dtype.name == "bfloat16" or out.device is None or out.device.type != "cpu":
        return None
    from ..._backends import kernel_for
    try:
        kernel = kernel_for(out.device, node.kernel)
    except (NotImplementedError, RuntimeError):
        return None
    if node.kernel == "fused_elementwise":
        if "out" not in inspect.signature(kernel).parameters:
            return None
        return lambda arrays, buf: kernel(*arrays, out=buf, **node.attrs)
    same = all(v.dtype is out.dtype for v in node.inputs)
    if isinstance(kernel, np.ufunc) and kernel.nout == 1 and kernel.nin == len(node.inputs) and same:
        return lambda arrays, buf: kernel(*arrays, out=buf)
    if node.kernel == "matmul" and same and out.dtype.name in ("float32", "float64") and \
            all(len(v.shape) >= 2 for v in node.inputs) and len(out.shape) >= 2:
        return lambda arrays, buf: np.matmul(*arrays, out=buf)
    return None


# ----- liveness and planning ----------------------------------------------------------------------------
def _liveness(graph):
    """(root map, last use index per value, death index per root buffer; len(nodes) = never dies)."""
    root = roots(graph)
    end = len(graph.nodes)
    last = {}
    for i, node in enumerate(graph.nodes):
        for v in node.outputs:
            last[v] = i
        for v in node.inputs:
            last[v] = i
    for v in graph.outputs:
        last[v] = end
    death = {}
    for v, i in last.items():
        r = root.get(v, v)
        death[r] = max(death.get(r, -1), i)
    return root, last, death


def plan_memory(graph, reuse_buffers=True):
    """Attach a :class:`MemoryPlan` to ``graph.memory_plan``. Returns the plan's figures as stats."""
    root, last, death = _liveness(graph)
    end = len(graph.nodes)
    kept = set(graph.outputs) | set(graph.constants)
    frees = [[] for _ in graph.nodes]
    for v, i in last.items():
        if i < end and v not in kept:
            frees[i].append(v)
    reuse, intervals = {}, []  # intervals: [first node, last node, bytes] per physical buffer
    buffer_of = {}  # value occupying a buffer -> that buffer's interval
    pool = {}  # nbytes -> donatable values whose buffers are dead, most recent last
    dying = {}  # node index -> donatable values whose buffers die after it
    for i, node in enumerate(graph.nodes):
        for v in dying.get(i - 1, ()):
            pool.setdefault(v.nbytes, []).append(v)
        call = out_call(node) if reuse_buffers else None
        for v in node.outputs:
            if root[v] is not v:
                continue
            donor = _take(pool, dying.get(i, []), v, _is_ufunc(node)) if call is not None else None
            if donor is not None:
                reuse[i] = donor
                buffer_of[v] = buffer_of.pop(donor)
                buffer_of[v][1] = max(buffer_of[v][1], death[v])
            else:
                buffer_of[v] = [i, death[v], v.nbytes]
                intervals.append(buffer_of[v])
            if call is not None and death[v] < end:
                dying.setdefault(death[v], []).append(v)
    planned_peak = _peak(intervals, end)
    eager = eager_peak_bytes(graph)
    planned_alloc = sum(b[2] for b in intervals)
    plan = MemoryPlan(frees, reuse, planned_peak, eager, planned_alloc, _eager_alloc(graph, root))
    graph.memory_plan = plan
    return {"buffers_reused": len(reuse), "planned_peak_bytes": planned_peak, "planned_alloc_bytes": planned_alloc}


def _is_ufunc(node):
    from ..._backends import kernel_for
    return isinstance(kernel_for(node.outputs[0].device, node.kernel), np.ufunc)


def _take(pool, dying_here, v, same_node):
    """A dead donor buffer of ``v.nbytes``; a ufunc may also take one its own inputs free (numpy handles overlap)."""
    if v.nbytes == 0:
        return None
    free = pool.get(v.nbytes)
    if free:
        return free.pop()
    if same_node:
        for d in dying_here:
            if d.nbytes == v.nbytes and d.node is not v.node:
                dying_here.remove(d)
                return d
    return None


def _peak(intervals, end):
    delta = [0] * (end + 2)
    for first, last, nbytes in intervals:
        delta[first] += nbytes
        delta[min(last, end) + 1] -= nbytes
    peak = live = 0
    for d in delta:
        live += d
        peak = max(peak, live)
    return peak


def eager_peak_bytes(graph):
    """Peak bytes of ``graph``'s intermediates when every op allocates its result and frees it after its last reader."""
    root, _, death = _liveness(graph)
    end = len(graph.nodes)
    return _peak([[i, death[v], v.nbytes] for i, node in enumerate(graph.nodes) for v in node.outputs
                  if root[v] is v], end)


def _eager_alloc(graph, root):
    return sum(v.nbytes for node in graph.nodes for v in node.outputs if root[v] is v)


# ----- a reference executor for plans ----------------------------------------------------------------------
def run_planned(graph, input_arrays):
    """Run ``graph`` as an executor following ``graph.memory_plan`` would; returns the output arrays.

    It is the definition the executor's plan handling is tested against: references are dropped as the
    plan says, and donated buffers are written by kernels that accept an output array.
    """
    from ..interpreter import call_node
    plan = graph.memory_plan
    env = dict(zip(graph.inputs, input_arrays))
    env.update(graph.constants)
    held, consumed = {}, set()
    for i, node in enumerate(graph.nodes):
        arrays = [env[v] for v in node.inputs]
        donor = plan.reuse.get(i)
        buf = None
        if donor is not None:
            consumed.add(donor)
            source = held.pop(donor) if donor in held else env[donor]
            buf = plan.buffer(source, node.outputs[0])
        if buf is not None:
            out_call(node)(arrays, buf)
            env[node.outputs[0]] = buf
        else:
            env.update(zip(node.outputs, call_node(node, arrays)))
        for v in plan.frees[i]:
            array = env.pop(v)
            if v in plan.donors and v not in consumed:
                held[v] = array
    return [env[v] for v in graph.outputs]
