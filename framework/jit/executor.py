"""The executor: replays a graph as a flat list of prebound kernel calls, with no autograd bookkeeping.

Values live in a list indexed by slot; each step reads its input slots, calls its kernel (attributes bound
once, dynamic ones such as an optimizer's lr re-read per call) and stores its outputs. A value's slot is cleared
after its last use, so buffers die as early as the graph allows (this is the liveness part of
``graph.memory_plan`` when the pass pipeline attached one, and works the same without it).
"""
import functools

import numpy as np

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

    @staticmethod
    def _step(node, slots, free):
        ins = tuple(slots[v] for v in node.inputs)
        outs = tuple(slots[v] for v in node.outputs)
        bf16 = any(v.dtype is _dtype.bfloat16 for v in list(node.inputs) + node.outputs)
        if bf16 or node.dynamic:
            call = functools.partial(_general_call, node)
            return call, ins, outs, None, free, True
        device = node.outputs[0].device if node.outputs else node.inputs[0].device
        kernel = kernel_for(device, node.kernel)
        call = functools.partial(kernel, **node.attrs) if node.attrs else kernel
        expected = tuple(v.dtype.np for v in node.outputs)
        return call, ins, outs, expected, free, False

    def run(self, arrays):
        """Outputs of the graph for input ``arrays``."""
        env = self._base.copy()
        env[:self._n_inputs] = arrays
        for (call, ins, outs, expected, free, general), node in zip(self._steps, self.graph.nodes):
            if general:
                results = call([env[i] for i in ins])
                for slot, array in zip(outs, results):
                    env[slot] = array
            else:
                result = call(*[env[i] for i in ins])
                if len(outs) == 1:
                    if type(result) is tuple:  # unbind/split into one piece
                        result = result[0]
                    if type(result) is not np.ndarray or result.dtype != expected[0]:
                        result = _storage_view(node.outputs[0], result)
                    env[outs[0]] = result
                elif outs:
                    for slot, value, array in zip(outs, node.outputs, result):
                        env[slot] = _storage_view(value, array)
            for slot in free:
                env[slot] = None
        return [env[i] for i in self._outputs]


def _general_call(node, arrays):
    """A node with bfloat16 values or dynamic attributes: the reference call, attributes refreshed first."""
    if node.dynamic:
        traced = node.attrs
        node.attrs = dict(traced, **{name: get() for name, get in node.dynamic.items()})
        try:
            return call_node(node, arrays)
        finally:
            node.attrs = traced
    return call_node(node, arrays)
