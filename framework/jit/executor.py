"""The executor: replays a graph as a flat list of prebound kernel calls, with no autograd bookkeeping.

Values live in a list indexed by slot; each step reads its input slots, calls its kernel (attributes bound
once, dynamic ones such as an optimizer's lr re-read per call) and stores its outputs. A value's slot is cleared
after its last use, so buffers die as early as the graph allows (this is the liveness part of
``graph.memory_plan`` when the pass pipeline attached one, and works the same without it).

Buffer reuse, when the plan has it: a freed value the plan names as a donor is kept in a pool instead of dropped,
and the node the plan gives it to writes its result into that memory (``memory_plan.out_call``) instead of
allocating. A donor whose memory cannot be viewed as the output (``MemoryPlan.buffer`` says None) is skipped:
that node allocates as usual.
"""
import functools

import numpy as np

from kernels.cpu.graph import with_absent

from .. import _dtype
from .._backends import kernel_for
from .interpreter import _storage_view, call_node

__all__ = ["Executor"]


class Executor:
    """Runs ``graph`` on a list of input arrays (one per graph input); returns the arrays of ``graph.outputs``."""

    def __init__(self, graph):
        self.graph = graph
        slots = {}
        for value in list(graph.inputs) + list(graph.constants):
            slots[value] = len(slots)
        for node in graph.nodes:
            for value in node.outputs:
                slots[value] = len(slots)
        self._n_inputs = len(graph.inputs)
        self._base = [None] * len(slots)
        for value, array in graph.constants.items():
            self._base[slots[value]] = array
        last_use = {}
        for i, node in enumerate(graph.nodes):
            for value in node.inputs:
                last_use[value] = i
        keep = set(graph.outputs)
        frees = [[] for _ in graph.nodes]
        for value, i in last_use.items():
            if value not in keep and value.kind == "node":
                frees[i].append(slots[value])
        self._steps = [self._step(node, slots, tuple(free)) for node, free in zip(graph.nodes, frees)]
        self._outputs = [slots[v] for v in graph.outputs]
        self._plan, self._reuse, self._donors = _reuse_steps(graph, slots)

    @staticmethod
    def _step(node, slots, free):
        ins = tuple(slots[v] for v in node.inputs)
        outs = tuple(slots[v] for v in node.outputs)
        bf16 = any(v.dtype is _dtype.bfloat16 for v in list(node.inputs) + node.outputs)
        if bf16:
            call = functools.partial(_general_call, node)
            return call, ins, outs, None, free, True
        device = node.outputs[0].device if node.outputs else node.inputs[0].device
        attrs = node.attrs
        if node.kernel == "call_absent":
            # bind the target once (``call_absent`` would look it up on every call)
            kernel = with_absent(kernel_for(device, attrs["target"]), attrs["absent"])
            attrs = {name: value for name, value in attrs.items() if name not in ("target", "absent")}
        else:
            kernel = kernel_for(device, node.kernel)
        if node.dynamic:
            call = _dynamic_call(kernel, attrs, node.dynamic)
        else:
            call = functools.partial(kernel, **attrs) if attrs else kernel
        expected = tuple(v.dtype.np for v in node.outputs)
        return call, ins, outs, expected, free, False

    def run(self, arrays):
        """Outputs of the graph for input ``arrays``."""
        env = self._base.copy()
        env[:self._n_inputs] = arrays
        reuse, donors, pool = self._reuse, self._donors, {}
        for i, ((call, ins, outs, expected, free, general), node) in enumerate(zip(self._steps, self.graph.nodes)):
            step = reuse.get(i) if reuse else None
            if step is not None and self._into_donor(step, node, ins, outs, env, pool):
                pass
            elif general:
                results = call([env[k] for k in ins])
                for slot, array in zip(outs, results):
                    env[slot] = array
            else:
                result = call(*[env[k] for k in ins])
                if len(outs) == 1:
                    if type(result) is tuple:  # unbind/split into one piece
                        result = result[0]
                    if type(result) is not np.ndarray or result.dtype != expected[0]:
                        result = _storage_view(node.outputs[0], result)
                    env[outs[0]] = result
                elif outs:
                    for slot, value, array, dtype in zip(outs, node.outputs, result, expected):
                        env[slot] = array if type(array) is np.ndarray and array.dtype == dtype else \
                            _storage_view(value, array)
            for slot in free:
                if slot in donors:
                    pool[slot] = env[slot]
                env[slot] = None
        return [env[k] for k in self._outputs]

    def _into_donor(self, step, node, ins, outs, env, pool):
        """Run ``node`` into its donor's memory; False (nothing run) when that memory does not fit."""
        donor, write = step
        source = pool.pop(donor, None)
        if source is None:
            source = env[donor]  # a ufunc taking the buffer of an input it reads for the last time
        buf = self._plan.buffer(source, node.outputs[0])
        if buf is None:
            return False
        write([env[i] for i in ins], buf)
        env[outs[0]] = buf
        return True


def _reuse_steps(graph, slots):
    """(plan, node index -> (donor slot, out call), donor slots) from ``graph.memory_plan``'s buffer reuse."""
    plan = getattr(graph, "memory_plan", None)
    if plan is None or not plan.reuse or len(plan.frees) != len(graph.nodes):
        return None, {}, frozenset()  # no plan, or one made for another version of the graph
    from .passes.memory_plan import out_call
    reuse = {}
    for i, donor in plan.reuse.items():
        node = graph.nodes[i]
        write = out_call(node) if donor in slots and not node.dynamic else None
        if write is not None:
            reuse[i] = (slots[donor], write)
    return plan, reuse, frozenset(donor for donor, _ in reuse.values())


def _dynamic_call(kernel, attrs, dynamic):
    """``kernel`` with the fixed ``attrs`` bound and the ``dynamic`` ones (optimizer lr, step) read per call."""
    fixed = {name: value for name, value in attrs.items() if name not in dynamic}
    getters = tuple(dynamic.items())

    def call(*arrays):
        return kernel(*arrays, **fixed, **{name: get() for name, get in getters})
    return call


def _general_call(node, arrays):
    """A node with bfloat16 values: the reference call (dynamic attributes refreshed first)."""
    if node.dynamic:
        traced = node.attrs
        node.attrs = dict(traced, **{name: get() for name, get in node.dynamic.items()})
        try:
            return call_node(node, arrays)
        finally:
            node.attrs = traced
    return call_node(node, arrays)
